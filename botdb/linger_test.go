package botdb

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// testSink is a sink with nothing behind it, for the group commit's tests.
func testSink(now func() time.Time) *sink {
	return &sink{log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: now, stop: make(chan struct{}), readers: newReaders()}
}

// TestGroupCommitDecisions walks the group commit's decisions through the
// cases that matter: when it starts lingering, when it stops, and when a
// wrong guess makes it wait before the next try. The clock is the test's:
// commits come lingerTest/10 apart unless a case moves it further.
func TestGroupCommitDecisions(t *testing.T) {
	const lingerTest = 100 * time.Millisecond
	var clock *fixedClock
	newGroup := func(linger time.Duration) *groupCommit {
		clock = &fixedClock{t: epoch}
		return newGroupCommit(linger, testSink(clock.now))
	}
	singles := func(g *groupCommit, n int) {
		for range n {
			clock.advance(lingerTest / 10)
			g.committed(1)
			g.start()
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, g *groupCommit)
	}{
		{"a trickle starts lingering", func(t *testing.T, g *groupCommit) {
			singles(g, lingerStreak)
			if g.lingering {
				t.Fatal("lingering after the first commits of a trickle, want a streak first")
			}
			singles(g, 1)
			if !g.lingering {
				t.Fatal("not lingering after a streak of single commits")
			}
		}},
		{"a big commit breaks the streak", func(t *testing.T, g *groupCommit) {
			singles(g, lingerStreak)
			g.committed(50)
			g.start()
			singles(g, lingerStreak-1)
			if g.lingering {
				t.Fatal("lingering although a commit of 50 broke the streak")
			}
			singles(g, 1)
			if !g.lingering {
				t.Fatal("not lingering after a new streak")
			}
		}},
		{"commits farther apart than the linger do not count", func(t *testing.T, g *groupCommit) {
			for range 3 * lingerStreak {
				clock.advance(lingerTest + time.Millisecond)
				g.committed(1)
				g.start()
			}
			if g.lingering {
				t.Fatal("lingering for events further apart than the linger")
			}
		}},
		{"commits a reader waited for do not count", func(t *testing.T, g *groupCommit) {
			g.readers.start()
			singles(g, 3*lingerStreak)
			g.readers.end()
			if g.lingering {
				t.Fatal("lingering for a writer that waits for each event")
			}
		}},
		{"rounds that gather keep it lingering", func(t *testing.T, g *groupCommit) {
			singles(g, lingerStreak+1)
			for range 5 {
				if !g.round(10, false) {
					t.Fatal("stopped lingering after a round of 10")
				}
			}
			if g.round(0, false) {
				t.Fatal("still lingering after an empty round")
			}
			singles(g, lingerStreak+1)
			if !g.lingering {
				t.Fatal("no new spell after one that paid")
			}
		}},
		{"a spell that never paid waits before the next", func(t *testing.T, g *groupCommit) {
			singles(g, lingerStreak+1)
			if g.round(1, false) {
				t.Fatal("still lingering after a first round of one event")
			}
			singles(g, 10)
			if g.lingering {
				t.Fatal("a new spell right after a wrong guess")
			}
			if g.probeWait != 2*minProbeWait {
				t.Errorf("next wait after a wrong guess = %v, want %v", g.probeWait, 2*minProbeWait)
			}
			clock.advance(minProbeWait)
			singles(g, lingerStreak+1)
			if !g.lingering {
				t.Fatal("no new spell once the wait after a wrong guess has passed")
			}
			if g.round(0, false) {
				t.Fatal("still lingering after an empty round")
			}
			clock.advance(minProbeWait)
			singles(g, lingerStreak+1)
			if g.lingering {
				t.Fatal("a second wrong guess did not double the wait")
			}
			clock.advance(minProbeWait)
			singles(g, lingerStreak+1)
			if !g.lingering {
				t.Fatal("no new spell after the doubled wait")
			}
		}},
		{"a burst ends lingering without a penalty", func(t *testing.T, g *groupCommit) {
			singles(g, lingerStreak+1)
			if g.round(DefaultMaxBatch, true) {
				t.Fatal("still lingering in a burst")
			}
			singles(g, lingerStreak+1)
			if !g.lingering {
				t.Fatal("a burst counted as a wrong guess")
			}
		}},
		{"no linger, no lingering", func(t *testing.T, _ *groupCommit) {
			g := newGroup(0)
			singles(g, 10)
			if g.lingering {
				t.Fatal("lingering with the linger off")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newGroup(lingerTest)) })
	}
}

// TestGroupCommitWaitEndsForAReader: a round's wait ends when a reader
// starts waiting, and does not start while one waits.
func TestGroupCommitWaitEndsForAReader(t *testing.T) {
	k := testSink(time.Now)
	g := newGroupCommit(time.Hour, k)
	k.readers.start()
	g.wait(time.Hour) // returns at once, or the test times out
	k.readers.end()
	done := make(chan struct{})
	go func() {
		g.wait(time.Hour)
		close(done)
	}()
	k.readers.start() // what WaitApplied does when a reader starts waiting
	<-done
}
