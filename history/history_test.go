package history

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/compare"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func record(tb testing.TB, i int, env Env, rows ...Row) Record {
	tb.Helper()
	if len(rows) == 0 {
		rows = []Row{{Package: "example.com/m/p", Name: "BenchmarkX", Unit: "sec/op", N: 10, Center: 1e-6, Low: 0.9e-6, High: 1.1e-6}}
	}
	return Record{
		Schema: Schema, ID: fmt.Sprintf("run-%d-head", i), SHA: fmt.Sprintf("%040x", i+1),
		RunTime: now.AddDate(0, 0, -100+i), CommitTime: now.AddDate(0, 0, -100+i).Add(-time.Hour),
		Ref: "refs/heads/main", Event: "schedule", Side: SideHead, Env: env, Count: 10, Benchtime: "1s", Rows: rows,
	}
}

var env1 = Env{CPU: "AMD EPYC 7763", GOMAXPROCS: 4, GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64"}

func TestAppendLoad(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		added, err := Append(dir, record(t, i, env1), 0, now)
		if err != nil || !added {
			t.Fatalf("append %d: added %v, err %v", i, added, err)
		}
	}
	// A retried write appends nothing.
	if added, err := Append(dir, record(t, 2, env1), 0, now); err != nil || added {
		t.Fatalf("append again: added %v, err %v", added, err)
	}
	h, warns, err := Load(dir, now)
	if err != nil || len(warns) != 0 {
		t.Fatalf("load: %v %v", err, warns)
	}
	if len(h.Records) != 5 {
		t.Fatalf("%d records, want 5", len(h.Records))
	}
	for i, r := range h.Records {
		if r.ID != fmt.Sprintf("run-%d-head", i) {
			t.Errorf("record %d is %s", i, r.ID)
		}
	}
	want := record(t, 3, env1)
	if got := h.Records[3]; got.SHA != want.SHA || !got.RunTime.Equal(want.RunTime) || got.Rows[0] != want.Rows[0] {
		t.Errorf("record 3 read back as %+v", got)
	}
}

func TestRetentionKeepsNewest(t *testing.T) {
	dir := t.TempDir()
	for i := range 40 {
		if _, err := Append(dir, record(t, i*2, env1), 25, now); err != nil {
			t.Fatal(err)
		}
	}
	h, warns, err := Load(dir, now)
	if err != nil || len(warns) != 0 {
		t.Fatalf("load: %v %v", err, warns)
	}
	if len(h.Records) != 25 || h.Records[0].ID != "run-30-head" || h.Records[24].ID != "run-78-head" {
		t.Fatalf("kept %d records, %s..%s", len(h.Records), h.Records[0].ID, h.Records[len(h.Records)-1].ID)
	}
	files, _ := os.ReadDir(filepath.Join(dir, RecordsDir))
	for _, f := range files {
		if f.Name() < "2026-09" {
			t.Errorf("file %s is left with no record in it", f.Name())
		}
	}
}

func TestLoadSkipsBadInputKeepsGood(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		if _, err := Append(dir, record(t, i, env1), 0, now); err != nil {
			t.Fatal(err)
		}
	}
	month := record(t, 0, env1).RunTime.Format("2006-01") + ".jsonl"
	good, err := os.ReadFile(filepath.Join(dir, RecordsDir, month))
	if err != nil {
		t.Fatal(err)
	}
	absurd := record(t, 50, env1)
	absurd.Rows[0].Center = 1e300
	future := record(t, 51, env1)
	future.RunTime = now.AddDate(1, 0, 0)
	unknown := record(t, 52, env1)
	unknown.Schema = "natsbench/history/v9"
	hostile := record(t, 53, env1)
	hostile.ID = "x\n::error::"
	inverted := record(t, 54, env1)
	inverted.Rows[0].Low = 2e-6
	var lines []string
	for _, r := range []Record{absurd, future, unknown, hostile, inverted} {
		b, _ := json.Marshal(r)
		lines = append(lines, string(b))
	}
	lines = append(lines, `{"schema": "natsbench/history/v1", "rows": [[1,2]]}`, "not json at all", strings.Repeat("x", MaxLineBytes+10))
	b := append(good, []byte(strings.Join(lines, "\n")+"\n")...)
	if err := os.WriteFile(filepath.Join(dir, RecordsDir, month), b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A file too large, one with another name, and a symlink.
	big := filepath.Join(dir, RecordsDir, "2025-01.jsonl")
	if err := os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, RecordsDir, "evil.txt"), []byte("x"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(dir, RecordsDir, "2024-01.jsonl"))

	h, warns, err := Load(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Records) != 3 {
		t.Errorf("%d records kept, want the 3 good ones", len(h.Records))
	}
	text := fmt.Sprint(warns)
	for _, want := range []string{"not a measurement", "run_time", "schema \"natsbench/history/v9\"", "id \"x\\n::error::\"",
		"does not hold its center", "not a record", "over 4194304 bytes", "2025-01.jsonl skipped: 33554433 bytes",
		"evil.txt", "2024-01.jsonl skipped: not a regular file"} {
		if !strings.Contains(text, want) {
			t.Errorf("no warning says %q in:\n%s", want, strings.ReplaceAll(text, "} {", "}\n{"))
		}
	}
	// Retention after bad lines keeps the bad lines it cannot read.
	if _, err := Append(dir, record(t, 60, env1), 2, now); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(filepath.Join(dir, RecordsDir, month))
	if err != nil || !strings.Contains(string(after), "not json at all") {
		t.Errorf("pruning dropped lines it could not read (err %v)", err)
	}
}

