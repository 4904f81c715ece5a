package benchmarks

import (
	"slices"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/botdb"
)

// downtimeEvents is how many events the bot publishes while the service is
// down, in each restart.
const downtimeEvents = 5000

// BenchmarkServiceRestart (10) stops the service (as SIGTERM does: drain,
// commit), publishes events while it is down, and starts it again (open the
// database, connect, resume the durable consumer). It reports the restart
// time (start to the first committed downtime event, median over restarts:
// the original's aim was under 100 ms) and the recovered fraction of the
// downtime events, which must be 1: the original recovered 75%. It also
// reports the median time Stop took (stop-ns): it waits for the idle pull
// request to end on the server, up to a second, so this benchmark's wall
// time is a few times its measured time. One op is one restart: from the
// start until every downtime event is stored; the stop and the downtime
// publishes are not timed.
func BenchmarkServiceRestart(b *testing.B) {
	ctx := b.Context()
	env := NewEnv(b, botdb.ServiceConfig{})
	warmUp(b, env, env.NewUser("restart_warm"), 10)
	// WaitApplied follows the restarts: it waits on the new instance's
	// first commit.
	var (
		restarts, stops   []time.Duration
		published, stored int64
	)
	for b.Loop() {
		b.StopTimer()
		user := env.NewUser("restart")
		check, err := StartStoredCheck(ctx, env.DB, user)
		if err != nil {
			b.Fatal(err)
		}
		stopStart := time.Now()
		if err := env.StopService(ctx); err != nil {
			b.Fatal(err)
		}
		stops = append(stops, time.Since(stopStart))
		before := env.Published()
		var seq uint64
		for i := range downtimeEvents {
			if seq, err = env.Publish(ctx, ChatEvent(user, i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := env.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		published += downtimeEvents
		b.StartTimer()

		start := time.Now()
		if err := env.StartService(ctx); err != nil {
			b.Fatal(err)
		}
		if err := env.WaitApplied(ctx, before+1); err != nil {
			b.Fatal(err)
		}
		restarts = append(restarts, time.Since(start))
		if err := env.WaitApplied(ctx, seq); err != nil {
			b.Fatal(err)
		}

		b.StopTimer()
		n, err := check.Stored(ctx, env.DB)
		if err != nil {
			b.Fatal(err)
		}
		stored += n
		if n != downtimeEvents {
			b.Fatalf("restart %d: recovered %d of %d events published during downtime", len(restarts), n, downtimeEvents)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(stored)/float64(max(published, 1)), "stored-fraction")
	slices.Sort(restarts)
	b.ReportMetric(float64(Percentile(restarts, 0.5).Nanoseconds()), "restart-ns")
	slices.Sort(stops)
	b.ReportMetric(float64(Percentile(stops, 0.5).Nanoseconds()), "stop-ns")
}
