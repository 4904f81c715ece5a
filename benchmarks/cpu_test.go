package benchmarks

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/botdb"
)

// pacedInterval is the original's setting: 100 events per second.
const pacedInterval = 10 * time.Millisecond

// pacedOpEvents is one op of a paced benchmark: half a second of traffic at
// 100 events/s. One event per op would let a short -benchtime (the action's
// default is 20ms) pace two events and report noise; fifty make even
// -benchtime 1x a measurement.
const pacedOpEvents = 50

// eventsFor is how many events b.N ops are at the given pacing.
func eventsFor(n int, interval time.Duration) int {
	if interval > 0 {
		return n * pacedOpEvents
	}
	return n
}

// A path is one way of getting chat lines into the database: through NATS
// and the service, or by direct single-row LogChat calls.
type path interface {
	// start returns the check for the round's user.
	start(ctx context.Context, user string) (StoredCheck, error)
	// send stores (direct) or publishes (NATS) the i-th event of user.
	send(ctx context.Context, user string, i int) error
	// settle waits until everything sent is stored.
	settle(ctx context.Context) error
	// stored counts what the round stored, failing on any disagreement.
	stored(ctx context.Context, c StoredCheck) (int64, error)
	newUser(prefix string) string
	// commits counts the transactions so far (the NATS path's service's;
	// direct, every event is one).
	commits() int64
}

// natsPath publishes through the bot's client; the service commits.
// Unpaced, it stays at most cpuWindow events ahead of the service: enough
// for full batches, and far below the server's stream ingest queue, which
// drops core publishes beyond 100,000 waiting messages.
type natsPath struct{ env *Env }

// cpuWindow bounds the uncommitted events of the unpaced NATS path.
const cpuWindow = 10 * botdb.DefaultMaxBatch

func (p natsPath) start(ctx context.Context, user string) (StoredCheck, error) {
	return StartStoredCheck(ctx, p.env.DB, user)
}

func (p natsPath) send(ctx context.Context, user string, i int) error {
	seq, err := p.env.Publish(ctx, ChatEvent(user, i))
	if err != nil || seq <= cpuWindow {
		return err
	}
	return p.env.WaitApplied(ctx, seq-cpuWindow)
}

func (p natsPath) settle(ctx context.Context) error {
	if err := p.env.Flush(ctx); err != nil {
		return err
	}
	return p.env.WaitApplied(ctx, p.env.Published())
}

func (p natsPath) stored(ctx context.Context, c StoredCheck) (int64, error) {
	return c.Stored(ctx, p.env.DB)
}

func (p natsPath) newUser(prefix string) string { return p.env.NewUser(prefix) }

func (p natsPath) commits() int64 { return p.env.Commits() }

// directPath is the original's baseline: one LogChat call, one transaction,
// per chat line, with no NATS server in the process.
type directPath struct {
	db    *botdb.DB
	users *int
}

func newDirectPath(b *testing.B) directPath {
	b.Helper()
	db, err := botdb.Open(b.Context(), filepath.Join(b.TempDir(), "direct.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Error(err)
		}
	})
	return directPath{db: db, users: new(int)}
}

func (p directPath) start(ctx context.Context, user string) (StoredCheck, error) {
	return StartStoredCheck(ctx, p.db, user)
}

func (p directPath) send(ctx context.Context, user string, i int) error {
	return p.db.LogChat(ctx, user, chatLines[i%len(chatLines)], time.Time{})
}

func (p directPath) settle(context.Context) error { return nil }

// stored counts the chat log's growth: LogChat logs the line but does not
// count it for the user (UserChatMessage does that), so the user's counter
// stays 0 and only the log can be checked.
func (p directPath) stored(ctx context.Context, c StoredCheck) (int64, error) {
	id, err := LastMessageID(ctx, p.db)
	if err != nil {
		return 0, err
	}
	return id - c.lastID0, nil
}

func (p directPath) commits() int64 { return 0 }

func (p directPath) newUser(prefix string) string {
	*p.users++
	return fmt.Sprintf("%s_%d", prefix, *p.users)
}

// cpuRun is the CPU and wall time one path spent on some events.
type cpuRun struct {
	events    int
	cpu, wall time.Duration
	commits   int64 // transactions the service committed (NATS path)
}

// commitsPerEvent is the NATS path's transactions per event: 1 is one by
// one; the group commit brings it down.
func (r cpuRun) commitsPerEvent() float64 {
	return float64(r.commits) / float64(max(r.events, 1))
}

func (r cpuRun) perEvent() float64 {
	return float64(r.cpu.Nanoseconds()) / float64(max(r.events, 1))
}

// corePercent is the share of one core used, in percent.
func (r cpuRun) corePercent() float64 {
	if r.wall <= 0 {
		return 0
	}
	return 100 * r.cpu.Seconds() / r.wall.Seconds()
}

