package botdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsbench/natsbench-action/internal/testutil"
)

// TestProbesShared: queries that arrive while a probe is in flight share
// the next one: one probe for all of them, sent after theirs began.
func TestProbesShared(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Uint64
	m := &probes{publish: func() (uint64, error) {
		n := calls.Add(1)
		if n == 1 {
			<-release
		}
		return n, nil
	}}
	ctx := testCtx(t)
	leader := make(chan uint64, 1)
	go func() {
		seq, _ := m.get(ctx)
		leader <- seq
	}()
	testutil.CheckFor(t, 10*time.Second, time.Millisecond, func() error {
		if calls.Load() != 1 {
			return errors.New("the first probe is not in flight yet")
		}
		return nil
	})
	const followers = 10
	seqs := make(chan uint64, followers)
	for range followers {
		go func() {
			seq, err := m.get(ctx)
			if err != nil {
				t.Error(err)
			}
			seqs <- seq
		}()
	}
	testutil.CheckFor(t, 10*time.Second, time.Millisecond, func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.next == nil || m.next.joined != followers {
			return errors.New("followers have not all joined the next round")
		}
		return nil
	})
	close(release)
	if seq := <-leader; seq != 1 {
		t.Errorf("leader's probe = %d, want 1", seq)
	}
	for range followers {
		if seq := <-seqs; seq != 2 {
			t.Errorf("follower's probe = %d, want 2 (one shared probe after the first)", seq)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d probes published for 11 queries, want 2", n)
	}
	if seq, _ := m.get(ctx); seq != 3 { // idle again: a lone query publishes its own
		t.Errorf("next probe = %d, want 3", seq)
	}
}

// plainUserStats asks user_stats with a plain request (no header), as a
// client that is not botdb.Client does.
func plainUserStats(t *testing.T, nc *nats.Conn, subject, user string) UserStatsReply {
	t.Helper()
	reply, err := nc.Request(subject, []byte(`{"username":"`+user+`"}`), 20*time.Second)
	if err != nil {
		t.Fatalf("user_stats %s: %v", user, err)
	}
	var st UserStatsReply
	if err := json.Unmarshal(reply.Data, &st); err != nil || !st.Success {
		t.Fatalf("user_stats %s: %s (%v)", user, reply.Data, err)
	}
	return st
}

