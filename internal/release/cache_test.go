package release

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// containerHome is where the runner mounts $RUNNER_TEMP/_github_home in a
// container action, and the HOME it gives it.
const containerHome = "/github/home/"

// imageEnv returns the variables the Dockerfile's final stage sets with ENV.
func imageEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.ReplaceAll(string(b), "\\\n", " ")
	env := map[string]string{}
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "FROM ") {
			env = map[string]string{} // only the last stage counts
		}
		rest, ok := strings.CutPrefix(line, "ENV ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	return env
}

// TestCacheRecipe checks that the caches the image uses are the ones the
// README's recipe and this repository's benchmarks workflow restore: in
// the container's HOME, named from the runner's side.
func TestCacheRecipe(t *testing.T) {
	env := imageEnv(t)
	var runnerPaths []string
	for _, name := range []string{"GOCACHE", "GOMODCACHE"} {
		p := env[name]
		rest, ok := strings.CutPrefix(p, containerHome)
		if !ok {
			t.Fatalf("Dockerfile sets %s=%q, want a path in %s (the mounted HOME)", name, p, containerHome)
		}
		runnerPaths = append(runnerPaths, "${{ runner.temp }}/_github_home/"+rest)
	}

	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range runnerPaths {
		if !strings.Contains(string(readme), "\n            "+p+"\n") {
			t.Errorf("README's actions/cache recipe does not restore %s", p)
		}
	}

	b, err := os.ReadFile(filepath.Join(root, ".github/workflows/benchmarks.yml"))
	if err != nil {
		t.Fatal(err)
	}
	wf, errs := actionlint.Parse(b)
	if len(errs) > 0 {
		t.Fatalf("parsing benchmarks.yml: %v", errs)
	}
	cacheRE := regexp.MustCompile(`^actions/cache@v\d+$`)
	for _, job := range wf.Jobs {
		cached, usesAction := "", false
		for _, s := range job.Steps {
			a, ok := s.Exec.(*actionlint.ExecAction)
			if !ok {
				continue
			}
			switch {
			case cacheRE.MatchString(a.Uses.Value):
				if in := a.Inputs["path"]; in != nil {
					cached = in.Value.Value
				}
			case a.Uses.Value == "./":
				usesAction = true
				for _, p := range runnerPaths {
					if !strings.Contains(cached, p) {
						t.Errorf("job %s: no actions/cache step before the action restores %s", job.ID.Value, p)
					}
				}
			}
		}
		if !usesAction {
			t.Errorf("job %s does not use the action", job.ID.Value)
		}
	}
}
