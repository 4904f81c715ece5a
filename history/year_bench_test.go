//go:build unix

package history_test

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/history/page"
	"github.com/natsbench/natsbench-action/internal/testutil"
)

// yearStore writes a year of daily runs of a 200-row suite into a store
// under dir, as Append would lay it out, and returns the bytes written
// and their zlib-compressed size (git's object compression: about what a
// depth-1 fetch of the branch carries).
func yearStore(tb testing.TB, dir string, end time.Time) (raw, packed int) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string]*bytes.Buffer{}
	base := make([]float64, 200)
	for i := range base {
		base[i] = 1e3 * (1 + 1e3*rng.Float64())
	}
	for day := range 365 {
		t := end.AddDate(0, 0, day-365)
		rec := history.Record{
			Schema: history.Schema, ID: fmt.Sprintf("%d-1-head-0a1b2c3d", 1000+day), SHA: fmt.Sprintf("%040x", rng.Uint64()),
			CommitTime: t.Add(-time.Hour), RunTime: t, Ref: "refs/heads/main", Event: "schedule",
			RunURL: fmt.Sprintf("https://github.com/octo/repo/actions/runs/%d", 1000+day), Side: history.SideHead,
			Env:   history.Env{CPU: "AMD EPYC 7763 64-Core Processor", GOMAXPROCS: 4, GoVersion: "go1.26.0", GOOS: "linux", GOARCH: "amd64", Image: "ubuntu24/20261124.1"},
			Count: 20, Benchtime: "20ms",
		}
		for i, c := range base {
			v := c * (1 + 0.02*rng.NormFloat64())
			rec.Rows = append(rec.Rows, history.Row{Package: fmt.Sprintf("github.com/octo/repo/pkg%d", i%10),
				Name: fmt.Sprintf("BenchmarkRow%03d/size=%d-4", i, 1<<(i%12)), Unit: "sec/op", N: 20, Center: v, Low: v * 0.98, High: v * 1.03})
		}
		line, err := json.Marshal(rec)
		if err != nil {
			tb.Fatal(err)
		}
		name := t.UTC().Format("2006-01") + ".jsonl"
		if files[name] == nil {
			files[name] = &bytes.Buffer{}
		}
		files[name].Write(append(line, '\n'))
	}
	if err := os.MkdirAll(filepath.Join(dir, history.RecordsDir), 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, history.RecordsDir, name), body.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(body.Bytes())
		w.Close()
		raw += body.Len()
		packed += z.Len()
	}
	return raw, packed
}

// cachedYearStore is yearStore's year, made once per machine (it took a
// third of a second in each of the two benchmarks of every process) and
// kept by testutil.Cached under a hash of this file, so that a change to
// how it is made makes it again. The store must only be read.
func cachedYearStore(b *testing.B, end time.Time) (dir string, raw, packed int) {
	b.Helper()
	src, err := os.ReadFile("year_bench_test.go")
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(append(src, end.String()...))
	dir = testutil.Cached(b, "history-year-"+hex.EncodeToString(sum[:8]), func(dir string) error {
		raw, packed := yearStore(b, dir, end)
		return os.WriteFile(filepath.Join(dir, "sizes"), fmt.Appendf(nil, "%d %d", raw, packed), 0o600)
	})
	sizes, err := os.ReadFile(filepath.Join(dir, "sizes"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := fmt.Sscan(string(sizes), &raw, &packed); err != nil {
		b.Fatalf("sizes of the cached year: %v", err)
	}
	return dir, raw, packed
}

// BenchmarkYear reads and renders a synthetic year (365 daily records of
// 200 rows): Load, every series, the trends of 20 significant rows for a
// comment, and the job summary's trends. The store's size on disk and
// compressed are reported as store-B and zlib-B.
func BenchmarkYear(b *testing.B) { benchmarkYear(b, false) }

// BenchmarkYearWithPage adds the trend page to what BenchmarkYear does,
// as a trusted run does, and reports the page's size as page-B.
func BenchmarkYearWithPage(b *testing.B) { benchmarkYear(b, true) }

func benchmarkYear(b *testing.B, withPage bool) {
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	dir, raw, packed := cachedYearStore(b, end)
	h, _, err := history.Load(dir, end)
	if err != nil || len(h.Records) != 365 {
		b.Fatalf("load: %v, %d records", err, len(h.Records))
	}
	var keys []compare.TrendKey
	for _, s := range h.Series(history.SideHead)[:20] {
		keys = append(keys, compare.TrendKey{Package: s.Key.Package, Name: s.Key.Name, Unit: s.Key.Unit})
	}
	pageBytes := 0
	cpu0 := testutil.CPUTime(b)
	b.ResetTimer()
	for b.Loop() {
		h, warns, err := history.Load(dir, end)
		if err != nil || len(warns) > 0 {
			b.Fatal(err, warns)
		}
		if n := len(h.Series(history.SideHead)); n != 200 {
			b.Fatalf("%d series", n)
		}
		if len(h.Trends(keys, h.Records[300].SHA)) != 20 {
			b.Fatal("trends missing")
		}
		if history.Summary(h, history.SummaryOptions{}) == "" {
			b.Fatal("no summary")
		}
		if withPage {
			var buf bytes.Buffer
			if err := page.Render(&buf, h, page.Options{Repository: "octo/repo", Generated: end}); err != nil {
				b.Fatal(err)
			}
			pageBytes = buf.Len()
		}
	}
	// After the loop: ResetTimer would drop them. CPU time, all threads
	// (GC included), says more than wall time on a shared machine.
	b.ReportMetric(float64((testutil.CPUTime(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(raw), "store-B")
	b.ReportMetric(float64(packed), "zlib-B")
	if withPage {
		b.ReportMetric(float64(pageBytes), "page-B")
	}
}
