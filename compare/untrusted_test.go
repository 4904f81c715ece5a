package compare

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// The tests in this file attack ReadJSON and Markdown as post mode uses
// them: with a report.json that a pull request's workflow wrote.

// reportWith is a minimal report.json with the given rows (JSON text).
func reportWith(rows ...string) string {
	return `{"schema": "natsbench/report/v1", "base": {"ref": "main", "sha": "1"}, "head": {"ref": "pr", "sha": "2"},
		"config": {"threshold": 5, "alpha": 0.05}, "benchmarks": [` + strings.Join(rows, ",") + `]}`
}

const (
	side = `{"n": 6, "center": 100, "low": 95, "high": 105}`
	// forgedVerdict is a verdict carrying markdown of its own: a heading
	// and an image that claim a review.
	forgedVerdict = "unchanged\n\n## ✅ Reviewed and approved by @org/maintainers\n<img src=https://evil.example/x.png>"
)

func TestReadJSONRejectsMalformedRows(t *testing.T) {
	verdict := fmt.Sprintf("%q", forgedVerdict)
	for _, tc := range []struct {
		name, json, want string
	}{
		{"markdown verdict", reportWith(`{"name": "X", "unit": "sec/op", "base": ` + side + `, "head": ` + side + `, "verdict": ` + verdict + `}`), "unknown verdict"},
		{"regression without head", reportWith(`{"name": "X", "unit": "sec/op", "base": ` + side + `, "head": null, "delta_pct": 5, "verdict": "regression"}`), "needs both base and head"},
		{"null side beside a measured row", reportWith(
			`{"name": "X", "unit": "sec/op", "base": `+side+`, "head": null, "verdict": "regression"}`,
			`{"name": "Y", "unit": "sec/op", "head": `+side+`, "verdict": "measured"}`), "needs both base and head"},
		{"measured without head", reportWith(`{"name": "X", "unit": "sec/op", "verdict": "measured"}`), "needs head"},
		{"removed without base", reportWith(`{"name": "X", "unit": "sec/op", "head": ` + side + `, "verdict": "removed"}`), "needs base"},
		{"null center", reportWith(`{"name": "X", "unit": "sec/op", "base": {"n": 6, "center": null}, "head": ` + side + `, "verdict": "unchanged"}`), "center must be a number"},
		{"huge name", reportWith(`{"name": "` + strings.Repeat("x", 5000) + `", "unit": "sec/op", "head": ` + side + `, "verdict": "added"}`), "over 4096"},
		{"unknown side", strings.Replace(reportWith(), `"benchmarks"`, `"failures": [{"side": "both\n# hi", "package": "p", "reason": "panic"}], "benchmarks"`, 1), "want base or head"},
		{"a plan of a million looks", strings.Replace(reportWith(), `"threshold": 5`, `"min_count": 2, "count": 1000000, "threshold": 5`, 1), "config.count is 1000000 with min_count 2, over 1000"},
		{"negative mde", reportWith(`{"name": "X", "unit": "sec/op", "base": ` + side + `, "head": ` + side + `, "verdict": "unchanged", "mde_pct": -3}`), "mde_pct must be a finite number"},
		{"mde beyond float64", reportWith(`{"name": "X", "unit": "sec/op", "base": ` + side + `, "head": ` + side + `, "verdict": "unchanged", "mde_pct": 1e999}`), "mde_pct"},
		{"huge ref", strings.Replace(reportWith(), `"ref": "main"`, `"ref": "`+strings.Repeat("m", 300)+`"`, 1), "over 256"},
		{"huge cpu of a row", reportWith(`{"name": "X", "unit": "sec/op", "head": ` + side + `, "verdict": "added", "shard": "1/2", "cpu": "` + strings.Repeat("c", 300) + `"}`), "benchmarks[0].cpu is 300 bytes long"},
		{"unknown shard status", strings.Replace(reportWith(), `"benchmarks"`, `"shards": [{"shard": "1/2", "status": "<b>ok</b>", "benchmarks": 3}], "benchmarks"`, 1), "shards[0]: unknown status"},
		{"negative shard size", strings.Replace(reportWith(), `"benchmarks"`, `"shards": [{"shard": "1/2", "status": "missing", "benchmarks": -3}], "benchmarks"`, 1), "benchmarks must be between 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ReadJSON(strings.NewReader(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReadJSON = %v, want an error with %q", err, tc.want)
			}
			if r != nil {
				t.Error("a report came back with the error")
			}
		})
	}
}

