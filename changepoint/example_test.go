package changepoint_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/natsbench/natsbench-action/changepoint"
)

// A benchmark at about 100 ns/op gets 12% slower at run 40, on one runner
// type; a second runner type, 30% slower, joins at run 60 and is never
// compared with the first.
func ExampleDetect() {
	r := rand.New(rand.NewPCG(1, 2))
	var points []changepoint.Point
	for i := range 100 {
		level, env := 100.0, "cpuA/go1.26/4"
		if i >= 40 {
			level = 112
		}
		if i >= 60 && i%2 == 1 {
			level, env = level*1.3, "cpuB/go1.26/4"
		}
		points = append(points, changepoint.Point{Value: level * (1 + 0.02*r.NormFloat64()), Env: env})
	}
	changes, err := changepoint.Detect(points, changepoint.Options{MinShiftPct: 5, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range changes {
		fmt.Printf("runs %d→%d: %+.0f%% [%+.0f%%, %+.0f%%], p=%.3f\n", c.Before, c.After, c.ShiftPct, c.Low, c.High, c.PValue)
	}
	// Output:
	// runs 39→40: +12% [+11%, +12%], p=0.005
}
