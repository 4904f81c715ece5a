package page

import (
	"io"
	"testing"
)

// countingWriter counts what the page would cost to serve.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkRenderYear renders a year of daily runs of a 200-row suite
// (365 records × 200 rows, one change of machine) and reports the size of
// the page.
func BenchmarkRenderYear(b *testing.B) {
	h := synthetic(b, yearRows(), 365, 200, -1)
	var w countingWriter
	for b.Loop() {
		w.n = 0
		if err := Render(&w, h, Options{Repository: "o/r", Generated: end}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w.n), "page-bytes")
}

var _ io.Writer = (*countingWriter)(nil)
