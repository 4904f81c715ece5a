package release

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// root is the repository's top directory, seen from this package.
const root = "../.."

const (
	testDigest = "ghcr.io/natsbench/natsbench-action@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testTag    = "ghcr.io/natsbench/natsbench-action:1.2.3"
)

// releasedImageRE is what the issue asks of a released action.yml:
// docker://ghcr.io/... by version tag or by digest.
var releasedImageRE = regexp.MustCompile(`^\s+image: '?docker://ghcr\.io/[a-z0-9-]+/natsbench-action(:\d+\.\d+\.\d+|@sha256:[0-9a-f]{64})'?$`)

// renderStep returns the release workflow's step that makes the release
// action.yml: its run script and its environment's names.
func renderStep(t *testing.T) (run string, env []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ".github/workflows/release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	wf, errs := actionlint.Parse(b)
	if len(errs) > 0 {
		t.Fatalf("parsing release.yml: %v", errs)
	}
	var found []*actionlint.Step
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			if s.ID != nil && s.ID.Value == "render" {
				found = append(found, s)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("release.yml has %d steps with id render, want 1", len(found))
	}
	r, ok := found[0].Exec.(*actionlint.ExecRun)
	if !ok || r.Run == nil {
		t.Fatal("release.yml's render step is not a run step")
	}
	if !strings.Contains(r.Run.Value, "scripts/release-action-yml.sh") {
		t.Fatalf("release.yml's render step does not run scripts/release-action-yml.sh:\n%s", r.Run.Value)
	}
	if found[0].Env != nil {
		for _, v := range found[0].Env.Vars {
			env = append(env, v.Name.Value)
		}
	}
	return r.Run.Value, env
}

// renderAsTheWorkflowDoes runs the release workflow's render step on a
// copy of main's action.yml, with each variable of the step's env set to
// image, and returns the result.
func renderAsTheWorkflowDoes(t *testing.T, image string) []byte {
	t.Helper()
	run, names := renderStep(t)
	if len(names) == 0 {
		t.Fatal("release.yml's render step takes the image from no env variable")
	}
	src, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "action.yml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	scripts, err := filepath.Abs(filepath.Join(root, "scripts"))
	if err != nil {
		t.Fatal(err)
	}
	// The step runs in the checkout's root; here that is dir, whose
	// scripts are the repository's.
	if err := os.Symlink(scripts, filepath.Join(dir, "scripts")); err != nil {
		t.Fatal(err)
	}
	// GitHub runs a step's script with bash --noprofile --norc -eo pipefail.
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", run)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for _, n := range names {
		cmd.Env = append(cmd.Env, n+"="+image)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.yml's render step: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestReleasedActionYAML(t *testing.T) {
	main, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, image := range []string{testDigest, testTag} {
		t.Run(image, func(t *testing.T) {
			got := renderAsTheWorkflowDoes(t, image)

			// Only runs.image changes, and it points at the image.
			mainLines, gotLines := strings.Split(string(main), "\n"), strings.Split(string(got), "\n")
			if len(mainLines) != len(gotLines) {
				t.Fatalf("released action.yml has %d lines, main's %d", len(gotLines), len(mainLines))
			}
			changed := 0
			for i := range mainLines {
				if mainLines[i] == gotLines[i] {
					continue
				}
				changed++
				if !releasedImageRE.MatchString(gotLines[i]) {
					t.Errorf("line %d changed to %q, which is not runs.image at docker://ghcr.io/...", i+1, gotLines[i])
				}
			}
			if changed != 1 {
				t.Errorf("%d lines differ from main's action.yml, want 1 (runs.image)", changed)
			}
			if ref, err := ImageOf(got); err != nil || ref != image {
				t.Errorf("ImageOf(released) = %q, %v; want %q", ref, err, image)
			}

			// Valid action metadata with main's inputs and outputs.
			mainMeta, gotMeta := metadata(t, main), metadata(t, got)
			if gotMeta.Runs.Using != "docker" || gotMeta.Runs.Image != "docker://"+image {
				t.Errorf("runs = %s %q, want docker %q", gotMeta.Runs.Using, gotMeta.Runs.Image, "docker://"+image)
			}
			if g, w := inputNames(gotMeta), inputNames(mainMeta); strings.Join(g, ",") != strings.Join(w, ",") {
				t.Errorf("released inputs %v, main's %v", g, w)
			}
			for id, in := range mainMeta.Inputs {
				if r := gotMeta.Inputs[id]; r == nil || r.Required != in.Required || r.Name != in.Name {
					t.Errorf("input %q: released %+v, main's %+v", id, r, in)
				}
			}
			if g, w := outputNames(gotMeta), outputNames(mainMeta); strings.Join(g, ",") != strings.Join(w, ",") {
				t.Errorf("released outputs %v, main's %v", g, w)
			}
			lintAsLocalAction(t, got, mainMeta)
		})
	}
}

