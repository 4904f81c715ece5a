package app

import (
	"bufio"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/runner"
)

// inputs is a map-backed source of settings that fails the test on a
// setting the code should not read.
func inputs(t *testing.T, m map[string]string) func(string) string {
	t.Helper()
	known := map[string]bool{}
	for _, name := range actionInputs(t) {
		known[name] = true
	}
	return func(name string) string {
		if !known[name] {
			t.Errorf("read setting %q, which action.yml does not declare", name)
		}
		return m[name]
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig(fromInput, inputs(t, nil))
	if err != nil {
		t.Fatalf("parseConfig(no inputs): %v", err)
	}
	want := Config{
		Mode:             ModeRun,
		WorkingDirectory: ".",
		Run: runner.Config{
			Packages:  []string{"./..."},
			Bench:     ".",
			Count:     runner.DefaultCount,
			MinCount:  runner.DefaultCount / 2, // sequential
			Benchtime: runner.DefaultBenchtime,
			Timeout:   runner.DefaultTimeout,
			NATS:      true,
		},
		Compare:       compare.Options{Threshold: 5, Alpha: 0.05, Plan: compare.Plan{MinRounds: runner.DefaultCount / 2, MaxRounds: runner.DefaultCount}},
		OutputDir:     "natsbench-results",
		Comment:       true,
		History:       HistoryAuto,
		HistoryBranch: "natsbench-history",
		HistoryKeep:   500,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestParseConfigValues(t *testing.T) {
	c, err := parseConfig(fromInput, inputs(t, map[string]string{
		"github-token":       " ghs_secret ",
		"packages":           "./a/...\n./b, ./c",
		"bench":              "^BenchmarkX$",
		"count":              "7",
		"benchtime":          "500x",
		"timeout":            "90s",
		"baseline":           "v1.2.3",
		"threshold":          "2.5",
		"alpha":              "0.01",
		"comment":            "False",
		"comment-key":        "linux",
		"nats":               "false",
		"fail-on-regression": "true",
		"mode":               "post",
		"report":             "results",
		"history":            "Read",
		"history-branch":     "perf/history",
		"history-keep":       "30",
	}))
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	if c.Token != "ghs_secret" || !reflect.DeepEqual(c.Run.Packages, []string{"./a/...", "./b", "./c"}) ||
		c.Run.Count != 7 || c.Run.Benchtime != "500x" || c.Run.Timeout != 90*time.Second || c.Baseline != "v1.2.3" ||
		c.Compare.Threshold != 2.5 || c.Compare.Alpha != 0.01 || c.Comment || c.CommentKey != "linux" || c.Run.NATS ||
		!c.FailOnRegression || c.Mode != ModePost || c.Report != "results" ||
		c.History != HistoryRead || c.HistoryBranch != "perf/history" || c.HistoryKeep != 30 {
		t.Errorf("parsed %+v", c)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		want []string // every one must be in the error
	}{
		{"alpha too big", map[string]string{"alpha": "2"}, []string{`input "alpha" must be between 0 and 1, got 2`}},
		{"alpha zero", map[string]string{"alpha": "0"}, []string{`input "alpha" must be between 0 and 1`}},
		{"alpha text", map[string]string{"alpha": "high"}, []string{`input "alpha" must be a number, got "high"`}},
		{"count word", map[string]string{"count": "zero"}, []string{`input "count" must be a positive integer, got "zero"`}},
		{"count zero", map[string]string{"count": "0"}, []string{`input "count" must be a positive integer, got 0`}},
		{"bench regexp", map[string]string{"bench": "("}, []string{`input "bench" is not a valid regular expression: error parsing regexp: missing closing ): ` + "`(`"}},
		{"benchtime", map[string]string{"benchtime": "fast"}, []string{`input "benchtime" must be a positive duration such as 100ms or a count such as 100x, got "fast"`}},
		{"benchtime count", map[string]string{"benchtime": "0x"}, []string{`input "benchtime" must be a positive iteration count`}},
		{"timeout", map[string]string{"timeout": "soon"}, []string{`input "timeout" must be a duration such as 10m, got "soon"`}},
		{"threshold", map[string]string{"threshold": "-1"}, []string{`input "threshold" must be a positive percentage, got -1`}},
		{"bool", map[string]string{"comment": "yes"}, []string{`input "comment" must be true or false, got "yes"`}},
		{"mode", map[string]string{"mode": "dry-run"}, []string{`input "mode" must be "run", "post" or "merge", got "dry-run"`}},
		{"merge without report", map[string]string{"mode": "merge"}, []string{`input "report" is required when mode is "merge"`}},
		{"shard form", map[string]string{"shard": "2"}, []string{`input "shard" must be i/n such as 2/4, got "2"`}},
		{"shard range", map[string]string{"shard": "5/4"}, []string{`input "shard" must be i/n with 1 <= i <= n <= 256, got "5/4"`}},
		{"shard zero", map[string]string{"shard": "0/4"}, []string{`input "shard" must be i/n with 1 <= i <= n`}},
		{"shard in post mode", map[string]string{"mode": "post", "report": "r", "shard": "1/2"}, []string{`input "shard" applies to mode "run" only, not "post"`}},
		{"post without report", map[string]string{"mode": "post"}, []string{`input "report" is required when mode is "post"`}},
		{"baseline option", map[string]string{"baseline": "--upload-pack=x"}, []string{`input "baseline" must be a commit, branch or tag`}},
		{"baseline refspec", map[string]string{"baseline": "main:refs/heads/evil"}, []string{`input "baseline" must be a commit, branch or tag`}},
		{"package option", map[string]string{"packages": "./... -exec=sh"}, []string{`input "packages" pattern "-exec=sh" must not start with '-'`}},
		{"several", map[string]string{"alpha": "2", "count": "zero"}, []string{`input "alpha"`, `input "count"`}},
		{"history", map[string]string{"history": "write"}, []string{`input "history" must be "auto", "read" or "off", got "write"`}},
		{"history-keep", map[string]string{"history-keep": "0"}, []string{`input "history-keep" must be a positive number of runs, got 0`}},
		{"history-keep word", map[string]string{"history-keep": "all"}, []string{`input "history-keep" must be a positive integer, got "all"`}},
		{"history-branch option", map[string]string{"history-branch": "--upload-pack=x"}, []string{`input "history-branch" must be a branch name`}},
		{"history-branch refspec", map[string]string{"history-branch": "main:refs/heads/x"}, []string{`input "history-branch" must be a branch name`}},
		{"history-branch dots", map[string]string{"history-branch": "a/../b"}, []string{`input "history-branch" must be a branch name`}},
		{"history-branch lock", map[string]string{"history-branch": "h.lock"}, []string{`input "history-branch" must be a branch name`}},
		{"min-count above count", map[string]string{"count": "10", "min-count": "11"}, []string{`input "min-count" must be between 2 and count (10), got 11`}},
		{"min-count one", map[string]string{"count": "10", "min-count": "1"}, []string{`input "min-count" must be between 2 and count (10), got 1`}},
		{"min-count word", map[string]string{"min-count": "few"}, []string{`input "min-count" must be a positive integer, got "few"`}},
		{"min-count negative", map[string]string{"min-count": "-3"}, []string{`input "min-count" must be between 2 and count`}},
		{"sequential count", map[string]string{"count": "5000", "min-count": "10"}, []string{`input "count" must be at most 1000 when min-count is below it, got 5000`}},
		{"time-budget text", map[string]string{"count": "40", "min-count": "10", "time-budget": "soon"}, []string{`input "time-budget" must be a duration such as 10m, got "soon"`}},
		{"time-budget negative", map[string]string{"count": "40", "min-count": "10", "time-budget": "-5m"}, []string{`input "time-budget" must be a positive duration, got -5m0s`}},
		{"time-budget with fixed rounds", map[string]string{"time-budget": "5m", "min-count": "20"}, []string{`input "time-budget" applies only when min-count is below count`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(fromInput, inputs(t, tc.in))
			if err == nil {
				t.Fatalf("parseConfig(%v) succeeded, want an error", tc.in)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// TestShardComment: a shard of several comments only when asked; a whole
// run or a shard 1/1 comments by default.
func TestShardComment(t *testing.T) {
	for _, tc := range []struct {
		shard, comment string
		want           bool
	}{
		{"", "", true},
		{"1/1", "", true},
		{"2/4", "", false},
		{"2/4", "true", true},
		{"", "false", false},
	} {
		c, err := parseConfig(fromInput, inputs(t, map[string]string{"shard": tc.shard, "comment": tc.comment}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Comment != tc.want {
			t.Errorf("shard %q comment %q: Comment = %v, want %v", tc.shard, tc.comment, c.Comment, tc.want)
		}
	}
	c, err := parseConfig(fromInput, inputs(t, map[string]string{"shard": "3/4"}))
	if err != nil || c.Run.Shard != (runner.Shard{Index: 3, Count: 4}) {
		t.Errorf("shard 3/4: %+v, %v", c.Run.Shard, err)
	}
	c, err = parseConfig(fromInput, inputs(t, map[string]string{"mode": "merge", "report": "shards/*\nmore, other"}))
	if err != nil || !reflect.DeepEqual(c.Shards, []string{"shards/*", "more", "other"}) {
		t.Errorf("merge report: %q, %v", c.Shards, err)
	}
}

// TestParseConfigSequential: min-count below count makes a sequential
// run, whose plan the comparison and the report's record share.
func TestParseConfigSequential(t *testing.T) {
	c, err := parseConfig(fromInput, inputs(t, map[string]string{"count": "40", "min-count": "10", "time-budget": "8m"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Run.Count != 40 || c.Run.MinCount != 10 || c.Run.TimeBudget != 8*time.Minute ||
		c.Compare.Plan != (compare.Plan{MinRounds: 10, MaxRounds: 40}) {
		t.Errorf("parsed run %+v, plan %+v", c.Run, c.Compare.Plan)
	}
	if rec := c.record(); rec.MinCount != 10 || rec.Count != 40 || rec.TimeBudget != "8m0s" {
		t.Errorf("record %+v", rec)
	}
	// min-count equal to count is the fixed design.
	c, err = parseConfig(fromInput, inputs(t, map[string]string{"count": "12", "min-count": "12"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Compare.Plan.Sequential() || c.record().MinCount != 0 {
		t.Errorf("min-count = count: plan %+v, record %+v, want the fixed design", c.Compare.Plan, c.record())
	}
}

func TestFlagErrorsNameTheFlag(t *testing.T) {
	_, err := parseConfig(fromFlag, func(s string) string {
		if s == "alpha" {
			return "2"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "flag -alpha must be between 0 and 1") {
		t.Errorf("got %v, want an error naming flag -alpha", err)
	}
}

// actionInputs returns the inputs action.yml declares, in order.
func actionInputs(t *testing.T) []string {
	t.Helper()
	var names []string
	for name := range actionDefaults(t) {
		names = append(names, name)
	}
	return names
}

// actionDefaults reads the inputs and their defaults from action.yml. A
// line scan suffices for the file's flat, two-level layout.
func actionDefaults(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defaults := map[string]string{}
	section, input := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(strings.TrimSpace(line), "#"):
		case !strings.HasPrefix(line, " "):
			section = strings.TrimSuffix(line, ":")
		case section == "inputs" && strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   "):
			input = strings.TrimSuffix(strings.TrimSpace(line), ":")
			defaults[input] = ""
		case section == "inputs" && strings.HasPrefix(strings.TrimSpace(line), "default:"):
			v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "default:"))
			defaults[input] = strings.Trim(v, `'"`)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return defaults
}

// TestActionDefaults keeps action.yml's defaults equal to the code's, so
// the action and `go run .` behave alike.
func TestActionDefaults(t *testing.T) {
	got := actionDefaults(t)
	want := map[string]string{
		"github-token":       "${{ github.token }}",
		"mode":               "run",
		"report":             "",
		"working-directory":  DefaultWorkingDirectory,
		"packages":           DefaultPackages,
		"bench":              DefaultBench,
		"count":              strconv.Itoa(runner.DefaultCount),
		"benchtime":          runner.DefaultBenchtime,
		"timeout":            "10m",
		"baseline":           "",
		"threshold":          strconv.FormatFloat(DefaultThreshold, 'g', -1, 64),
		"alpha":              strconv.FormatFloat(DefaultAlpha, 'g', -1, 64),
		"output-dir":         DefaultOutputDir,
		"comment":            "",
		"shard":              "",
		"comment-key":        "",
		"matrix":             "${{ toJSON(matrix) }}",
		"nats":               "true",
		"fail-on-regression": "false",
		"history":            string(DefaultHistory),
		"history-branch":     DefaultHistoryBranch,
		"history-keep":       strconv.Itoa(DefaultHistoryKeep),
		"min-count":          "",
		"time-budget":        "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("action.yml inputs and defaults:\n got %v\nwant %v", got, want)
	}
	if d, _ := time.ParseDuration(got["timeout"]); d != DefaultTimeout {
		t.Errorf("action.yml timeout %q, code %s", got["timeout"], DefaultTimeout)
	}
}

func TestBenchEnvDropsSecrets(t *testing.T) {
	got := benchEnv([]string{
		"PATH=/usr/bin",
		"INPUT_GITHUB-TOKEN=ghs_x",
		"INPUT_COUNT=5",
		"ACTIONS_RUNTIME_TOKEN=abc",
		"ACTIONS_ID_TOKEN_REQUEST_URL=https://x",
		"GITHUB_TOKEN=ghs_x",
		"MY_COPY=ghs_x",
		"GITHUB_SHA=deadbeef",
	}, "ghs_x")
	want := []string{"PATH=/usr/bin", "GITHUB_SHA=deadbeef"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("benchEnv = %v, want %v", got, want)
	}
}
