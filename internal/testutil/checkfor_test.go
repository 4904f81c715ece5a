package testutil

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCheckForRetriesUntilNil(t *testing.T) {
	calls := 0
	CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Fatalf("check ran %d times, want 3", calls)
	}
}

// recorder is a testing.TB that records Fatalf instead of stopping.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}

func TestCheckForReportsTheLastError(t *testing.T) {
	r := &recorder{TB: t}
	n := 0
	func() {
		defer func() {
			if p := recover(); p != r {
				t.Fatalf("CheckFor did not fail the test: %v", p)
			}
		}()
		CheckFor(r, 10*time.Millisecond, time.Millisecond, func() error {
			n++
			return errors.New("last")
		})
	}()
	if n < 2 || !strings.Contains(r.msg, "last") {
		t.Fatalf("calls %d, message %q", n, r.msg)
	}
}
