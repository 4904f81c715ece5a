package benchmarks

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/botdb"
)

// BenchmarkSingleEventLatency (1) publishes one chat event at a time and
// waits until the service has committed it: the time from the bot's publish
// to the event being in the database, with nothing else in flight. One op
// is one event.
func BenchmarkSingleEventLatency(b *testing.B) {
	ctx := b.Context()
	env := NewEnv(b, botdb.ServiceConfig{})
	user := env.NewUser("single")
	warmUp(b, env, user, 10)
	check, err := StartStoredCheck(ctx, env.DB, user)
	if err != nil {
		b.Fatal(err)
	}
	lats := make([]time.Duration, 0, 4096)
	for b.Loop() {
		start := time.Now()
		seq, err := env.Publish(ctx, ChatEvent(user, len(lats)))
		if err != nil {
			b.Fatal(err)
		}
		if err := env.WaitApplied(ctx, seq); err != nil {
			b.Fatal(err)
		}
		lats = append(lats, time.Since(start))
	}
	CheckAllStored(ctx, b, env.DB, check, len(lats))
	ReportLatencies(b, lats)
}

// BenchmarkUserStatsLatency (2) asks the user_stats query over NATS
// request/reply, as the bot's commands do, for a user with a history. One op
// is one request and its decoded reply.
//
// client=botdb asks through botdb.Client, whose Botdb-Min-Seq header lets
// the service answer at once when nothing was published since the last
// query. The plain variants ask as any NATS client does (`nats req`): no
// header, so the service finds the read barrier itself (docs/BOTDB.md).
// client=plain-idle publishes nothing between its queries: past the event
// watch's grace, which the benchmark waits out, the service reuses the
// last probe's sequence. client=plain-after-publish publishes one chat
// event (of another user) on the same connection before each query, so
// every query pays for a probe and for the event's commit, which it must
// reflect.
func BenchmarkUserStatsLatency(b *testing.B) {
	for _, variant := range []struct {
		name    string
		publish bool
		idle    bool // waits out the event watch's grace first
		ask     func(*Env, string) (botdb.UserStatsReply, error)
	}{
		{"client=botdb", false, false, func(env *Env, user string) (botdb.UserStatsReply, error) {
			return env.Client.UserStats(b.Context(), user)
		}},
		{"client=plain-idle", false, true, plainUserStats},
		{"client=plain-after-publish", true, false, plainUserStats},
	} {
		b.Run(variant.name, func(b *testing.B) {
			ctx := b.Context()
			env := NewEnv(b, botdb.ServiceConfig{})
			user := env.NewUser("stats")
			other := env.NewUser("other")
			const lines = 100
			warmUp(b, env, user, lines)
			if err := env.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			if variant.idle {
				// Past the grace, the service may skip probes. The
				// other variants never skip one: no need to wait.
				time.Sleep(botdb.EventWatchGrace)
			}
			// The first query opens a read connection and warms its statements.
			if _, err := variant.ask(env, user); err != nil {
				b.Fatal(err)
			}
			lats := make([]time.Duration, 0, 4096)
			for b.Loop() {
				asked, want := user, int64(lines)
				start := time.Now()
				if variant.publish { // and the reply must reflect it
					asked, want = other, int64(len(lats)+1)
					if _, err := env.Publish(ctx, ChatEvent(other, len(lats))); err != nil {
						b.Fatal(err)
					}
				}
				rep, err := variant.ask(env, asked)
				if err != nil {
					b.Fatal(err)
				}
				lats = append(lats, time.Since(start))
				if !rep.Found || rep.TotalChatLines != want {
					b.Fatalf("user_stats for %s: found %v with %d chat lines, want %d", asked, rep.Found, rep.TotalChatLines, want)
				}
			}
			ReportLatencies(b, lats)
		})
	}
}

// plainUserStats asks user_stats as a plain NATS client: a JSON request on
// the query subject, no header.
func plainUserStats(env *Env, user string) (botdb.UserStatsReply, error) {
	var rep botdb.UserStatsReply
	req, err := json.Marshal(botdb.UserStatsRequest{Username: user})
	if err != nil {
		return rep, err
	}
	msg, err := env.Conn.Request(env.Client.Subjects().UserStats, req, stallTimeout)
	if err != nil {
		return rep, fmt.Errorf("user_stats %s: %w", user, err)
	}
	if err := json.Unmarshal(msg.Data, &rep); err != nil || !rep.Success {
		return rep, fmt.Errorf("user_stats %s: %s (%v)", user, msg.Data, err)
	}
	return rep, nil
}

// warmUp publishes n chat lines of user and waits until they are stored, so
// that the first measured op does not pay for first-use costs (the
// consumer's first pull, SQLite's page cache).
func warmUp(b *testing.B, env *Env, user string, n int) {
	b.Helper()
	ctx := b.Context()
	var seq uint64
	for i := range n {
		var err error
		if seq, err = env.Publish(ctx, ChatEvent(user, i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := env.WaitApplied(ctx, seq); err != nil {
		b.Fatal(err)
	}
}

// concurrentPublishers is the original's concurrency test: 50 publishers.
const concurrentPublishers = 50

// BenchmarkConcurrentLatency (3) runs 50 publishers at once, each publishing
// one chat event and waiting until it is committed before the next: the
// latency a bot sees when many parts of it log at the same time, and the
// rate they reach together. One op is one event; b.N is shared among the
// publishers.
func BenchmarkConcurrentLatency(b *testing.B) {
	env := NewEnv(b, botdb.ServiceConfig{})
	b.Run("publishers=50", func(b *testing.B) {
		ctx := b.Context()
		users := make([]string, concurrentPublishers)
		checks := make([]StoredCheck, concurrentPublishers)
		for i := range users {
			users[i] = env.NewUser("concurrent")
		}
		// One check over all: the log grows by b.N; each user's counter by
		// what that publisher sent.
		id0, err := LastMessageID(ctx, env.DB)
		if err != nil {
			b.Fatal(err)
		}
		for i, u := range users {
			if checks[i], err = StartStoredCheck(ctx, env.DB, u); err != nil {
				b.Fatal(err)
			}
		}

		var next atomic.Int64
		lats := make([][]time.Duration, concurrentPublishers)
		errs := make([]error, concurrentPublishers)
		var wg sync.WaitGroup
		b.ResetTimer()
		start := time.Now()
		for p := range concurrentPublishers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)); i <= b.N; i = int(next.Add(1)) {
					t0 := time.Now()
					seq, err := env.Publish(ctx, ChatEvent(users[p], i))
					if err == nil {
						err = env.WaitApplied(ctx, seq)
					}
					if err != nil {
						errs[p] = err
						return
					}
					lats[p] = append(lats[p], time.Since(t0))
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		var all []time.Duration
		for p := range concurrentPublishers {
			if errs[p] != nil {
				b.Fatalf("publisher %d: %v", p, errs[p])
			}
			got, err := checks[p].StoredLines(ctx, env.DB)
			if err != nil {
				b.Fatal(err)
			}
			if got != int64(len(lats[p])) {
				b.Fatalf("publisher %d: %d of its %d events stored", p, got, len(lats[p]))
			}
			all = append(all, lats[p]...)
		}
		id1, err := LastMessageID(ctx, env.DB)
		if err != nil {
			b.Fatal(err)
		}
		if id1-id0 != int64(b.N) {
			b.Fatalf("chat log grew by %d lines for %d events published", id1-id0, b.N)
		}
		b.ReportMetric(float64(id1-id0)/float64(b.N), "stored-fraction")
		ReportRate(b, b.N, elapsed)
		ReportLatencies(b, all)
	})
}
