package page

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/history"
)

func TestRenderRealistic(t *testing.T) {
	h := synthetic(t, realistic, 90, 60, 40)
	var buf bytes.Buffer
	err := Render(&buf, h, Options{Repository: "natsbench/natsbench-action", Generated: end.Add(time.Hour),
		Marks: map[history.Key][]Mark{stepKey: {{Index: 40, Label: "+18% change point"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("PAGE_OUT"); p != "" {
		os.WriteFile(p, buf.Bytes(), 0o644)
	}
}
