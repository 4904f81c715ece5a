package main

// Read-your-writes as a bot that is not written in Go sees it: these tests
// drive the daemon binary against a separate NATS server and talk to it
// with a plain nats.go connection, and nothing of package botdb.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsbench/natsbench-action/internal/testutil"
)

const plainUsers = 10

// natsServer starts a NATS server on loopback (port -1: any free port),
// with JetStream storing under dir when js is set.
func natsServer(t *testing.T, port int, dir string, js bool) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: js, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats server on port %d not ready", port)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// plainPublish publishes chat lines m{from}..m{to-1} for users u0..u9 and
// flushes, as `nats pub` would.
func plainPublish(t *testing.T, nc *nats.Conn, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		data := fmt.Sprintf(`{"username":"u%d","message":"m%d"}`, i%plainUsers, i)
		if err := nc.Publish("rosey.db.message.log", []byte(data)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if err := nc.FlushTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// plainHealthy waits until the daemon answers query.health.
func plainHealthy(t *testing.T, nc *nats.Conn) {
	t.Helper()
	testutil.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		reply, err := nc.Request("rosey.db.query.health", nil, time.Second)
		if err != nil {
			return err
		}
		var h struct {
			Success bool `json:"success"`
		}
		if err := json.Unmarshal(reply.Data, &h); err != nil || !h.Success {
			return fmt.Errorf("health: %s", reply.Data)
		}
		return nil
	})
}

// plainCounts asks user_stats for every user, starting with the first
// query after whatever came before, and requires exactly the lines of
// events 0..total-1: nothing lost, nothing twice.
func plainCounts(t *testing.T, nc *nats.Conn, total int) {
	t.Helper()
	for u := range plainUsers {
		reply, err := nc.Request("rosey.db.query.user_stats", []byte(fmt.Sprintf(`{"username":"u%d"}`, u)), 30*time.Second)
		if err != nil {
			t.Fatalf("user_stats u%d: %v", u, err)
		}
		var st struct {
			Success bool   `json:"success"`
			Error   string `json:"error"`
			Lines   int    `json:"total_chat_lines"`
		}
		if err := json.Unmarshal(reply.Data, &st); err != nil || !st.Success {
			t.Fatalf("user_stats u%d: %s (%v)", u, reply.Data, err)
		}
		want := total / plainUsers
		if u < total%plainUsers {
			want++
		}
		if st.Lines != want {
			t.Fatalf("user_stats u%d: %d chat lines, want %d (%d lost or twice)", u, st.Lines, want, want-st.Lines)
		}
	}
}

func plainConnect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// plainModes are the daemon's two ways of taking events.
var plainModes = []struct {
	name string
	js   bool
}{{"jetstream", true}, {"core", false}}

func daemonArgs(dbPath, url string, js bool) []string {
	args := []string{"-db", dbPath, "-nats", url}
	if !js {
		args = append(args, "-jetstream=false")
	}
	return args
}

// TestDaemonPlainClientReadsItsWrites: 20,000 events, Flush, then every
// user's count is exact; ten times in a row.
func TestDaemonPlainClientReadsItsWrites(t *testing.T) {
	perRound := 20_000
	if testing.Short() {
		perRound = 2_000
	}
	for _, mode := range plainModes {
		t.Run(mode.name, func(t *testing.T) {
			srv := natsServer(t, -1, t.TempDir(), mode.js)
			startDaemon(t, daemonArgs(filepath.Join(t.TempDir(), "bot.db"), srv.ClientURL(), mode.js)...)
			nc := plainConnect(t, srv.ClientURL())
			plainHealthy(t, nc)
			for round := 1; round <= 10; round++ {
				plainPublish(t, nc, (round-1)*perRound, round*perRound)
				plainCounts(t, nc, round*perRound)
			}
		})
	}
}

// TestDaemonPlainClientSIGKILL: the daemon is killed with SIGKILL, 5,000
// events are published while it is down, and the first query after it
// answers health again is exact. With JetStream the kill comes while it
// applies 20,000 events and every event counts; without, events published
// while it is down are lost by design, so the kill comes after its events
// are applied and the count is of the events published while it ran.
func TestDaemonPlainClientSIGKILL(t *testing.T) {
	for _, mode := range plainModes {
		t.Run(mode.name, func(t *testing.T) {
			srv := natsServer(t, -1, t.TempDir(), mode.js)
			args := daemonArgs(filepath.Join(t.TempDir(), "bot.db"), srv.ClientURL(), mode.js)
			d := startDaemon(t, args...)
			nc := plainConnect(t, srv.ClientURL())
			plainHealthy(t, nc)
			plainPublish(t, nc, 0, 20_000)
			if mode.js {
				// Mid-stream: some events applied, the rest still coming.
				testutil.CheckFor(t, 30*time.Second, time.Millisecond, func() error {
					reply, err := nc.Request("rosey.db.query.health", nil, time.Second)
					if err != nil {
						return err
					}
					var h struct {
						Applied int `json:"events_applied"`
					}
					if err := json.Unmarshal(reply.Data, &h); err != nil || h.Applied < 2000 {
						return fmt.Errorf("waiting for 2000 events applied: %s", reply.Data)
					}
					t.Logf("SIGKILL after %d of 20000 events applied", h.Applied)
					return nil
				})
			} else {
				plainCounts(t, nc, 20_000)
			}
			d.kill(t)
			plainPublish(t, nc, 20_000, 25_000) // while down
			startDaemon(t, args...)
			plainHealthy(t, nc)
			if mode.js {
				plainCounts(t, nc, 25_000)
				return
			}
			plainCounts(t, nc, 20_000)
			// Events from 20,000 on were lost; publish the same numbers
			// again now that it runs.
			plainPublish(t, nc, 20_000, 25_000)
			plainCounts(t, nc, 25_000)
		})
	}
}

// TestDaemonPlainClientNATSRestart: the NATS server restarts (same port,
// same store) under the running daemon; once the daemon answers health
// again, events published and queried are exact, with the stream and its
// events before the restart kept.
func TestDaemonPlainClientNATSRestart(t *testing.T) {
	for _, mode := range plainModes {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := natsServer(t, -1, dir, mode.js)
			port := srv.Addr().(*net.TCPAddr).Port
			startDaemon(t, daemonArgs(filepath.Join(t.TempDir(), "bot.db"), srv.ClientURL(), mode.js)...)
			nc := plainConnect(t, srv.ClientURL())
			plainHealthy(t, nc)
			plainPublish(t, nc, 0, 20_000)
			plainCounts(t, nc, 20_000)

			srv.Shutdown()
			srv.WaitForShutdown()
			natsServer(t, port, dir, mode.js)
			testutil.CheckFor(t, 30*time.Second, 10*time.Millisecond, func() error {
				if !nc.IsConnected() {
					return errors.New("client not reconnected")
				}
				return nil
			})
			plainHealthy(t, nc)
			plainPublish(t, nc, 20_000, 25_000)
			plainCounts(t, nc, 25_000)
		})
	}
}