// TestPlainClientReadsItsWrites: a plain NATS client (no header, no Sync,
// no Flush) that publishes and then asks gets a reply that reflects every
// event it published, in both modes, every time; concurrent queries too.
func TestPlainClientReadsItsWrites(t *testing.T) {
	for _, mode := range serviceModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, ServiceConfig{NoJetStream: mode.noJS})
			subj := e.client.Subjects()
			event, _ := subj.Subject(EventChatMessage)
			const users, rounds = 5, 5
			perRound := 2000
			if raceEnabled {
				perRound = 500
			}
			for round := 1; round <= rounds; round++ {
				for i := range perRound {
					if err := e.nc.Publish(event, []byte(fmt.Sprintf(`{"username":"p%d","message":"m"}`, i%users))); err != nil {
						t.Fatal(err)
					}
				}
				for u := range users {
					if st := plainUserStats(t, e.nc, subj.UserStats, fmt.Sprintf("p%d", u)); st.TotalChatLines != int64(round*perRound/users) {
						t.Fatalf("round %d: p%d has %d lines, want %d", round, u, st.TotalChatLines, round*perRound/users)
					}
				}
			}
			if !mode.noJS { // the queries' probes stored nothing
				if last := streamLastSeq(t, e); last != uint64(rounds*perRound) {
					t.Errorf("stream's last sequence %d after %d events and only queries, want %d", last, rounds*perRound, rounds*perRound)
				}
			}
			// Many queries at once, each after its own publish.
			var wg sync.WaitGroup
			for q := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					nc := connectTest(t, e.srv)
					user := fmt.Sprintf("c%d", q)
					if err := nc.Publish(event, []byte(`{"username":"`+user+`","message":"m"}`)); err != nil {
						t.Error(err)
						return
					}
					reply, err := nc.Request(subj.UserStats, []byte(`{"username":"`+user+`"}`), 20*time.Second)
					if err != nil || !strings.Contains(string(reply.Data), `"total_chat_lines":1,`) {
						t.Errorf("user_stats %s after its publish: %v", user, err)
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestQueriesWaitWhileCatchingUp: while the service has not applied the
// events a query needs (the writer is held here, as a long backlog would),
// the query waits, and at its deadline answers 503 "catching up: N events
// behind", never a stale count; health reports the lag at once. Once the
// writer is free, the same query is exact and the lag goes to zero.
func TestQueriesWaitWhileCatchingUp(t *testing.T) {
	for _, mode := range serviceModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, ServiceConfig{NoJetStream: mode.noJS, QueryWait: 300 * time.Millisecond})
			ctx := testCtx(t)
			subj := e.client.Subjects()
			plainUserStats(t, e.nc, subj.UserStats, "nobody") // stores nothing in the stream
			hold, err := e.db.write.Conn(ctx)                 // the store's only writer
			if err != nil {
				t.Fatal(err)
			}
			event, _ := subj.Subject(EventChatMessage)
			const n = 100
			for range n {
				if err := e.nc.Publish(event, []byte(`{"username":"late","message":"m"}`)); err != nil {
					t.Fatal(err)
				}
			}
			reply, err := e.nc.Request(subj.UserStats, []byte(`{"username":"late"}`), 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("catching up: %d events behind", n)
			if code := reply.Header.Get(micro.ErrorCodeHeader); code != "503" || !strings.Contains(string(reply.Data), want) {
				t.Errorf("query while behind: code %q, %s; want 503 %q", code, reply.Data, want)
			}
			reply, err = e.nc.Request(subj.Health, nil, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var h HealthReply
			if err := json.Unmarshal(reply.Data, &h); err != nil || h.Lag < n {
				t.Errorf("health while behind: %s (%v), want a lag of at least %d", reply.Data, err, n)
			}
			if err := hold.Close(); err != nil {
				t.Fatal(err)
			}
			// Caught up first, so that the query below does not race its
			// short QueryWait on a loaded machine.
			testutil.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
				if lag := e.svc.Health().Lag; lag != 0 {
					return fmt.Errorf("lag %d after the writer was freed", lag)
				}
				return nil
			})
			if st := plainUserStats(t, e.nc, subj.UserStats, "late"); st.TotalChatLines != n {
				t.Errorf("after catching up: %d lines, want %d", st.TotalChatLines, n)
			}
		})
	}
}

// TestEmptiedStreamIsNoBacklog: a stream emptied while the service was down
// (an operator's purge) keeps its last sequence but holds nothing to catch
// up with, so queries after the start are answered, not held until their
// QueryWait (an hour here).
func TestEmptiedStreamIsNoBacklog(t *testing.T) {
	srv := startTestServer(t, true)
	db := MustOpenDB(t)
	ctx := testCtx(t)
	first := startService(t, connectTest(t, srv), db, ServiceConfig{})
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	nc := connectTest(t, srv)
	for range 10 {
		if err := nc.Publish("rosey.db.message.log", []byte(`{"username":"gone","message":"m"}`)); err != nil {
			t.Fatal(err)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		info, err := stream.Info(ctx)
		if err != nil || info.State.LastSeq < 10 {
			return fmt.Errorf("stream state %+v, %v: waiting for the 10 events", info, err)
		}
		return nil
	})
	if err := stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	svc := startService(t, connectTest(t, srv), db, ServiceConfig{QueryWait: time.Hour})
	c := NewClient(nc, "")
	done := make(chan error, 1)
	go func() {
		_, err := c.UserStats(ctx, "gone") // Botdb-Min-Seq: 0
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("user_stats after the purge: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("user_stats still waiting after the purge: health %+v", svc.Health())
	}
}
