package release

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func readRoot(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImageBuildsAsCIDoes checks the claim that stands in for building
// the image (there is no Docker engine in CI): the Dockerfile compiles the
// action with scripts/build.sh, the command .ci/run runs on the same build
// context, and runs what it compiled.
func TestImageBuildsAsCIDoes(t *testing.T) {
	dockerfile := readRoot(t, "Dockerfile")
	build := regexp.MustCompile(`(?m)^RUN bash scripts/build\.sh (\S+)$`).FindAllStringSubmatch(dockerfile, -1)
	if len(build) != 1 {
		t.Fatalf("Dockerfile has %d `RUN bash scripts/build.sh OUT` lines, want 1", len(build))
	}
	out := build[0][1]
	if !strings.Contains(dockerfile, "COPY --from=build "+out+" "+out+"\n") || !strings.Contains(dockerfile, `ENTRYPOINT ["`+out+`"]`) {
		t.Errorf("the image does not run %s, the binary scripts/build.sh made", out)
	}
	bases := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(dockerfile, -1)
	if len(bases) != 2 || bases[0][1] != bases[1][1] {
		t.Errorf("Dockerfile stages FROM %v, want the same official Go image for build and runtime (cgo's libc)", bases)
	}

	ci := readRoot(t, ".ci/run")
	ctx := strings.Index(ci, "bash scripts/docker-context.sh")
	bin := strings.Index(ci, "bash scripts/build.sh")
	if ctx < 0 || bin < ctx {
		t.Error(".ci/run does not run scripts/build.sh on the context scripts/docker-context.sh makes")
	}

	for i, line := range strings.Split(readRoot(t, ".dockerignore"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "!") {
			t.Errorf(".dockerignore:%d: an exception, which scripts/docker-context.sh cannot apply", i+1)
		}
	}
}