func TestSeriesBreaksOnEnvironment(t *testing.T) {
	h := &History{}
	env2 := env1
	env2.GoVersion = "go1.27.0"
	for i := range 6 {
		e := env1
		if i >= 4 {
			e = env2
		}
		r := record(t, i, e)
		r.Rows[0].Center = float64(i + 1)
		r.Rows[0].Low, r.Rows[0].High = r.Rows[0].Center, r.Rows[0].Center
		h.Records = append(h.Records, r)
	}
	base := record(t, 9, env1)
	base.Side = SideBase
	h.Records = append(h.Records, base)
	s := h.Series(SideHead)
	if len(s) != 1 || len(s[0].Points) != 6 {
		t.Fatalf("series %+v", s)
	}
	if b := s[0].Breaks(); len(b) != 1 || b[0] != 4 {
		t.Errorf("breaks %v, want [4]", b)
	}
	if got := s[0].Last(3).Points[0].Center; got != 4 {
		t.Errorf("Last(3) starts at %v", got)
	}
}

func TestSparkline(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want string
	}{
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8}, "▁▂▃▄▅▆▇█"},
		{[]float64{5, 5, 5}, "▄▄▄"},
		{nil, ""},
	} {
		if got := Sparkline(tc.in); got != tc.want {
			t.Errorf("Sparkline(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFromReport(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	rep := &compare.Report{
		Head:        compare.Ref{Ref: "main", SHA: strings.Repeat("a", 40)},
		Base:        compare.Ref{Ref: "v1", SHA: strings.Repeat("b", 40)},
		Config:      compare.Config{Count: 10, Benchtime: "1s"},
		Environment: compare.Environment{CPU: "cpu", GOMAXPROCS: 2, GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64"},
		Benchmarks: []compare.Row{
			{Package: "p", Name: "BenchmarkA", Unit: "sec/op", Base: &compare.Summary{N: 10, Center: 2, Low: 1, High: 3}, Head: &compare.Summary{N: 10, Center: 1, Low: 0.5, High: 1.5}, DeltaPct: f(-50)},
			{Package: "p", Name: "BenchmarkGone", Unit: "sec/op", Base: &compare.Summary{N: 10, Center: 2, Low: 1, High: 3}, Verdict: compare.Removed},
		},
	}
	rec, err := FromReport(rep, SideHead, Meta{ID: "1-1-head", RunTime: now, Event: "push"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Validate(now); err != nil {
		t.Fatal(err)
	}
	if rec.SHA != rep.Head.SHA || len(rec.Rows) != 1 || rec.Rows[0].Center != 1 || rec.Ref != "main" {
		t.Errorf("record %+v", rec)
	}
	// Too few samples for an interval: the center is kept.
	rep.Benchmarks[0].Head = &compare.Summary{N: 3, Center: 1, Low: math.Inf(-1), High: math.Inf(1)}
	rec, err = FromReport(rep, SideHead, Meta{ID: "1-1-head", RunTime: now, Event: "push"})
	if err != nil || len(rec.Rows) != 1 || rec.Rows[0].Low != 1 || rec.Rows[0].High != 1 || rec.Validate(now) != nil {
		t.Errorf("a row without an interval became %+v (err %v)", rec.Rows, err)
	}
	rep.Benchmarks = rep.Benchmarks[1:]
	rec, _ = FromReport(rep, SideHead, Meta{ID: "1-1-head", RunTime: now, Event: "push"})
	if err := rec.Validate(now); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Errorf("a record with no rows validates: %v", err)
	}
}

func TestRowUnmarshalRefusesBadFields(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[1,"n","u",1,1,1,1]`, "row field 1 must be a string"},
		{`["p","n","u",1.5,1,1,1]`, "row field 4 must be a whole number"},
		{`["p","n","u",1,"1",1,1]`, "row field 5 must be a number"},
		{`["p","n","u",1,1,1,1,7]`, "row field 8 must be a string"},
		{`{"p":1}`, "a row must be an array"},
	} {
		var r Row
		if err := json.Unmarshal([]byte(tc.in), &r); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.in, err, tc.want)
		}
	}
	var r Row
	if err := json.Unmarshal([]byte(`["p","n","u",3,1,0.5,2,"cpu"]`), &r); err != nil || r != (Row{"p", "n", "u", 3, 1, 0.5, 2, "cpu"}) {
		t.Errorf("a good row read as %+v, %v", r, err)
	}
}
