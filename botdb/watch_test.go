package botdb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsbench/natsbench-action/internal/testutil"
)

// publishChat publishes n chat lines of user on nc, as a plain client does.
func publishChat(t *testing.T, nc *nats.Conn, subject, user string, n int) {
	t.Helper()
	for range n {
		if err := nc.Publish(subject, []byte(`{"username":"`+user+`","message":"m"}`)); err != nil {
			t.Fatal(err)
		}
	}
}

// probesFor runs ask and returns how many probes the service sent meanwhile.
func probesFor(c *jsConsumer, ask func()) uint64 {
	before := c.probesSent.Load()
	ask()
	return c.probesSent.Load() - before
}

// waitWatchTrusted waits out the event watch's grace: until a plain query
// of user on nc, right after another, is answered without a probe.
func waitWatchTrusted(t *testing.T, e *env, nc *nats.Conn, user string) {
	t.Helper()
	c := e.svc.mode.(*jsConsumer)
	subj := e.client.Subjects()
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		plainUserStats(t, nc, subj.UserStats, user)
		if n := probesFor(c, func() { plainUserStats(t, nc, subj.UserStats, user) }); n != 0 {
			return fmt.Errorf("a query right after another sent %d probes", n)
		}
		return nil
	})
}

// TestIdlePlainQuerySkipsProbe: past the watch's grace, a plain query that
// follows a probe with no event in between reuses its sequence (no probe);
// a query after an event from its own connection or from another probes
// again, and every count is exact; so does the first query after the
// service's connection reconnects (the grace's end is not tested: it is a
// matter of time).
func TestIdlePlainQuerySkipsProbe(t *testing.T) {
	e := newEnv(t, ServiceConfig{})
	c := e.svc.mode.(*jsConsumer)
	subj := e.client.Subjects()
	event, _ := subj.Subject(EventChatMessage)
	other := connectTest(t, e.srv)
	ask := func(nc *nats.Conn, user string, want int64) uint64 {
		t.Helper()
		return probesFor(c, func() {
			if st := plainUserStats(t, nc, subj.UserStats, user); st.TotalChatLines != want {
				t.Fatalf("user_stats %s: %d lines, want %d", user, st.TotalChatLines, want)
			}
		})
	}

	publishChat(t, e.nc, event, "mine", 3)
	waitWatchTrusted(t, e, e.nc, "mine")
	for range 10 {
		if n := ask(e.nc, "mine", 3); n != 0 {
			t.Fatalf("an idle plain query sent %d probes, want 0", n)
		}
	}
	publishChat(t, e.nc, event, "mine", 2)
	if n := ask(e.nc, "mine", 5); n != 1 {
		t.Errorf("a query after its own publish sent %d probes, want 1", n)
	}
	if n := ask(e.nc, "mine", 5); n != 0 {
		t.Errorf("the idle query after it sent %d probes, want 0", n)
	}
	// Another connection's event voids the barrier for every requester.
	publishChat(t, other, event, "theirs", 4)
	if err := other.Flush(); err != nil {
		t.Fatal(err)
	}
	ask(e.nc, "mine", 5)
	if n := ask(other, "theirs", 4); n != 0 {
		t.Errorf("the idle query after the other's publish sent %d probes, want 0", n)
	}

	// A reconnect may have lost events on the way: probe again.
	stats := e.svc.nc.Stats()
	if err := e.svc.nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		if e.svc.nc.Stats().Reconnects == stats.Reconnects || !e.svc.nc.IsConnected() {
			return errors.New("the service's connection has not reconnected")
		}
		return nil
	})
	// Reconnected: the service's endpoints answer again.
	testutil.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		_, err := e.nc.Request(subj.Health, nil, time.Second)
		return err
	})
	if n := ask(e.nc, "mine", 5); n != 1 {
		t.Errorf("the first query after a reconnect sent %d probes, want 1", n)
	}
}

// TestPlainReadYourWritesManyConns: many plain connections at once, each
// publishing none to a few events before each query, always read their
// own events, in both modes (with JetStream past the watch's grace, so
// that queries skip probes when nothing arrived). Then, with nothing
// published, concurrent queries share at most two probes: the one in
// flight when they arrive and the next.
func TestPlainReadYourWritesManyConns(t *testing.T) {
	for _, mode := range serviceModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, ServiceConfig{NoJetStream: mode.noJS})
			subj := e.client.Subjects()
			event, _ := subj.Subject(EventChatMessage)
			if !mode.noJS {
				waitWatchTrusted(t, e, e.nc, "nobody")
			}
			const conns = 8
			rounds := 100
			if raceEnabled {
				rounds = 40
			}
			ncs := make([]*nats.Conn, conns)
			for i := range ncs {
				ncs[i] = connectTest(t, e.srv)
			}
			var wg sync.WaitGroup
			for i, nc := range ncs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					user := fmt.Sprintf("many%d", i)
					rng := rand.New(rand.NewPCG(uint64(i), 1))
					var sent int64
					for r := range rounds {
						n := rng.IntN(4) // none half of the time
						if n > 2 {
							n = 0
						}
						for range n {
							if err := nc.Publish(event, []byte(`{"username":"`+user+`","message":"m"}`)); err != nil {
								t.Error(err)
								return
							}
						}
						sent += int64(n)
						reply, err := nc.Request(subj.UserStats, []byte(`{"username":"`+user+`"}`), 20*time.Second)
						if err != nil {
							t.Errorf("%s round %d: %v", user, r, err)
							return
						}
						want := fmt.Sprintf(`"total_chat_lines":%d,`, sent)
						if sent == 0 {
							want = `"found":false`
						}
						if !strings.Contains(string(reply.Data), want) {
							t.Errorf("%s round %d after %d events: %s", user, r, sent, reply.Data)
							return
						}
					}
				}()
			}
			wg.Wait()
			if mode.noJS || t.Failed() {
				return
			}
			c := e.svc.mode.(*jsConsumer)
			n := probesFor(c, func() {
				var wg sync.WaitGroup
				for i, nc := range ncs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range 5 {
							if _, err := nc.Request(subj.UserStats, []byte(fmt.Sprintf(`{"username":"many%d"}`, i)), 20*time.Second); err != nil {
								t.Error(err)
							}
						}
					}()
				}
				wg.Wait()
			})
			if n > 2 {
				t.Errorf("%d idle queries sent %d probes, want at most 2", conns*5, n)
			}
		})
	}
}
