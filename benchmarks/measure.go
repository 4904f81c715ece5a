package benchmarks

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Percentile returns the q-quantile (0 < q <= 1) of sorted by the
// nearest-rank method, or 0 for an empty slice. Nearest rank reports a
// latency that was really observed, never an interpolation between two.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// ReportLatencies sorts lats and reports their p50, p95 and p99 in
// nanoseconds.
func ReportLatencies(b *testing.B, lats []time.Duration) {
	b.Helper()
	if len(lats) == 0 {
		return
	}
	slices.Sort(lats)
	b.ReportMetric(float64(Percentile(lats, 0.50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(Percentile(lats, 0.95).Nanoseconds()), "p95-ns")
	b.ReportMetric(float64(Percentile(lats, 0.99).Nanoseconds()), "p99-ns")
}

// ReportRate reports n events over d as events/s.
func ReportRate(b *testing.B, n int, d time.Duration) {
	b.Helper()
	if d > 0 {
		b.ReportMetric(float64(n)/d.Seconds(), "events/s")
	}
}

// CPUTime returns the CPU time (user plus system) this process has used so
// far, from getrusage(RUSAGE_SELF). It counts every thread: the benchmark,
// the in-process NATS server, the service and SQLite's cgo calls, which is
// the whole cost of the path under test. Linux derives the sum from the
// scheduler's nanosecond runtime, so short intervals are measured well even
// though the user/system split is sampled.
func CPUTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("reading rusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// MemSample is the process memory at one point: the live Go heap after a
// full collection and the resident set size.
type MemSample struct {
	HeapBytes uint64 // runtime.MemStats.HeapAlloc right after runtime.GC
	RSSBytes  uint64 // resident pages from /proc/self/statm
}

// SampleMemory collects garbage and then reads the heap and the RSS. The
// collection makes the heap figure the live data only, so that growth
// between two samples is retained memory, not garbage not yet collected.
func SampleMemory() (MemSample, error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := residentBytes()
	if err != nil {
		return MemSample{}, err
	}
	return MemSample{HeapBytes: ms.HeapAlloc, RSSBytes: rss}, nil
}

// residentBytes reads the resident set size from /proc/self/statm (the
// second field, in pages).
func residentBytes() (uint64, error) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("reading resident set size: %w", err)
	}
	return parseStatm(data, os.Getpagesize())
}

// parseStatm returns the resident bytes from the contents of
// /proc/PID/statm: "size resident shared text lib data dt", in pages.
func parseStatm(data []byte, pageSize int) (uint64, error) {
	fields := bytes.Fields(data)
	if len(fields) < 2 {
		return 0, fmt.Errorf("parsing /proc/self/statm %q: want at least 2 fields", data)
	}
	pages, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing /proc/self/statm resident pages %q: %w", fields[1], err)
	}
	return pages * uint64(pageSize), nil
}

// growthPer1k returns how much v grew from before to after per 1,000
// events, negative when it shrank.
func growthPer1k(before, after uint64, events int) float64 {
	if events <= 0 {
		return 0
	}
	return (float64(after) - float64(before)) * 1000 / float64(events)
}