// metadata parses an action.yml as actionlint does.
func metadata(t *testing.T, actionYAML []byte) *actionlint.ActionMetadata {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "action.yml"), actionYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	proj, err := actionlint.NewProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	md, _, err := actionlint.NewLocalActionsCache(proj, nil).FindMetadata("./")
	if err != nil || md == nil {
		t.Fatalf("action.yml is not action metadata: %v", err)
	}
	return md
}

func inputNames(md *actionlint.ActionMetadata) []string {
	var names []string
	for _, in := range md.Inputs {
		names = append(names, in.Name)
	}
	sort.Strings(names)
	return names
}

func outputNames(md *actionlint.ActionMetadata) []string {
	var names []string
	for _, out := range md.Outputs {
		names = append(names, out.Name)
	}
	sort.Strings(names)
	return names
}

// lintAsLocalAction runs actionlint on a workflow that uses the released
// action.yml as `uses: ./`, passing every input of main's and reading
// every output: actionlint checks the metadata (runs, image) and that
// each input and output exists.
func lintAsLocalAction(t *testing.T, actionYAML []byte, want *actionlint.ActionMetadata) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "action.yml"), actionYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	var wf strings.Builder
	wf.WriteString("on: push\njobs:\n  bench:\n    runs-on: ubuntu-latest\n    steps:\n      - id: natsbench\n        uses: ./\n        with:\n")
	for _, n := range inputNames(want) {
		wf.WriteString("          " + n + ": x\n")
	}
	wf.WriteString("      - run: echo \"$OUT\"\n        env:\n          OUT: >-\n")
	for _, n := range outputNames(want) {
		wf.WriteString("            ${{ steps.natsbench.outputs." + n + " }}\n")
	}
	wfDir := filepath.Join(dir, ".github", "workflows")
	if err := os.MkdirAll(wfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(wfDir, "use.yml")
	if err := os.WriteFile(path, []byte(wf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	proj, err := actionlint.NewProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.LintFile(path, proj)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("actionlint: %s", e.Error())
	}
}

func TestRenderRejects(t *testing.T) {
	main, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, src, image, want string
	}{
		{"latest tag", string(main), "ghcr.io/natsbench/natsbench-action:latest", "is not ghcr.io"},
		{"major tag moves", string(main), "ghcr.io/natsbench/natsbench-action:1", "is not ghcr.io"},
		{"v in tag", string(main), "ghcr.io/natsbench/natsbench-action:v1.2.3", "is not ghcr.io"},
		{"upper-case owner", string(main), "ghcr.io/NatsBench/natsbench-action:1.2.3", "is not ghcr.io"},
		{"other registry", string(main), "docker.io/natsbench/natsbench-action:1.2.3", "is not ghcr.io"},
		{"other image", string(main), "ghcr.io/natsbench/other:1.2.3", "is not ghcr.io"},
		{"short digest", string(main), "ghcr.io/natsbench/natsbench-action@sha256:0123", "is not ghcr.io"},
		{"scheme given", string(main), "docker://" + testTag, "is not ghcr.io"},
		{"quote injection", string(main), testTag + "'\nruns:", "is not ghcr.io"},
		{"no image", "runs:\n  using: 'docker'\n", testTag, "no runs.image"},
		{"javascript", "runs:\n  using: 'node24'\n  main: 'index.js'\n", testTag, "not docker"},
		{"two images", "runs:\n  using: 'docker'\n  image: 'Dockerfile'\n  image: 'Dockerfile'\n", testTag, "2 image: lines"},
		{"flow mapping", "runs: {using: docker, image: Dockerfile}\n", testTag, "must be a block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render([]byte(tc.src), tc.image)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render = %q, %v; want an error containing %q", got, err, tc.want)
			}
		})
	}
}

func TestRenderIgnoresImageKeysOutsideRuns(t *testing.T) {
	src := "inputs:\n  image:\n    description: 'not the runs one'\nruns:\n  # the image:\n  using: 'docker'\n  image: 'Dockerfile'\n  args: ['image: x']\n"
	got, err := Render([]byte(src), testTag)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(src, "  image: 'Dockerfile'", "  image: 'docker://"+testTag+"'", 1)
	if string(got) != want {
		t.Errorf("Render =\n%s\nwant\n%s", got, want)
	}
}
