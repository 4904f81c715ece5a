package benchmarks

import (
	"testing"

	"github.com/natsbench/natsbench-action/botdb"
)

// memoryChunk is one op of BenchmarkMemoryStability: 1,000 events, so that
// the reported growth per op is the growth per 1,000 events.
const memoryChunk = 1000

// BenchmarkMemoryStability (8) streams chat events through NATS into SQLite
// and reports how much the live Go heap (after a full GC) and the resident
// set grew per 1,000 events, after a warm-up that fills caches and pools. A
// leak shows as steady growth; a healthy service stays near zero once warm,
// whatever the stream's length. One op is 1,000 events published with the
// sustained window and committed.
//
// A short run also counts caches still filling: JetStream keeps the block
// it writes (up to 8 MB, about 50,000 events) in memory until 10 s after
// its last use. Judge a leak at -benchtime 300x (300,000 events), where
// those caches have turned over.
func BenchmarkMemoryStability(b *testing.B) {
	ctx := b.Context()
	env := NewEnv(b, botdb.ServiceConfig{})
	user := env.NewUser("memory")
	ev := func(i int) botdb.Event { return ChatEvent(user, i) }
	// Warm-up: reach steady state (statement caches, connection buffers,
	// JetStream blocks) before the first sample.
	if err := publishWindowed(ctx, env, 5*memoryChunk, sustainedWindow, ev); err != nil {
		b.Fatal(err)
	}
	check, err := StartStoredCheck(ctx, env.DB, user)
	if err != nil {
		b.Fatal(err)
	}
	before, err := SampleMemory()
	if err != nil {
		b.Fatal(err)
	}
	events := 0
	for b.Loop() {
		if err := publishWindowed(ctx, env, memoryChunk, sustainedWindow, ev); err != nil {
			b.Fatal(err)
		}
		events += memoryChunk
	}
	after, err := SampleMemory()
	if err != nil {
		b.Fatal(err)
	}
	CheckAllStored(ctx, b, env.DB, check, events)
	b.ReportMetric(growthPer1k(before.HeapBytes, after.HeapBytes, events), "B/1k-events")
	b.ReportMetric(growthPer1k(before.RSSBytes, after.RSSBytes, events), "rss-B/1k-events")
	b.ReportMetric(float64(after.HeapBytes), "heap-B")
}
