package changepoint

import (
	"math/rand/v2"
	"testing"

	"github.com/natsbench/natsbench-action/internal/testutil"
)

// BenchmarkYear analyses a year of daily runs of a 200-row suite: 200
// series of 365 points, drawn from every synthetic shape in turn (most of
// them with steps). The aim is at most 2 s on one core:
//
//	go test -run XXX -bench Year -benchtime 1x -cpu 1 ./changepoint/
//
// Besides wall time it reports the process's CPU time per analysis
// (cpu-s/op), which a machine loaded by other work inflates far less.
func BenchmarkYear(b *testing.B) {
	r := rand.New(rand.NewPCG(2026, 365))
	suite := make([][]Point, 200)
	for i := range suite {
		suite[i] = shapes[i%len(shapes)].generate(r, 365).points
	}
	opt := Options{MinShiftPct: 5, Seed: 1}
	cpu0 := testutil.CPUTime(b)
	b.ResetTimer()
	found := 0
	for b.Loop() {
		found = 0
		for _, s := range suite {
			c, err := Detect(s, opt)
			if err != nil {
				b.Fatal(err)
			}
			found += len(c)
		}
	}
	b.ReportMetric(float64(found), "changes")
	b.ReportMetric((testutil.CPUTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
