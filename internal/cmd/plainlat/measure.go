package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsbench/natsbench-action/botdb"
)

// askedUser is the user every client asks about.
const askedUser = "plainlat"

// client is one way of asking; ask sends one request and returns the time
// from sending it to its reply, having checked the reply.
type client struct {
	name string
	ask  func(ctx context.Context) (time.Duration, error)
}

// row is one client's figures in one round.
type row struct {
	name          string
	p50, p95, p99 time.Duration
	ratio         float64 // p50 over the round's echo p50
	loadBefore    string
	loadAfter     string
}

// measure starts the three processes, runs the rounds and prints the
// tables; the children and the temporary directory are gone when it
// returns, also when ctx ends first.
func measure(ctx context.Context, cfg config, stdout, stderr io.Writer) (err error) {
	dir, err := os.MkdirTemp("", "plainlat-")
	if err != nil {
		return fmt.Errorf("making a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	var ps procs
	defer ps.stopAll()

	natsBin, botdbBin := cfg.NATSServer, cfg.Botdb
	if natsBin == "" {
		fmt.Fprintln(stderr, "plainlat: building nats-server from this module's github.com/nats-io/nats-server/v2")
		if natsBin, err = goBuild(ctx, dir, "nats-server", "github.com/nats-io/nats-server/v2"); err != nil {
			return err
		}
	}
	if botdbBin == "" {
		fmt.Fprintln(stderr, "plainlat: building cmd/botdb")
		if botdbBin, err = goBuild(ctx, dir, "botdb", "github.com/natsbench/natsbench-action/cmd/botdb"); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program's binary for the echo responder: %w", err)
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	srv, err := startProc("nats-server", dir, natsBin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", filepath.Join(dir, "jetstream"))
	if err != nil {
		return err
	}
	ps = append(ps, srv)
	var nc *nats.Conn
	if err := waitFor(ctx, srv, cfg.Timeout, func() (err error) {
		nc, err = nats.Connect(url, nats.Name("plainlat"))
		return err
	}); err != nil {
		return err
	}
	defer nc.Close()

	subj := botdb.NewSubjects(cfg.Prefix)
	bd, err := startProc("botdb", dir, botdbBin, "-db", filepath.Join(dir, "bot.db"), "-nats", url, "-prefix", cfg.Prefix)
	if err != nil {
		return err
	}
	ps = append(ps, bd)
	if err := waitFor(ctx, bd, cfg.Timeout, func() error { return health(nc, subj.Health) }); err != nil {
		return err
	}
	// The event watch is subscribed before the service answers: from here
	// on, EventWatchGrace later, a plain client that published nothing
	// skips the probe.
	trustFrom := time.Now().Add(botdb.EventWatchGrace + 100*time.Millisecond)

	echo, err := startProc("echo", dir, self, "-echo", url)
	if err != nil {
		return err
	}
	ps = append(ps, echo)
	if err := waitFor(ctx, echo, cfg.Timeout, func() error {
		_, err := nc.Request(echoSubject, nil, time.Second)
		return err
	}); err != nil {
		return err
	}

	bnc, err := nats.Connect(url, nats.Name("plainlat-botdb-client"))
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", url, err)
	}
	defer bnc.Close()
	bc := botdb.NewClient(bnc, cfg.Prefix)
	for i := range cfg.Seed {
		if err := bc.Publish(ctx, botdb.Event{Kind: botdb.EventChatMessage, Username: askedUser, Message: "seed " + strconv.Itoa(i)}); err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
	}
	if st, err := bc.UserStats(ctx, askedUser); err != nil {
		return fmt.Errorf("seeding: %w", err)
	} else if st.TotalChatLines != int64(cfg.Seed) {
		return fmt.Errorf("seeding: user %q has %d chat lines after %d published", askedUser, st.TotalChatLines, cfg.Seed)
	}

	clients := makeClients(nc, bc, subj, cfg)

	fmt.Fprintf(stdout, "# plainlat: %s request/reply latency\n\n", subj.UserStats)
	fmt.Fprintf(stdout, "%s; botdb %s; plainlat (also the echo responder) built with %s; GOMAXPROCS %d, %d CPUs.\n",
		version(ctx, natsBin), botdbBin, runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(stdout, "%d requests per client and round after %d warm-up, %d rounds; user %q seeded with %d chat lines. "+
		"Load: the 1-minute load average before and after each client's turn.\n",
		cfg.N, cfg.Warmup, cfg.Rounds, askedUser, cfg.Seed)

	var rounds [][]row
	for r := range cfg.Rounds {
		rows := make([]row, 0, len(clients))
		for _, c := range clients {
			if c.name == "plain-idle" {
				if err := sleepUntil(ctx, trustFrom); err != nil {
					return err
				}
			}
			lb := loadAvg()
			d, err := turn(ctx, c, cfg)
			if err == nil {
				err = ps.exited()
			}
			if err != nil {
				return fmt.Errorf("round %d, client %s: %w", r+1, c.name, err)
			}
			rows = append(rows, row{name: c.name, p50: pct(d, 50), p95: pct(d, 95), p99: pct(d, 99), loadBefore: lb, loadAfter: loadAvg()})
		}
		for i := range rows {
			rows[i].ratio = float64(rows[i].p50) / float64(rows[0].p50)
		}
		rounds = append(rounds, rows)
		printRound(stdout, r+1, cfg.Rounds, rows)
	}
	printSummary(stdout, rounds)
	return nil
}

// makeClients returns the four clients in the order of a round; echo comes
// first, the floor the others are divided by.
func makeClients(nc *nats.Conn, bc *botdb.Client, subj botdb.Subjects, cfg config) []client {
	query := []byte(`{"username":"` + askedUser + `"}`)
	event := []byte(`{"username":"` + askedUser + `","message":"after publish"}`)
	chatSubj, _ := subj.Subject(botdb.EventChatMessage)
	lines := int64(cfg.Seed) // what the asked user has: the plain connection's publishes are counted here
	plainAsk := func() (time.Duration, error) {
		start := time.Now()
		reply, err := nc.Request(subj.UserStats, query, cfg.Timeout)
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		var st botdb.UserStatsReply
		if err := json.Unmarshal(reply.Data, &st); err != nil || !st.Success {
			return 0, fmt.Errorf("user_stats: %s (%v)", reply.Data, err)
		}
		if st.TotalChatLines != lines {
			return 0, fmt.Errorf("user_stats: %d chat lines, want %d: the reply misses this connection's own publishes", st.TotalChatLines, lines)
		}
		return d, nil
	}
	return []client{
		{"echo", func(context.Context) (time.Duration, error) {
			start := time.Now()
			reply, err := nc.Request(echoSubject, query, cfg.Timeout)
			d := time.Since(start)
			if err != nil {
				return 0, err
			}
			if !bytes.Equal(reply.Data, query) {
				return 0, fmt.Errorf("echo answered %q to %q", reply.Data, query)
			}
			return d, nil
		}},
		{"botdb", func(ctx context.Context) (time.Duration, error) {
			start := time.Now()
			st, err := bc.UserStats(ctx, askedUser)
			d := time.Since(start)
			if err != nil {
				return 0, err
			}
			// Its barrier is its own last sync: the plain connection's
			// later publishes may or may not be in.
			if st.TotalChatLines < int64(cfg.Seed) {
				return 0, fmt.Errorf("user_stats: %d chat lines, want at least the %d this client published", st.TotalChatLines, cfg.Seed)
			}
			return d, nil
		}},
		{"plain-idle", func(context.Context) (time.Duration, error) { return plainAsk() }},
		{"plain-after-publish", func(context.Context) (time.Duration, error) {
			if err := nc.Publish(chatSubj, event); err != nil {
				return 0, err
			}
			lines++
			return plainAsk()
		}},
	}
}

// turn runs one client's warm-up and measured requests and returns the
// measured durations, sorted.
func turn(ctx context.Context, c client, cfg config) ([]time.Duration, error) {
	d := make([]time.Duration, 0, cfg.N)
	for i := range cfg.Warmup + cfg.N {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := c.ask(ctx)
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i+1, err)
		}
		if i >= cfg.Warmup {
			d = append(d, t)
		}
	}
	slices.Sort(d)
	return d, nil
}

// exited returns the first child that is no longer running, as an error.
func (ps procs) exited() error {
	for _, p := range ps {
		if err := p.exited(); err != nil {
			return err
		}
	}
	return nil
}

// health returns nil once the service at subject answers with success.
func health(nc *nats.Conn, subject string) error {
	reply, err := nc.Request(subject, []byte("{}"), time.Second)
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
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// version returns the first line of `bin --version`, or bin's path.
func version(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return bin
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// pct returns the p-th percentile of sorted (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

// us returns d in whole microseconds, rounded.
func us(d time.Duration) int64 { return int64((d + time.Microsecond/2) / time.Microsecond) }

func printRound(w io.Writer, r, of int, rows []row) {
	fmt.Fprintf(w, "\n## Round %d of %d\n\n", r, of)
	fmt.Fprintln(w, "| client | p50 µs | p95 µs | p99 µs | p50 / echo | load before | load after |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, x := range rows {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.2f | %s | %s |\n", x.name, us(x.p50), us(x.p95), us(x.p99), x.ratio, x.loadBefore, x.loadAfter)
	}
}

// printSummary prints each client's medians over the rounds.
func printSummary(w io.Writer, rounds [][]row) {
	fmt.Fprintf(w, "\n## Median over %d rounds\n\n", len(rounds))
	fmt.Fprintln(w, "| client | p50 µs | p95 µs | p99 µs | p50 / echo | load min-max |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for i, first := range rounds[0] {
		var p50, p95, p99, ratio, load []float64
		for _, rows := range rounds {
			x := rows[i]
			p50 = append(p50, float64(us(x.p50)))
			p95 = append(p95, float64(us(x.p95)))
			p99 = append(p99, float64(us(x.p99)))
			ratio = append(ratio, x.ratio)
			for _, l := range []string{x.loadBefore, x.loadAfter} {
				if v, err := strconv.ParseFloat(l, 64); err == nil {
					load = append(load, v)
				}
			}
		}
		loads := "n/a"
		if len(load) > 0 {
			loads = fmt.Sprintf("%.2f-%.2f", slices.Min(load), slices.Max(load))
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.2f | %s |\n", first.name, median(p50), median(p95), median(p99), median(ratio), loads)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
