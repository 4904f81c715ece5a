package changes

import (
	"fmt"
	"testing"

	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/internal/testutil"
)

// yearOfRuns is a year of daily runs of a 200-row suite: 365 head
// records of 200 rows, one row in four with a step of 8-30% somewhere,
// the rest flat, on 1-3% noise.
func yearOfRuns() *history.History {
	var rows []series
	for i := range 200 {
		s := series{key: history.Key{Package: fmt.Sprintf("example.com/m/p%d", i%10), Name: fmt.Sprintf("Bench%03d", i), Unit: "sec/op"},
			level: 1e-6 * float64(1+i%7), noise: 0.01 * float64(1+i%3)}
		if i%4 == 0 {
			s.at, s.factor = 40+(i*37)%280, 1.08+0.01*float64(i%23)
		}
		rows = append(rows, s)
	}
	return synth(365, 2026, oneEnv, rows...)
}

// BenchmarkFindYear analyses a year of daily runs of a 200-row suite
// (365 × 200 series points). The aim is at most 2 s on one core:
//
//	go test -run XXX -bench Year -benchtime 1x -cpu 1 ./history/changes/
//
// Besides wall time it reports the process's CPU time per analysis
// (cpu-s/op), which a machine loaded by other work inflates far less.
func BenchmarkFindYear(b *testing.B) {
	h := yearOfRuns()
	cpu0 := testutil.CPUTime(b)
	found := 0
	for b.Loop() {
		cs, err := Find(h, opts)
		if err != nil {
			b.Fatal(err)
		}
		found = len(cs)
	}
	b.ReportMetric(float64(found), "changes")
	b.ReportMetric((testutil.CPUTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkNewYear is what a trusted run adds to its job summary: the
// change points new since the previous run, on the same year.
func BenchmarkNewYear(b *testing.B) {
	cur := yearOfRuns()
	prev := &history.History{Records: cur.Records[:len(cur.Records)-1]}
	cpu0 := testutil.CPUTime(b)
	found := 0
	for b.Loop() {
		cs, err := New(prev, cur, opts)
		if err != nil {
			b.Fatal(err)
		}
		found = len(cs)
	}
	b.ReportMetric(float64(found), "changes")
	b.ReportMetric((testutil.CPUTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
