package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/botdb"
)

// sustainedWindow bounds the events published but not yet committed in the
// sustained benchmarks: a steady stream that the service keeps up with,
// rather than a backlog.
const sustainedWindow = 1000

// BenchmarkSustainedThroughput (4) publishes a steady stream of chat events,
// never more than sustainedWindow ahead of the service, and reports the rate
// at which they are stored and the stored fraction (which must be 1). One op
// is one event; b.N is the length of the stream.
func BenchmarkSustainedThroughput(b *testing.B) {
	env := NewEnv(b, botdb.ServiceConfig{})
	b.Run(fmt.Sprintf("window=%d", sustainedWindow), func(b *testing.B) {
		ctx := b.Context()
		user := env.NewUser("sustained")
		check, err := StartStoredCheck(ctx, env.DB, user)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		if err := publishWindowed(ctx, env, b.N, sustainedWindow, func(i int) botdb.Event { return ChatEvent(user, i) }); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		ReportRate(b, b.N, elapsed)
		CheckAllStored(ctx, b, env.DB, check, b.N)
	})
}

// publishWindowed publishes n events made by ev, waiting whenever more than
// window are uncommitted, and then waits until all are committed.
func publishWindowed(ctx context.Context, env *Env, n, window int, ev func(i int) botdb.Event) error {
	var seq uint64
	for i := range n {
		var err error
		if seq, err = env.Publish(ctx, ev(i)); err != nil {
			return err
		}
		if seq > uint64(window) {
			if err := env.WaitApplied(ctx, seq-uint64(window)); err != nil {
				return err
			}
		}
	}
	if err := env.Flush(ctx); err != nil {
		return err
	}
	return env.WaitApplied(ctx, seq)
}

// BenchmarkBurst (5) publishes b.N chat events as fast as the bot can (at
// full length, over 100,000: far beyond the original's burst of 500) and
// waits until the last is stored: ns/op is the time to store the burst per
// event. A burst must never stall or lose an event.
func BenchmarkBurst(b *testing.B) {
	env := NewEnv(b, botdb.ServiceConfig{})
	b.Run("unpaced", func(b *testing.B) {
		ctx := b.Context()
		user := env.NewUser("burst")
		check, err := StartStoredCheck(ctx, env.DB, user)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		var seq uint64
		for i := range b.N {
			if seq, err = env.Publish(ctx, ChatEvent(user, i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := env.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		if err := env.WaitApplied(ctx, seq); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		ReportRate(b, b.N, elapsed)
		CheckAllStored(ctx, b, env.DB, check, b.N)
	})
}
