// Command botdb runs the chat-bot database: a SQLite file behind a NATS
// service. The bot publishes events (users joining and leaving, chat lines,
// user counts, PM commands) and asks for statistics by request/reply; with
// JetStream (the default) no event is lost or stored twice across restarts.
//
// Without -nats it starts an embedded NATS server with JetStream, storing its
// files next to the database (PATH.nats/). See docs/BOTDB.md.
//
//	botdb -db bot_data.db                          # embedded server on 127.0.0.1:4222
//	botdb -db bot_data.db -nats nats://host:4222   # an existing server (needs -js)
//	botdb -durable                                 # fsync every event: survives power loss
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsbench/natsbench-action/botdb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "botdb: %v\n", err)
		os.Exit(1)
	}
}

// stopTimeout bounds the drain at shutdown: SIGTERM exits within seconds.
const stopTimeout = 10 * time.Second

// config is the parsed command line.
type config struct {
	DB        string
	NATS      string
	Listen    string
	Prefix    string
	Stream    string
	JetStream bool
	Durable   bool
	Linger    time.Duration
	LogLevel  slog.Level

	host string
	port int
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("botdb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DB, "db", "bot_data.db", "SQLite database `path`")
	fs.StringVar(&c.NATS, "nats", "", "NATS server `URL`; empty starts an embedded server with JetStream storing in PATH.nats/")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:4222", "embedded server `host:port` (without -nats)")
	fs.StringVar(&c.Prefix, "prefix", botdb.DefaultPrefix, "subject `prefix`: PREFIX.db.user.joined, PREFIX.db.query.user_stats, ...")
	fs.StringVar(&c.Stream, "stream", botdb.DefaultStream, "JetStream stream `name` (one per prefix on a shared server)")
	fs.BoolVar(&c.JetStream, "jetstream", true, "capture events in a JetStream stream (false: plain subscriptions, events published while botdb is down are lost)")
	fs.BoolVar(&c.Durable, "durable", false, "survive power loss: fsync every event (embedded JetStream sync_interval always, SQLite synchronous=FULL); slower")
	fs.DurationVar(&c.Linger, "linger", botdb.DefaultLinger, "group commit: events coming one by one wait at most this `duration` to be committed together (less CPU at steady low rates); 0 commits each at once")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (all options are flags)", fs.Arg(0))
	}
	return c, c.validate()
}

func (c *config) validate() error {
	if c.DB == "" {
		return errors.New("flag -db: must not be empty")
	}
	if err := botdb.ValidatePrefix(c.Prefix); err != nil {
		return fmt.Errorf("flag -prefix: %w", err)
	}
	if c.Linger < 0 || c.Linger > time.Minute {
		return fmt.Errorf("flag -linger %v: must be between 0 and 1m", c.Linger)
	}
	if c.NATS == "" {
		host, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return fmt.Errorf("flag -listen %q: must be host:port: %w", c.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("flag -listen %q: port must be a number 0-65535", c.Listen)
		}
		if p == 0 {
			p = -1 // any free port
		}
		if host == "" {
			host = "127.0.0.1"
		}
		c.host, c.port = host, p
	}
	return nil
}

// run is the whole daemon; only main exits. getenv is unused: every input
// is a flag.
func run(ctx context.Context, args []string, _ func(string) string, _, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	syncMode := botdb.SyncNormal
	if cfg.Durable {
		syncMode = botdb.SyncFull
	}
	db, err := botdb.Open(ctx, cfg.DB, botdb.WithSynchronous(syncMode))
	if err != nil {
		return fmt.Errorf("opening database: %w", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("closing database", "error", err)
		}
	}()

	url := cfg.NATS
	var srv *server.Server
	if url == "" {
		storeDir := cfg.DB + ".nats"
		srv, err = botdb.StartServer(botdb.ServerOptions{
			Host: cfg.host, Port: cfg.port, StoreDir: storeDir,
			JetStream: cfg.JetStream, SyncAlways: cfg.Durable,
		})
		if err != nil {
			return err
		}
		defer botdb.ShutdownServer(srv)
		url = srv.ClientURL()
		log.Info("embedded nats server", "url", url, "jetstream", cfg.JetStream, "store", storeDir, "sync_always", cfg.Durable)
	} else if cfg.Durable {
		log.Warn("-durable with an external server: SQLite uses synchronous=FULL, but the server's own JetStream sync_interval decides whether its events survive power loss (set sync_interval: always)")
	}

	// nats.go runs its callbacks on a goroutine of its own; waiting for
	// the closed callback (the last one) keeps them from logging to
	// stderr after run has returned.
	closed := make(chan struct{})
	nc, err := nats.Connect(url, nats.Name("botdb"), nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close at shutdown
				log.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		return fmt.Errorf("connecting to nats %s: %w", url, err)
	}
	defer func() {
		nc.Close()
		select {
		case <-closed:
		case <-time.After(stopTimeout):
		}
	}()

	svc, err := botdb.NewService(ctx, nc, db, botdb.ServiceConfig{
		Prefix:      cfg.Prefix,
		Stream:      cfg.Stream,
		NoJetStream: !cfg.JetStream,
		Linger:      lingerConfig(cfg.Linger),
		Logger:      log,
	})
	if errors.Is(err, botdb.ErrNoJetStream) {
		return fmt.Errorf("nats server %s has JetStream disabled: start it with -js (or a jetstream {} block in its config), "+
			"or run botdb with -jetstream=false and accept that events published while botdb is down are lost: %w", nc.ConnectedUrlRedacted(), err)
	}
	if err != nil {
		return err
	}
	log.Info("botdb ready", "nats", nc.ConnectedUrlRedacted(), "db", cfg.DB, "prefix", cfg.Prefix, "jetstream", cfg.JetStream, "durable", cfg.Durable)

	<-ctx.Done()
	log.Info("shutting down: draining events")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	stopErr := svc.Stop(sctx)
	if err := drain(sctx, nc); err != nil {
		log.Warn("draining nats connection", "error", err)
	}
	h := svc.Health()
	log.Info("stopped", "events_applied", h.EventsApplied, "events_rejected", h.EventsRejected, "last_sequence", h.LastSequence)
	if stopErr != nil {
		return fmt.Errorf("stopping service: %w", stopErr)
	}
	return nil
}

// drain flushes what the connection still holds (acks of the last batch)
// and closes it.
func drain(ctx context.Context, nc *nats.Conn) error {
	if err := nc.Drain(); err != nil {
		return err
	}
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// lingerConfig maps the -linger flag, where 0 turns lingering off, to
// ServiceConfig.Linger, where 0 is the default and negative is off.
func lingerConfig(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
