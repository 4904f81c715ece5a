package changes_test

import (
	"bytes"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/history/changes"
	"github.com/natsbench/natsbench-action/history/page"
)

// The trend page marks each change point where Find puts it: at the
// series point AfterIndex, with its Label.
func TestTrendPageMarksChangePoints(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)
	h := &history.History{}
	for i := range 40 {
		v := 1e-6 * (1 + 0.004*float64(i%5))
		if i >= 25 {
			v *= 1.3
		}
		h.Records = append(h.Records, history.Record{
			Schema: history.Schema, ID: fmt.Sprintf("run-%d", i), SHA: fmt.Sprintf("%07x", 0xa000000+i),
			RunTime: t0.AddDate(0, 0, i), Side: history.SideHead,
			Env:  history.Env{CPU: "cpu", GOMAXPROCS: 4, GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64"},
			Rows: []history.Row{{Package: "example.com/m", Name: "Encode", Unit: "sec/op", N: 10, Center: v, Low: v, High: v}},
		})
	}
	cs, err := changes.Find(h, changes.Options{ThresholdPct: 5})
	if err != nil || len(cs) != 1 || cs[0].AfterIndex < 23 || cs[0].AfterIndex > 27 {
		t.Fatalf("%v, %+v; want one change point near 25", err, cs)
	}
	marks := map[history.Key][]page.Mark{}
	for _, c := range cs {
		marks[c.Key] = append(marks[c.Key], page.Mark{Index: c.AfterIndex, Label: c.Label()})
	}
	var with, without bytes.Buffer
	if err := page.Render(&with, h, page.Options{Marks: marks, Generated: t0}); err != nil {
		t.Fatal(err)
	}
	if err := page.Render(&without, h, page.Options{Generated: t0}); err != nil {
		t.Fatal(err)
	}
	label := cs[0].Label()
	if !strings.Contains(html.UnescapeString(with.String()), label) {
		t.Errorf("the page does not show the mark %q", label)
	}
	if strings.Contains(html.UnescapeString(without.String()), label) {
		t.Errorf("the page without marks shows %q", label)
	}
}
