//go:build unix

package testutil

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime is this process's user and system time so far: benchmarks
// report it beside wall time, which a loaded machine inflates far more.
func CPUTime(tb testing.TB) time.Duration { return rusage(tb, syscall.RUSAGE_SELF) }

// ChildCPUTime is the user and system time of this process's finished
// children (git, for the history store's benchmarks).
func ChildCPUTime(tb testing.TB) time.Duration { return rusage(tb, syscall.RUSAGE_CHILDREN) }

func rusage(tb testing.TB, who int) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
