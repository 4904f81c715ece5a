package botdb

import (
	"log/slog"
	"time"
)

// Group commit settings. Lingering starts after lingerStreak commits in a
// row of one or two events each, each within the linger of the one before.
// A spell of lingering that never gathers two events in a round waits
// probeWait before the next, doubling up to maxProbeWait, so that a writer
// waiting for each event before it sends the next (which no linger can
// group) rarely pays for one.
const (
	lingerStreak = 3
	minProbeWait = time.Second
	maxProbeWait = 30 * time.Second
)

// groupCommit decides when a consume loop lingers (see ServiceConfig.Linger):
// it starts once events have come one by one, closer together than the
// linger, and lasts while each round gathers two or more.
type groupCommit struct {
	linger     time.Duration // 0: never linger
	now        func() time.Time
	readers    *readers
	stop       <-chan struct{}
	log        *slog.Logger
	timer      *time.Timer
	lingering  bool
	streak     int       // commits in a row that lingering would have grouped
	lastCommit time.Time // when the last commit while not lingering ended
	gathered   int       // rounds of this spell that paid
	probeAt    time.Time // no lingering before this
	probeWait  time.Duration
}

func newGroupCommit(linger time.Duration, k *sink) *groupCommit {
	g := &groupCommit{linger: linger, now: k.now, readers: &k.readers, stop: k.stop, log: k.log, timer: time.NewTimer(time.Hour), probeWait: minProbeWait}
	g.timer.Stop()
	return g
}

// committed records a commit of n events made while not lingering. A
// commit that a reader was waiting for does not count towards lingering:
// a writer that waits for each event (read-your-writes) is no trickle to
// group, and would only end every spell at once.
func (g *groupCommit) committed(n int) {
	now := g.now()
	if n <= 2 && now.Sub(g.lastCommit) < g.linger && !g.readers.waiting() {
		g.streak++
	} else {
		g.streak = 0
	}
	g.lastCommit = now
}

// start starts lingering if events have been coming one by one and the
// last spell, if it never paid, was long enough ago.
func (g *groupCommit) start() {
	if !g.lingering && g.linger > 0 && g.streak >= lingerStreak && !g.now().Before(g.probeAt) {
		g.lingering, g.gathered = true, 0
		g.log.Debug("group commit: lingering", "linger", g.linger)
	}
}

// round records a lingering round that gathered got events; more says the
// stream had more than one round takes (a burst: streaming takes it
// faster). It reports whether to keep lingering.
func (g *groupCommit) round(got int, more bool) bool {
	if got >= 2 && !more {
		g.gathered++
		g.probeWait = minProbeWait
		return true
	}
	// Back to one by one, or to streaming a burst. A spell that never
	// gathered two events was a wrong guess: wait longer before the next.
	g.lingering, g.streak = false, 0
	if got < 2 && g.gathered == 0 {
		g.probeAt = g.now().Add(g.probeWait)
		g.probeWait = min(2*g.probeWait, maxProbeWait)
	}
	g.log.Debug("group commit: one by one", "rounds", g.gathered, "last_round", got, "more", more, "next_try", g.probeAt)
	return false
}

// mayWait drains a wake-up left by a reader that is gone (or waiting:
// checked next) and reports whether the loop may wait for more events now:
// not while a reader waits or the service stops.
func (g *groupCommit) mayWait() bool {
	select {
	case <-g.readers.hurry:
	default:
	}
	select {
	case <-g.stop:
		return false
	default:
	}
	return !g.readers.waiting()
}

// wait waits out d, the rest of a round, cut short by Stop or by a reader
// waiting for an event not yet committed.
func (g *groupCommit) wait(d time.Duration) {
	if d <= 0 || !g.mayWait() {
		return
	}
	g.timer.Reset(d)
	select {
	case <-g.timer.C:
	case <-g.readers.hurry:
		g.timer.Stop()
	case <-g.stop:
		g.timer.Stop()
	}
}
