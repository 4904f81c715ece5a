package page

import (
	"crypto/sha1"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/history"
)

var (
	end  = time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	amd  = history.Env{CPU: "AMD EPYC 7763 64-Core Processor", GOMAXPROCS: 4, GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64", Image: "ubuntu24/20261101.1"}
	xeon = history.Env{CPU: "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", GOMAXPROCS: 4, GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64", Image: "ubuntu24/20261115.1"}
)

// row is a series of the synthetic history and its typical figure.
type row struct {
	pkg, name, unit string
	base            float64
	noise           float64 // relative
}

// realistic is the suite the screenshot shows: three packages, the units
// a Go benchmark reports.
var realistic = []row{
	{"github.com/natsbench/natsbench-action/botdb", "BenchmarkPublish/size=128", "sec/op", 2.35e-6, 0.025},
	{"github.com/natsbench/natsbench-action/botdb", "BenchmarkPublish/size=128", "B/op", 1184, 0.002},
	{"github.com/natsbench/natsbench-action/botdb", "BenchmarkPublish/size=128", "allocs/op", 14, 0},
	{"github.com/natsbench/natsbench-action/botdb", "BenchmarkRequestReply", "sec/op", 48.2e-6, 0.04},
	{"github.com/natsbench/natsbench-action/botdb", "BenchmarkKVPut", "sec/op", 0.91e-3, 0.03},
	{"github.com/natsbench/natsbench-action/benchmarks", "BenchmarkFanout/subs=64", "msgs/s", 1.84e6, 0.03},
	{"github.com/natsbench/natsbench-action/benchmarks", "BenchmarkJetStreamAck", "sec/op", 212e-6, 0.05},
	{"github.com/natsbench/natsbench-action/compare", "BenchmarkParse/rows=200", "sec/op", 3.1e-3, 0.02},
	{"github.com/natsbench/natsbench-action/compare", "BenchmarkParse/rows=200", "B/op", 2.6e6, 0.001},
	{"github.com/natsbench/natsbench-action/compare", "BenchmarkRender", "sec/op", 412e-6, 0.02},
}

// stepKey is the series of realistic that steps up by 18% at stepAt.
var stepKey = history.Key{Package: realistic[0].pkg, Name: realistic[0].name, Unit: realistic[0].unit}

// synthetic makes records daily head records ending at end, of rows; the
// machine changes from AMD to Xeon at record breakAt (figures 15% lower
// there) and stepKey rises by 18% from record stepAt. Negative indexes
// mean never.
func synthetic(tb testing.TB, rows []row, records, breakAt, stepAt int) *history.History {
	tb.Helper()
	rng := rand.New(rand.NewPCG(13, 42))
	h := &history.History{}
	for i := range records {
		t := end.AddDate(0, 0, i-records+1).Add(time.Duration(rng.IntN(600)) * time.Second)
		env, hw := amd, 1.0
		if breakAt >= 0 && i >= breakAt {
			env, hw = xeon, 0.85
		}
		rec := history.Record{
			Schema: history.Schema, ID: fmt.Sprintf("run-%d-1-head", 1000+i), SHA: fmt.Sprintf("%x", sha1.Sum([]byte{byte(i), byte(i >> 8)})),
			CommitTime: t.Add(-time.Hour), RunTime: t, Ref: "refs/heads/main", Event: "schedule",
			RunURL: fmt.Sprintf("https://github.com/natsbench/natsbench-action/actions/runs/%d", 9000+i),
			Side:   history.SideHead, Env: env, Count: 10, Benchtime: "1s",
		}
		for _, r := range rows {
			c := r.base
			if r.unit != "B/op" && r.unit != "allocs/op" {
				c *= hw
				if r.unit == "msgs/s" {
					c /= hw * hw
				}
			}
			k := history.Key{Package: r.pkg, Name: r.name, Unit: r.unit}
			if k == stepKey && stepAt >= 0 && i >= stepAt {
				c *= 1.18
			}
			c *= 1 + r.noise*rng.NormFloat64()
			w := math.Abs(c) * (r.noise*0.8 + 0.002*rng.Float64())
			if r.unit == "allocs/op" {
				c, w = math.Round(c), 0
			}
			rec.Rows = append(rec.Rows, history.Row{Package: r.pkg, Name: r.name, Unit: r.unit, N: 10,
				Center: c, Low: c - w*(0.7+0.6*rng.Float64()), High: c + w*(0.7+0.6*rng.Float64())})
		}
		h.Records = append(h.Records, rec)
	}
	return h
}

// yearRows is a 200-row suite: 10 packages of 10 benchmarks with two
// units each.
func yearRows() []row {
	var rows []row
	for p := range 10 {
		for b := range 10 {
			pkg := fmt.Sprintf("example.com/suite/pkg%02d", p)
			name := fmt.Sprintf("BenchmarkOp%02d/size=%d", b, 1<<b)
			rows = append(rows, row{pkg, name, "sec/op", float64(b+1) * 1.7e-6, 0.03}, row{pkg, name, "B/op", float64(int(64) << b), 0.001})
		}
	}
	return rows
}

// hostile are names an attacker with push access to the history branch
// could write.
var hostile = []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `' onmouseover='alert(1)`, `</svg><script>alert(1)</script>`}

// hostileHistory is a few records whose every name is hostile.
func hostileHistory(tb testing.TB) *history.History {
	tb.Helper()
	var rows []row
	for _, s := range hostile {
		rows = append(rows, row{"example.com/" + s, "Benchmark" + s, "sec/op", 1e-6, 0.02})
	}
	rows = append(rows, row{"example.com/x", "BenchmarkX", hostile[1], 5, 0.01})
	h := synthetic(tb, rows, 6, 3, -1)
	for i := range h.Records {
		h.Records[i].Ref = hostile[i%len(hostile)]
		if i >= 3 {
			h.Records[i].Env.CPU = hostile[i%len(hostile)]
			h.Records[i].Env.GoVersion = hostile[0]
		}
	}
	return h
}