// runPath sends n events through p, paced at interval (0: as fast as
// possible), waits until all are stored, and returns the CPU time the whole
// process used meanwhile. Paced, the measured span is exactly n intervals,
// so idle costs (timers, pull requests) count as they would in a bot.
func runPath(ctx context.Context, p path, user string, first, n int, interval time.Duration) (cpuRun, error) {
	commits0 := p.commits()
	cpu0, err := CPUTime()
	if err != nil {
		return cpuRun{}, err
	}
	start := time.Now()
	for i := range n {
		if interval > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		}
		if err := p.send(ctx, user, first+i); err != nil {
			return cpuRun{}, err
		}
	}
	// Paced, the span is n intervals: the last event has one interval to be
	// stored, as every other had, before settle waits for any stragglers.
	if interval > 0 {
		time.Sleep(time.Until(start.Add(time.Duration(n) * interval)))
	}
	if err := p.settle(ctx); err != nil {
		return cpuRun{}, err
	}
	wall := time.Since(start)
	cpu1, err := CPUTime()
	if err != nil {
		return cpuRun{}, err
	}
	return cpuRun{events: n, cpu: cpu1 - cpu0, wall: wall, commits: p.commits() - commits0}, nil
}

// pacedWarmup is how many events a paced CPU benchmark sends, untimed,
// before it measures: a fifth of a second at 100 events/s.
const pacedWarmup = 20

// warmUpPaced sends pacedWarmup paced events through p, for a user of their
// own, so that what follows measures a bot that has been sending at 100
// events/s (on the NATS path, the service's group commit engaged), not its
// first events.
func warmUpPaced(b *testing.B, p path) {
	b.Helper()
	if _, err := runPath(b.Context(), p, p.newUser("warmup"), 0, pacedWarmup, pacedInterval); err != nil {
		b.Fatal(err)
	}
}

// benchCPU is benchmarks 6 and 7: b.N chat events through p, unpaced or
// paced, reporting CPU per event and, paced, the share of one core.
func benchCPU(b *testing.B, p path, interval time.Duration) {
	ctx := b.Context()
	if interval > 0 {
		warmUpPaced(b, p)
	}
	user := p.newUser("cpu")
	check, err := p.start(ctx, user)
	if err != nil {
		b.Fatal(err)
	}
	events := eventsFor(b.N, interval)
	b.ResetTimer()
	run, err := runPath(ctx, p, user, 0, events, interval)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	got, err := p.stored(ctx, check)
	if err != nil {
		b.Fatal(err)
	}
	if got != int64(events) {
		b.Fatalf("stored %d of %d chat lines", got, events)
	}
	b.ReportMetric(run.perEvent(), "cpu-ns/event")
	if _, ok := p.(natsPath); ok {
		b.ReportMetric(run.commitsPerEvent(), "commits/event")
	}
	if interval > 0 {
		b.ReportMetric(run.corePercent(), "cpu-pct")
	} else {
		ReportRate(b, run.events, run.wall)
	}
}

// BenchmarkCPUNATS (6) measures the CPU time (user+sys, getrusage) per chat
// event through NATS into SQLite: the bot's publish, the in-process server
// with JetStream, the service's batch commit and ack. Unpaced, events go as
// fast as they can; paced, at 100 events/s as in the original, where there
// is nothing to group and the fixed costs per event show. Unpaced, one op
// is one event; paced, one op is pacedOpEvents events.
func BenchmarkCPUNATS(b *testing.B) {
	env := NewEnv(b, botdb.ServiceConfig{})
	p := natsPath{env: env}
	b.Run("unpaced", func(b *testing.B) { benchCPU(b, p, 0) })
	b.Run("paced=100/s", func(b *testing.B) { benchCPU(b, p, pacedInterval) })
}

// BenchmarkCPUDirect (7) is the baseline of BenchmarkCPUNATS: the same chat
// lines written by direct single-row LogChat calls, one transaction each,
// with no NATS server in the process.
func BenchmarkCPUDirect(b *testing.B) {
	p := newDirectPath(b)
	b.Run("unpaced", func(b *testing.B) { benchCPU(b, p, 0) })
	b.Run("paced=100/s", func(b *testing.B) { benchCPU(b, p, pacedInterval) })
}

// Block sizes of BenchmarkCPUOverhead: long enough that a block's CPU is
// measured well (a paced block is a second of traffic, in which the
// service's group commit settles in within a few events), short enough
// that both paths see the same machine.
const (
	overheadBlockUnpaced = 2000
	overheadBlockPaced   = 2 * pacedOpEvents
)

