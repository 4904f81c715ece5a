// Command plainlat measures user_stats request/reply latency as a bot that
// is not written in Go sees it: three processes on loopback TCP (an
// external nats-server with JetStream, the botdb daemon, and an echo
// responder) and, in this process, plain nats.go connections asking in
// turn. docs/BOTDB.md ("Plain client against botdb.Client") has the
// figures and how to read them.
//
//	go run ./internal/cmd/plainlat                          # 4 rounds of 20,000 after 500 warm-up
//	go run ./internal/cmd/plainlat -n 2000 -rounds 2        # a quick look
//	go run ./internal/cmd/plainlat -nats-server $(which nats-server)
//
// Without -nats-server and -botdb it builds both with `go build` (the
// server from this module's github.com/nats-io/nats-server/v2, so its
// version is go.mod's) into a temporary directory; run it from inside the
// module. Each round measures four clients one after the other:
//
//   - echo: a separate process that answers each request with its payload,
//     the floor of any request/reply through this server on this machine;
//   - botdb: botdb.Client, which syncs once after its events and then sends
//     the Botdb-Min-Seq header on every query;
//   - plain-idle: no header, nothing published between queries (measured
//     once botdb.EventWatchGrace has passed since the daemon answered);
//   - plain-after-publish: no header, one chat line of the asked user
//     published on the same connection before each query, and the count
//     checked to include it.
//
// The timer covers the request and its reply only. It prints a markdown
// table per round (p50, p95, p99 in µs, p50 over the round's echo p50, and
// the 1-minute load average before and after each client's turn) and the
// medians over the rounds. The figures are only worth comparing within
// one run: quote the load average with them.
//
// `plainlat -echo URL` is the echo responder it starts; it is not meant to
// be run by hand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/natsbench/natsbench-action/botdb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "plainlat: %v\n", err)
		os.Exit(1)
	}
}

// config is the parsed command line.
type config struct {
	NATSServer string
	Botdb      string
	N          int
	Warmup     int
	Rounds     int
	Seed       int
	Prefix     string
	Timeout    time.Duration
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("plainlat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.NATSServer, "nats-server", "", "nats-server binary `path`; empty builds it from this module's github.com/nats-io/nats-server/v2")
	fs.StringVar(&c.Botdb, "botdb", "", "botdb daemon binary `path`; empty builds ./cmd/botdb")
	fs.IntVar(&c.N, "n", 20000, "measured requests per client and round")
	fs.IntVar(&c.Warmup, "warmup", 500, "unmeasured requests before each client's measured ones")
	fs.IntVar(&c.Rounds, "rounds", 4, "rounds of the four clients")
	fs.IntVar(&c.Seed, "seed", 100, "chat lines of the asked user published before the first round")
	fs.StringVar(&c.Prefix, "prefix", botdb.DefaultPrefix, "botdb subject `prefix`")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "bound on one request, and on each process's start")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (all options are flags)", fs.Arg(0))
	}
	return c, c.validate()
}

func (c *config) validate() error {
	switch {
	case c.N < 1:
		return fmt.Errorf("flag -n %d: must be at least 1", c.N)
	case c.Warmup < 0:
		return fmt.Errorf("flag -warmup %d: must not be negative", c.Warmup)
	case c.Rounds < 1:
		return fmt.Errorf("flag -rounds %d: must be at least 1", c.Rounds)
	case c.Seed < 1:
		return fmt.Errorf("flag -seed %d: must be at least 1", c.Seed)
	case c.Timeout <= 0:
		return fmt.Errorf("flag -timeout %v: must be positive", c.Timeout)
	}
	if err := botdb.ValidatePrefix(c.Prefix); err != nil {
		return fmt.Errorf("flag -prefix: %w", err)
	}
	return nil
}

// run is the whole program; only main exits.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-echo" || args[0] == "--echo") {
		if len(args) != 2 {
			return errors.New("-echo takes exactly one argument, the NATS URL")
		}
		return runEcho(ctx, args[1])
	}
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	return measure(ctx, cfg, stdout, stderr)
}
