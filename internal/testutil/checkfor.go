// Package testutil holds the helpers that tests of several packages share.
// It is imported by tests only.
package testutil

import (
	"testing"
	"time"
)

// CheckFor calls check every sleep until it returns nil, and fails the
// test with check's last error once total has passed. Tests poll with it
// rather than with hand-written loops, so that a timeout always says what
// was still wrong (as nats-server's checkFor does).
func CheckFor(tb testing.TB, total, sleep time.Duration, check func() error) {
	tb.Helper()
	deadline := time.Now().Add(total)
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		if !time.Now().Before(deadline) {
			tb.Fatalf("still failing after %v: %v", total, err)
		}
		time.Sleep(sleep)
	}
}
