package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEWorkflows keeps the README's shard and weekly workflows equal to the
// files in testdata, which actionlint checks in .ci/run.
func TestREADMEWorkflows(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil || len(files) < 4 {
		t.Fatalf("workflow files %v, %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), "```yaml\n"+string(data)+"```\n") {
			t.Errorf("README.md does not show %s as it is", f)
		}
	}
}
