package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/botdb"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(seq(100)...), 0.99, 99 * time.Millisecond},
		{"p95 of 100 is the 95th", ms(seq(100)...), 0.95, 95 * time.Millisecond},
		{"p100 is the max", ms(1, 5, 9), 1, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestParseStatm(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    uint64
		wantErr bool
	}{
		{"resident pages times page size", "1000 250 30 5 0 400 0\n", 250 * 4096, false},
		{"one field", "1000\n", 0, true},
		{"not a number", "1000 x 30\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatm([]byte(tt.data), 4096)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatm(%q) error = %v, want error %v", tt.data, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseStatm(%q) = %d, want %d", tt.data, got, tt.want)
			}
		})
	}
}

func TestSampleMemoryReadsThisProcess(t *testing.T) {
	m, err := SampleMemory()
	if err != nil {
		t.Fatal(err)
	}
	if m.HeapBytes == 0 || m.RSSBytes < m.HeapBytes/2 {
		t.Errorf("SampleMemory() = %+v: want a live heap and a resident set of at least its order", m)
	}
}

func TestGrowthPer1k(t *testing.T) {
	if got := growthPer1k(1000, 3000, 4000); got != 500 {
		t.Errorf("growth of 2000 B over 4000 events = %v B/1k, want 500", got)
	}
	if got := growthPer1k(3000, 1000, 1000); got != -2000 {
		t.Errorf("shrinking by 2000 B over 1000 events = %v B/1k, want -2000", got)
	}
	if got := growthPer1k(0, 10, 0); got != 0 {
		t.Errorf("no events = %v, want 0", got)
	}
}

// TestEnvStoresEveryEventAcrossARestart drives the harness as the
// benchmarks do: publish, wait for each event, stop the
// service, publish during the downtime, restart, and count in the store.
func TestEnvStoresEveryEventAcrossARestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env := NewEnv(t, botdb.ServiceConfig{})
	user := env.NewUser("harness")
	check, err := StartStoredCheck(ctx, env.DB, user)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		seq, err := env.Publish(ctx, ChatEvent(user, i))
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i+1) {
			t.Fatalf("event %d got stream sequence %d, want %d", i, seq, i+1)
		}
		if err := env.WaitApplied(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.StopService(ctx); err != nil {
		t.Fatal(err)
	}
	if got := env.Applied(); got != 0 {
		t.Errorf("Applied() with the service stopped = %d, want 0", got)
	}
	for i := range 30 {
		if _, err := env.Publish(ctx, ChatEvent(user, 20+i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.StartService(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.WaitApplied(ctx, env.Published()); err != nil {
		t.Fatal(err)
	}
	got, err := check.Stored(ctx, env.DB)
	if err != nil {
		t.Fatal(err)
	}
	if got != 50 {
		t.Errorf("stored %d chat lines, want 50", got)
	}
	// A query through the client adds a barrier to the stream; Sync keeps
	// the harness's sequence numbers right after it.
	if _, err := env.Client.UserStats(ctx, user); err != nil {
		t.Fatal(err)
	}
	if err := env.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	seq, err := env.Publish(ctx, ChatEvent(user, 50))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.WaitApplied(ctx, seq); err != nil {
		t.Fatal(err)
	}
	if lines, err := ChatLines(ctx, env.DB, user); err != nil || lines != 51 {
		t.Errorf("ChatLines after the barrier = %d, %v; want 51", lines, err)
	}
}

// TestWaitAppliedWakesConcurrentWaiters has several publishers wait at
// once, as BenchmarkConcurrentLatency does (run it with -race).
func TestWaitAppliedWakesConcurrentWaiters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env := NewEnv(t, botdb.ServiceConfig{})
	const publishers, each = 5, 20
	users := make([]string, publishers)
	for i := range users {
		users[i] = env.NewUser("watch")
	}
	errs := make(chan error, publishers)
	for p := range publishers {
		go func() {
			for i := range each {
				seq, err := env.Publish(ctx, ChatEvent(users[p], i))
				if err == nil {
					err = env.WaitApplied(ctx, seq)
				}
				if err == nil && env.Applied() < seq {
					err = fmt.Errorf("woken for event %d with only %d applied", seq, env.Applied())
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range publishers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range users {
		if n, err := ChatLines(ctx, env.DB, u); err != nil || n != each {
			t.Errorf("ChatLines(%s) = %d, %v; want %d", u, n, err, each)
		}
	}
}