// paces are the two loads the CPU benchmarks compare paths under: as fast
// as they go, and at a steady 100 events/s, in blocks sized to each.
var paces = []struct {
	name     string
	interval time.Duration
	block    int
}{
	{"unpaced", 0, overheadBlockUnpaced},
	{"paced=100/s", pacedInterval, overheadBlockPaced},
}

// BenchmarkCPUOverhead compares the two paths in one run, alternating blocks
// of events between them so that both see the same load on this shared
// machine. Paced at 100 events/s it reports the NATS path's extra CPU in
// percentage points of one core (overhead-pp: the original measured 5.80
// against a target of 5), the median over pairs of blocks of the
// difference in each pair: a moment of load on a shared machine (one block
// here measured three times the CPU of the next) moves a median of pairs
// far less than a total. Unpaced, it reports the ratio of CPU per event
// (cpu-ratio: NATS over direct). Unpaced, one op is one event on each path; paced,
// pacedOpEvents events on each path.
func BenchmarkCPUOverhead(b *testing.B) {
	env := NewEnv(b, botdb.ServiceConfig{})
	paths := [2]path{natsPath{env: env}, newDirectPath(b)}
	for _, c := range paces {
		b.Run(c.name, func(b *testing.B) {
			totals, diffs := comparePaths(b, paths, c.interval, c.block)
			nats, direct := totals[0], totals[1]
			b.ReportMetric(nats.perEvent(), "nats-cpu-ns/event")
			b.ReportMetric(nats.commitsPerEvent(), "nats-commits/event")
			b.ReportMetric(direct.perEvent(), "direct-cpu-ns/event")
			if c.interval > 0 {
				b.ReportMetric(median(diffs), "overhead-pp")
			} else {
				b.ReportMetric(nats.perEvent()/direct.perEvent(), "cpu-ratio")
			}
		})
	}
}

// comparePaths sends b.N ops of events through both paths in alternating
// blocks of block events (the first path first), after a paced warm-up of
// each when paced, checks that each path stored every event, and returns
// each path's totals and, per pair of blocks, the difference of their
// shares of one core (first minus second, in percentage points).
func comparePaths(b *testing.B, paths [2]path, interval time.Duration, block int) (totals [2]cpuRun, diffs []float64) {
	b.Helper()
	ctx := b.Context()
	if interval > 0 {
		// Second first: the first block is the first path's.
		warmUpPaced(b, paths[1])
		warmUpPaced(b, paths[0])
	}
	var users [2]string
	var checks [2]StoredCheck
	for i, p := range paths {
		users[i] = p.newUser("overhead")
		var err error
		if checks[i], err = p.start(ctx, users[i]); err != nil {
			b.Fatal(err)
		}
	}
	events := eventsFor(b.N, interval)
	b.ResetTimer()
	for done := 0; done < events; {
		n := min(block, events-done)
		var runs [2]cpuRun
		for i, p := range paths {
			run, err := runPath(ctx, p, users[i], done, n, interval)
			if err != nil {
				b.Fatal(err)
			}
			runs[i] = run
			totals[i].events += run.events
			totals[i].cpu += run.cpu
			totals[i].wall += run.wall
			totals[i].commits += run.commits
		}
		diffs = append(diffs, runs[0].corePercent()-runs[1].corePercent())
		done += n
	}
	b.StopTimer()
	for i, p := range paths {
		got, err := p.stored(ctx, checks[i])
		if err != nil {
			b.Fatal(err)
		}
		if got != int64(events) {
			b.Fatalf("path %d stored %d of %d chat lines", i, got, events)
		}
	}
	return totals, diffs
}

// BenchmarkCPUEventWatch weighs the event watch (botdb's
// ServiceConfig.NoEventWatch): the same events through a service with the
// watch and one without, in alternating blocks as BenchmarkCPUOverhead
// does. It reports each one's CPU per event and their ratio (cpu-ratio:
// with over without), and, paced, the median difference in percentage
// points of one core (watch-pp). One op is as in BenchmarkCPUOverhead.
func BenchmarkCPUEventWatch(b *testing.B) {
	paths := [2]path{
		natsPath{env: NewEnv(b, botdb.ServiceConfig{})},
		natsPath{env: NewEnv(b, botdb.ServiceConfig{NoEventWatch: true})},
	}
	for _, c := range paces {
		b.Run(c.name, func(b *testing.B) {
			totals, diffs := comparePaths(b, paths, c.interval, c.block)
			watch, none := totals[0], totals[1]
			b.ReportMetric(watch.perEvent(), "watch-cpu-ns/event")
			b.ReportMetric(none.perEvent(), "nowatch-cpu-ns/event")
			b.ReportMetric(watch.perEvent()/none.perEvent(), "cpu-ratio")
			if c.interval > 0 {
				b.ReportMetric(median(diffs), "watch-pp")
			}
		})
	}
}

// median returns the median of xs (0 for none); xs is reordered.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}