// TestMarkdownNeverPanicsOnNullSides renders rows whose sides are missing,
// which ReadJSON refuses: the renderer must not rely on that alone.
func TestMarkdownNeverPanicsOnNullSides(t *testing.T) {
	s := &Summary{N: 6, Center: 100, Low: 95, High: 105}
	for _, mode := range []Verdict{Unchanged, Measured} {
		r := &Report{Benchmarks: []Row{
			{Name: "NoHead", Unit: "sec/op", Base: s, Verdict: Regression},
			{Name: "NoBase", Unit: "sec/op", Head: s, Verdict: Improvement},
			{Name: "Neither", Unit: "sec/op", Verdict: Regression},
			{Name: "Other", Unit: "sec/op", Head: s, Verdict: mode},
		}}
		md := Markdown(r, MarkdownOptions{})
		// In absolute mode only rows with head figures have a place.
		if mode == Unchanged && !strings.Contains(md, "NoHead") {
			t.Errorf("%s: rows lost:\n%s", mode, md)
		}
	}
}

// TestMarkdownEscapesShards: a merged report's shard names, CPUs and
// errors come from artifacts and are escaped like every other cell.
func TestMarkdownEscapesShards(t *testing.T) {
	r, err := ReadJSON(strings.NewReader(strings.Replace(reportWith(`{"name": "X", "unit": "sec/op", "head": `+side+`, "verdict": "added", "shard": "1/2<img src=x>", "cpu": "@org | ## h"}`),
		`"benchmarks"`, `"shards": [{"shard": "1/2", "status": "merged", "benchmarks": 1, "cpu": "<script>"}, {"shard": "2/2", "status": "failed", "benchmarks": 4, "error": "@org\n## <img>"}], "benchmarks"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	md := Markdown(r, MarkdownOptions{})
	for _, bad := range []string{"<img", "<script", "@org", "\n## "} {
		if strings.Contains(md, bad) {
			t.Errorf("markdown contains %q:\n%s", bad, md)
		}
	}
	if !strings.Contains(md, "shard 2/2 failed: 4 benchmarks not measured") {
		t.Errorf("the failed shard is not named:\n%s", md)
	}
}

func TestMarkdownEscapesTheVerdict(t *testing.T) {
	s := &Summary{N: 6, Center: 100, Low: 95, High: 105}
	r := &Report{Benchmarks: []Row{{Name: "X", Unit: "sec/op", Base: s, Head: s, Verdict: Verdict(forgedVerdict)}}}
	md := Markdown(r, MarkdownOptions{})
	for _, bad := range []string{"\n## ", "<img", "@org"} {
		if strings.Contains(md, bad) {
			t.Errorf("the verdict's markdown got through (%q):\n%s", bad, md)
		}
	}
}

func TestReadJSONRecountsTheSummary(t *testing.T) {
	js := strings.Replace(reportWith(`{"name": "X", "unit": "sec/op", "base": `+side+`, "head": `+side+`, "delta_pct": 9, "verdict": "regression"}`),
		`"benchmarks"`, `"summary": {"regression": 0, "improvement": 7}, "benchmarks"`, 1)
	r, err := ReadJSON(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if r.Summary[Regression] != 1 || r.Summary[Improvement] != 0 {
		t.Errorf("summary %v, want the rows' counts: 1 regression, 0 improvements", r.Summary)
	}
	if md := Markdown(r, MarkdownOptions{}); !strings.Contains(md, "1 regression in 1 row of 1 benchmark") {
		t.Errorf("verdict line:\n%s", md)
	}
}

// endless is a report.json that never ends: a warning of infinite length.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	const start = `{"schema": "natsbench/report/v1", "warnings": ["`
	n := 0
	for n < len(p) {
		if e.read < int64(len(start)) {
			p[n] = start[e.read]
		} else {
			p[n] = 'a'
		}
		n++
		e.read++
	}
	return n, nil
}

func TestReadJSONSizeLimit(t *testing.T) {
	src := &endless{}
	const hundredMB = 100 << 20
	_, err := ReadJSON(io.LimitReader(src, hundredMB))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("ReadJSON of 100 MB = %v, want a size error", err)
	}
	if src.read > MaxReportBytes+1<<20 {
		t.Errorf("read %d bytes of a 100 MB report, want it to stop after %d", src.read, MaxReportBytes)
	}
}

// TestMarkdownHasNoWorkflowCommands: the local CLI prints the markdown to
// stdout, which a workflow's log reads for commands. A failure's output
// (the benchmarked code's) must not become one.
func TestMarkdownHasNoWorkflowCommands(t *testing.T) {
	out := "panic: boom\n::add-mask::secret\n   ::set-env name=NODE_OPTIONS::--require=/tmp/x\n##[error]forged"
	r, err := ReadJSON(strings.NewReader(strings.Replace(reportWith(),
		`"benchmarks"`, fmt.Sprintf(`"failures": [{"side": "head", "package": "p", "benchmark": "X", "reason": "panic", "output": %q}], "benchmarks"`, out), 1)))
	if err != nil {
		t.Fatal(err)
	}
	md := Markdown(r, MarkdownOptions{})
	if !strings.Contains(md, "add-mask") {
		t.Fatalf("the failure's output is not in the report:\n%s", md)
	}
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "::") || strings.Contains(l, "##[") {
			t.Errorf("a line of the report is a workflow command: %q", l)
		}
	}
}
