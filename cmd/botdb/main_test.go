package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsbench/natsbench-action/botdb"
	"github.com/natsbench/natsbench-action/internal/testutil"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildDaemon builds this command once per test run.
func buildDaemon(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "botdb-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "botdb")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// daemon is a running botdb process.
type daemon struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(buildDaemon(t), args...), stderr: &syncBuffer{}, exited: make(chan error, 1)}
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.exited
		if t.Failed() {
			t.Logf("daemon %v stderr:\n%s", args, d.stderr.String())
		}
	})
	return d
}

// terminate sends SIGTERM and requires a clean exit within a few seconds.
func (d *daemon) terminate(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.exited:
		d.exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v\n%s", err, d.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon still running 10s after SIGTERM")
	}
}

func (d *daemon) kill(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-d.exited
	d.exited <- err
}

// waitHealthy polls the health query until the daemon answers.
func waitHealthy(t *testing.T, c *botdb.Client) botdb.Health {
	t.Helper()
	var h botdb.Health
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var err error
		h, err = c.Health(ctx)
		return err
	})
	return h
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func publishLines(t *testing.T, c *botdb.Client, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := c.Publish(context.Background(), botdb.Event{Kind: botdb.EventChatMessage, Username: fmt.Sprintf("u%d", i%10), Message: fmt.Sprintf("m%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkStored opens the database after the daemon exited and checks that
// m0..m{n-1} are each stored exactly once.
func checkStored(t *testing.T, path string, n int) {
	t.Helper()
	ctx := context.Background()
	db, err := botdb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seen := map[string]int{}
	for off := 0; ; off += botdb.MaxLimit {
		page, err := db.RecentMessages(ctx, botdb.MaxLimit, off)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			seen[m.Message]++
		}
		if len(page) < botdb.MaxLimit {
			break
		}
	}
	bad := 0
	for i := range n {
		if seen[fmt.Sprintf("m%d", i)] != 1 {
			bad++
		}
	}
	if bad != 0 || len(seen) != n {
		t.Errorf("%d of %d messages lost or duplicated (%d distinct stored)", bad, n, len(seen))
	}
}

// TestDaemonSIGKILL kills the daemon with SIGKILL while it applies a burst,
// publishes more while it is down, restarts it, and checks that every
// event is stored exactly once. The NATS server belongs to the test, as an
// external server would.
func TestDaemonSIGKILL(t *testing.T) {
	srv, err := botdb.StartServer(botdb.ServerOptions{Port: -1, JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { botdb.ShutdownServer(srv) })
	dbPath := filepath.Join(t.TempDir(), "bot.db")
	args := []string{"-db", dbPath, "-nats", srv.ClientURL()}
	client := botdb.NewClient(connect(t, srv.ClientURL()), "")

	d := startDaemon(t, args...)
	waitHealthy(t, client)
	const n = 40_000
	publishLines(t, client, 0, n/2)
	// Kill mid-burst: some batches committed, later ones in flight.
	testutil.CheckFor(t, 30*time.Second, time.Millisecond, func() error {
		h, err := client.Health(context.Background()) // no barrier: answers at once
		if err != nil {
			return err
		}
		if h.EventsApplied < 2000 {
			return fmt.Errorf("%d events applied, waiting for 2000 before the kill", h.EventsApplied)
		}
		t.Logf("SIGKILL after %d of %d events applied", h.EventsApplied, n/2)
		return nil
	})
	d.kill(t)
	publishLines(t, client, n/2, n) // while down

	d2 := startDaemon(t, args...)
	waitHealthy(t, client)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := client.ChannelStats(ctx) // waits for every event published above
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, c := range cs.TopChatters {
		total += c.ChatLines
	}
	if total != n {
		t.Errorf("chat lines counted = %d, want %d", total, n)
	}
	d2.terminate(t)
	if !strings.Contains(d2.stderr.String(), "stopped") {
		t.Errorf("no shutdown log line in:\n%s", d2.stderr.String())
	}
	checkStored(t, dbPath, n)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// connectRetry connects once the daemon's embedded server listens.
func connectRetry(t *testing.T, url string) *nats.Conn {
	t.Helper()
	var nc *nats.Conn
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		var err error
		nc, err = nats.Connect(url)
		return err
	})
	t.Cleanup(nc.Close)
	return nc
}

// TestDaemonEmbeddedServer runs the daemon with its own server, stops it
// with SIGTERM, and restarts it on the same files.
func TestDaemonEmbeddedServer(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "bot.db")
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := []string{"-db", dbPath, "-listen", listen, "-prefix", "bot2"}
	url := "nats://" + listen

	d := startDaemon(t, args...)
	client := botdb.NewClient(connectRetry(t, url), "bot2")
	waitHealthy(t, client)
	publishLines(t, client, 0, 1000)
	st, err := client.UserStats(context.Background(), "u3")
	if err != nil || st.TotalChatLines != 100 {
		t.Fatalf("user_stats = %+v, %v; want 100 lines", st, err)
	}
	d.terminate(t)
	if _, err := os.Stat(dbPath + ".nats"); err != nil {
		t.Errorf("JetStream store next to the database: %v", err)
	}

	// Restarted on the same files, now fully durable: the data is there,
	// and new events too.
	d2 := startDaemon(t, append(args, "-durable")...)
	client = botdb.NewClient(connectRetry(t, url), "bot2")
	waitHealthy(t, client)
	publishLines(t, client, 1000, 1010)
	st, err = client.UserStats(context.Background(), "u3")
	if err != nil || st.TotalChatLines != 101 {
		t.Fatalf("user_stats after restart = %+v, %v; want 101 lines", st, err)
	}
	d2.terminate(t)
	if !strings.Contains(d2.stderr.String(), "sync_always=true") {
		t.Errorf("-durable did not reach the embedded server:\n%s", d2.stderr.String())
	}
}

// TestDaemonExternalWithoutJetStream: the daemon refuses to start and says
// how to fix it.
func TestDaemonExternalWithoutJetStream(t *testing.T) {
	srv, err := botdb.StartServer(botdb.ServerOptions{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { botdb.ShutdownServer(srv) })
	// The connection's callbacks may still log after run returns: the
	// writer is locked.
	var stderr bytes.Buffer
	var mu sync.Mutex
	logs := &lockedWriter{mu: &mu, w: &stderr}
	err = run(context.Background(), []string{"-db", filepath.Join(t.TempDir(), "b.db"), "-nats", srv.ClientURL()}, nil, &bytes.Buffer{}, logs)
	if !errors.Is(err, botdb.ErrNoJetStream) || !strings.Contains(err.Error(), "-js") || !strings.Contains(err.Error(), "-jetstream=false") {
		t.Errorf("run = %v, want ErrNoJetStream explaining -js and -jetstream=false", err)
	}

	// With -jetstream=false it runs, warns, and stops on cancel.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	mu.Lock()
	stderr.Reset()
	mu.Unlock()
	go func() {
		done <- run(ctx, []string{"-db", filepath.Join(t.TempDir(), "b.db"), "-nats", srv.ClientURL(), "-jetstream=false"}, nil, &bytes.Buffer{}, logs)
	}()
	client := botdb.NewClient(connect(t, srv.ClientURL()), "")
	waitHealthy(t, client)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(stderr.String(), "events published while botdb is down are lost") {
		t.Errorf("no downtime warning in:\n%s", stderr.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestRunBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-db", ""}, "flag -db"},
		{[]string{"-listen", "nope"}, "flag -listen"},
		{[]string{"-listen", "127.0.0.1:99999"}, "port must be"},
		{[]string{"-prefix", "a b"}, "prefix"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-linger", "-1s"}, "flag -linger"},
		{[]string{"-log-level", "loud"}, "log-level"},
		{[]string{"-nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"-db", filepath.Join(t.TempDir(), "x.db"), "-listen", "127.0.0.1:0"}, tt.args...)
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // if it starts at all, stop at once
			err := run(ctx, args, nil, &bytes.Buffer{}, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("run %v = %v (stderr %q), want an error about %q", tt.args, err, stderr.String(), tt.want)
			}
		})
	}
}
