package botdb

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// MustOpenDB opens a new store in a file under tb.TempDir() and closes it when
// the test ends. Pass options such as WithClock to change the defaults.
func MustOpenDB(tb testing.TB, opts ...Option) *DB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "bot.db")
	db, err := Open(context.Background(), path, opts...)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close %s: %v", path, err)
		}
	})
	return db
}

// fixedClock is a clock tests can set and advance.
type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

func (c *fixedClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// epoch is a fixed test time (whole seconds, as stored).
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
