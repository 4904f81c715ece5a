package botdb

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// reportLatencies reports the median and 99th percentile of d.
func reportLatencies(b *testing.B, d []time.Duration) {
	b.Helper()
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkUserStatsRequestReply measures a user_stats query through NATS
// (client → server → service → SQLite → back), in-process server.
//
// "tcp" connects service and client over loopback TCP, "inprocess" with
// nats.InProcessServer (no sockets), as an embedding application would.
func BenchmarkUserStatsRequestReply(b *testing.B) {
	b.Run("tcp", func(b *testing.B) { benchUserStats(b, newEnv(b, ServiceConfig{})) })
	b.Run("inprocess", func(b *testing.B) {
		srv := startTestServer(b, true)
		connect := func() *nats.Conn {
			nc, err := nats.Connect("", nats.InProcessServer(srv))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			return nc
		}
		db := MustOpenDB(b)
		svc := startService(b, connect(), db, ServiceConfig{})
		nc := connect()
		benchUserStats(b, &env{srv: srv, db: db, svc: svc, client: NewClient(nc, ""), nc: nc})
	})
}

func benchUserStats(b *testing.B, e *env) {
	ctx := context.Background()
	for i := range 100 {
		mustPublish(b, e.client, Event{Kind: EventChatMessage, Username: fmt.Sprintf("u%d", i%10), Message: "hello"})
	}
	if _, err := e.client.UserStats(ctx, "u1"); err != nil { // applies the events
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		st, err := e.client.UserStats(ctx, "u3")
		lat = append(lat, time.Since(start))
		if err != nil || st.TotalChatLines != 10 {
			b.Fatalf("user_stats = %+v, %v", st, err)
		}
	}
	reportLatencies(b, lat)
}

// BenchmarkEventsStored measures events published (core NATS) and committed
// to SQLite through JetStream, with zero loss checked at the end: default
// durability, and full durability (JetStream sync always + SQLite
// synchronous=FULL).
func BenchmarkEventsStored(b *testing.B) {
	for _, mode := range []struct {
		name    string
		durable bool
		noJS    bool
	}{{"default", false, false}, {"durable", true, false}, {"nojetstream", false, true}} {
		b.Run(mode.name, func(b *testing.B) {
			srv, err := StartServer(ServerOptions{Port: -1, JetStream: !mode.noJS, StoreDir: b.TempDir(), SyncAlways: mode.durable})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { ShutdownServer(srv) })
			sync := SyncNormal
			if mode.durable {
				sync = SyncFull
			}
			db, err := Open(context.Background(), filepath.Join(b.TempDir(), "bot.db"), WithSynchronous(sync))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			svc := startService(b, connectTest(b, srv), db, ServiceConfig{NoJetStream: mode.noJS})
			client := NewClient(connectTest(b, srv), "")
			ctx := context.Background()
			events := make([]Event, 1000)
			for i := range events {
				events[i] = Event{Kind: EventChatMessage, Username: fmt.Sprintf("user%d", i%40), Message: fmt.Sprintf("chat line %d with some text", i)}
			}
			// One op is a burst of events published back to back, then a
			// query that waits until all of them are committed. Bursts stay
			// below the server's stream ingest queue (100,000 messages by
			// default), beyond which core publishes are dropped.
			burst := 10_000
			if mode.durable {
				burst = 1000 // every stored event is an fsync
			}
			ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			b.ResetTimer()
			start := time.Now()
			n := 0
			for b.Loop() {
				for range burst {
					if err := client.Publish(ctx, events[n%len(events)]); err != nil {
						b.Fatal(err)
					}
					n++
				}
				if _, err := client.Health(ctx); err != nil { // waits until all are applied
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			h := svc.Health()
			if h.EventsApplied != int64(n) || h.EventsRejected != 0 {
				b.Fatalf("applied %d of %d events (%d rejected): loss", h.EventsApplied, n, h.EventsRejected)
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(n)/float64(max(h.Batches, 1)), "events/batch")
		})
	}
}

// BenchmarkRestartToFirstEvent measures a service start (stream, consumer,
// cursor, micro service) until the first event published while it was
// down is committed.
func BenchmarkRestartToFirstEvent(b *testing.B) {
	srv := startTestServer(b, true)
	db := MustOpenDB(b)
	nc := connectTest(b, srv)
	client := NewClient(connectTest(b, srv), "")
	ctx := context.Background()
	stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	first, err := NewService(ctx, nc, db, ServiceConfig{})
	if err != nil {
		b.Fatal(err)
	}
	if err := first.Stop(stopCtx); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		b.StopTimer()
		mustPublish(b, client, Event{Kind: EventUserJoined, Username: "restarter"})
		if _, err := client.Sync(ctx); err != nil { // the event is in the stream
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		svc, err := NewService(ctx, nc, db, ServiceConfig{})
		if err != nil {
			b.Fatal(err)
		}
		for svc.Health().EventsApplied == 0 {
			time.Sleep(50 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if err := svc.Stop(stopCtx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "restart-ns")
}

// BenchmarkBacklogDrain measures the consumer alone: events published while
// the service was down (already stored by JetStream) applied after a start,
// without the server ingesting at the same time.
func BenchmarkBacklogDrain(b *testing.B) {
	srv := startTestServer(b, true)
	db := MustOpenDB(b)
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	client := NewClient(connectTest(b, srv), "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	first, err := NewService(ctx, nc, db, ServiceConfig{})
	if err != nil {
		b.Fatal(err)
	}
	if err := first.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	const backlog = 20_000
	var total int
	var busy time.Duration
	for b.Loop() {
		b.StopTimer()
		for i := range backlog {
			mustPublish(b, client, Event{Kind: EventChatMessage, Username: fmt.Sprintf("user%d", i%40), Message: "chat line with some text"})
		}
		seq, err := client.Sync(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		logger, logs := newTestLogger(b)
		svc, err := NewService(ctx, nc, db, ServiceConfig{Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		for svc.Health().LastSequence < seq {
			time.Sleep(100 * time.Microsecond)
		}
		busy += time.Since(start)
		b.StopTimer()
		b.Logf("%v batches %d %q", time.Since(start), svc.Health().Batches, logs.lines)
		if h := svc.Health(); h.EventsApplied != backlog {
			b.Fatalf("applied %d of %d", h.EventsApplied, backlog)
		}
		total += backlog
		if err := svc.Stop(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/busy.Seconds(), "events/s")
}

// BenchmarkStopIdle measures Stop of an idle service, whose pull request
// is waiting for events: what every benchmark environment's Close pays.
// An op is a start, a moment idle and the Stop; stop-ns is the Stop alone
// (median). The timer runs throughout: stopped for the start, it would
// make -benchtime count Stops only, and a 20ms benchtime would start
// hundreds of services.
func BenchmarkStopIdle(b *testing.B) {
	srv := startTestServer(b, true)
	db := MustOpenDB(b)
	nc := connectTest(b, srv)
	ctx := context.Background()
	stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var stops []time.Duration
	for b.Loop() {
		svc, err := NewService(ctx, nc, db, ServiceConfig{})
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // idle, its pull request out
		start := time.Now()
		if err := svc.Stop(stopCtx); err != nil {
			b.Fatal(err)
		}
		stops = append(stops, time.Since(start))
	}
	slices.Sort(stops)
	b.ReportMetric(float64(stops[len(stops)/2].Nanoseconds()), "stop-ns")
}
