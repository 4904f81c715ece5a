package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsbench/natsbench-action/botdb"
)

// stallTimeout is how long a wait for the service may see no progress at
// all before the benchmark gives up: far above any healthy pause (a
// prototype's Consume stall lasted about 30 s), far below the test timeout.
const stallTimeout = 45 * time.Second

// Env is one benchmark's world: an in-process nats-server with JetStream
// storing under a temporary directory, a SQLite file, the botdb service
// consuming from the server on its own connection, and a client (the bot)
// publishing on another, as the two processes of a real deployment would.
type Env struct {
	// Dir holds the SQLite file and the JetStream store.
	Dir    string
	Server *server.Server
	// DB is the store the service writes; benchmarks read it to check that
	// every event was stored exactly once.
	DB *botdb.DB
	// Service is the running service, nil between StopService and
	// StartService.
	Service *botdb.Service
	// Conn is the publisher's connection and Client the bot's client on it.
	Conn   *nats.Conn
	Client *botdb.Client

	// running is Service for other goroutines (WaitApplied, Applied).
	running atomic.Pointer[botdb.Service]

	cfg     botdb.ServiceConfig
	dbPath  string
	svcConn *nats.Conn

	// mu orders publishes: the stream numbers messages in the order the
	// server reads them from Conn, which is the order of Publish calls
	// under mu, so seq is the stream sequence the last event will get.
	mu    sync.Mutex
	seq   uint64
	users int
}

// NewEnv starts an Env with the service configured by cfg (zero value: the
// service's defaults) and stops it all at the end of the benchmark or test.
func NewEnv(tb testing.TB, cfg botdb.ServiceConfig) *Env {
	tb.Helper()
	ctx := tb.Context()
	e := &Env{Dir: tb.TempDir(), cfg: cfg}
	e.dbPath = filepath.Join(e.Dir, "bot.db")
	tb.Cleanup(func() {
		// tb's context is cancelled before cleanups run.
		if err := e.Close(context.WithoutCancel(ctx)); err != nil {
			tb.Errorf("closing benchmark environment: %v", err)
		}
	})
	var err error
	e.Server, err = botdb.StartServer(botdb.ServerOptions{
		Port:      -1,
		StoreDir:  filepath.Join(e.Dir, "jetstream"),
		JetStream: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if e.Conn, err = connect(e.Server, "bench-bot"); err != nil {
		tb.Fatal(err)
	}
	e.Client = botdb.NewClient(e.Conn, cfg.Prefix)
	if err := e.StartService(ctx); err != nil {
		tb.Fatal(err)
	}
	return e
}

func connect(s *server.Server, name string) (*nats.Conn, error) {
	// No reconnects: the server is in this process, and a lost connection
	// must fail the benchmark rather than silently buffer events.
	nc, err := nats.Connect(s.ClientURL(), nats.Name(name), nats.NoReconnect())
	if err != nil {
		return nil, fmt.Errorf("connecting %s to %s: %w", name, s.ClientURL(), err)
	}
	return nc, nil
}

// StartService does what a restart of the botdb process does: open the
// database, connect to NATS and start the service, which resumes from the
// durable consumer and the cursor stored in the database.
func (e *Env) StartService(ctx context.Context) error {
	if e.Service != nil {
		return errors.New("starting service: already running")
	}
	db, err := botdb.Open(ctx, e.dbPath)
	if err != nil {
		return fmt.Errorf("starting service: %w", err)
	}
	nc, err := connect(e.Server, "bench-botdb")
	if err != nil {
		db.Close()
		return fmt.Errorf("starting service: %w", err)
	}
	svc, err := botdb.NewService(ctx, nc, db, e.cfg)
	if err != nil {
		nc.Close()
		db.Close()
		return fmt.Errorf("starting service: %w", err)
	}
	e.DB, e.svcConn, e.Service = db, nc, svc
	e.running.Store(svc)
	return nil
}

// StopService stops the service as its daemon does on SIGTERM (drain and
// commit), then closes its connection and the database. Events published
// meanwhile wait in the stream.
func (e *Env) StopService(ctx context.Context) error {
	if e.Service == nil {
		return nil
	}
	var errs []error
	e.running.Store(nil)
	if err := e.Service.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	e.svcConn.Close()
	if err := e.DB.Close(); err != nil {
		errs = append(errs, err)
	}
	e.Service, e.svcConn, e.DB = nil, nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stopping service: %w", err)
	}
	return nil
}

// Close stops the service, the publisher's connection and the server.
func (e *Env) Close(ctx context.Context) error {
	err := e.StopService(ctx)
	if e.Conn != nil {
		e.Conn.Close()
	}
	botdb.ShutdownServer(e.Server)
	return err
}

// Publish publishes ev as the bot does (a core NATS publish that the stream
// captures) and returns the stream sequence it will be stored under.
func (e *Env) Publish(ctx context.Context, ev botdb.Event) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.Client.Publish(ctx, ev); err != nil {
		return 0, fmt.Errorf("publishing event %d: %w", e.seq+1, err)
	}
	e.seq++
	return e.seq, nil
}

// Published returns the stream sequence of the last event published.
func (e *Env) Published() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seq
}

// Applied returns the stream sequence up to which the running service has
// committed events (0 while it is stopped). Safe to call from any
// goroutine, also while the service restarts.
func (e *Env) Applied() uint64 { return e.health().LastSequence }

// Commits returns how many transactions the running service has committed
// (0 while it is stopped): with events, the number of events per commit.
func (e *Env) Commits() int64 { return e.health().Batches }

// health is the running service's counters, zero while it is stopped.
func (e *Env) health() botdb.Health {
	svc := e.running.Load()
	if svc == nil {
		return botdb.Health{}
	}
	return svc.Health()
}

// WaitApplied waits until the service has committed every event up to
// stream sequence seq, also across a restart of the service. It waits on
// the service's own WaitApplied, the read barrier of queries: woken by the
// commit itself, cheap in CPU, and, like a query, it ends a group commit's
// linger (a waiting reader never waits for one). When the service stops
// making progress it asks the stream why (see checkLost), and gives up
// after stallTimeout.
func (e *Env) WaitApplied(ctx context.Context, seq uint64) error {
	if e.Applied() >= seq {
		return nil // the common case in windowed publishing: nothing to allocate
	}
	last, lastChange, lastCheck := e.Applied(), time.Now(), time.Now()
	for {
		if svc := e.running.Load(); svc != nil {
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			err := svc.WaitApplied(wctx, seq)
			cancel()
			if err == nil {
				return nil
			}
			if wctx.Err() == nil {
				// Stopped: wait for the restart without spinning.
				sleepCtx(ctx, time.Millisecond)
			}
		} else {
			sleepCtx(ctx, time.Millisecond)
		}
		cur := e.Applied()
		if cur >= seq {
			return nil
		}
		if cur != last {
			last, lastChange = cur, time.Now()
		}
		idle := time.Since(lastChange)
		if idle > time.Second && time.Since(lastCheck) > time.Second {
			lastCheck = time.Now()
			if err := e.checkLost(ctx, seq); err != nil {
				return err
			}
		}
		if idle > stallTimeout {
			return fmt.Errorf("waiting for event %d: service stalled at %d for %v", seq, cur, stallTimeout)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("waiting for event %d (applied %d): %w", seq, cur, err)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// checkLost tells a slow service from lost events: when the stream's last
// sequence is below seq and the service has committed all the stream holds,
// the missing events never reached the stream (the server drops core
// publishes when a stream's ingest queue is full) and waiting is pointless.
func (e *Env) checkLost(ctx context.Context, seq uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	js, err := jetstream.New(e.Conn)
	if err != nil {
		return fmt.Errorf("checking the stream: %w", err)
	}
	name := e.cfg.Stream
	if name == "" {
		name = botdb.DefaultStream
	}
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("checking stream %s: %w", name, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("checking stream %s: %w", name, err)
	}
	if last, cur := info.State.LastSeq, e.Applied(); last < seq && cur >= last {
		return fmt.Errorf("waiting for event %d: the stream received only %d events and the service committed them all: %d published events never reached the stream (dropped by the server)", seq, last, seq-last)
	}
	return nil
}

// NewUser returns a username no earlier call on e returned, so that each
// benchmark round counts its own events in the store.
func (e *Env) NewUser(prefix string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.users++
	return fmt.Sprintf("%s_%d", prefix, e.users)
}

// ChatLines returns the chat lines the store has counted for user, 0 for a
// user it has never seen.
func ChatLines(ctx context.Context, db *botdb.DB, user string) (int64, error) {
	st, found, err := db.UserStats(ctx, user)
	if err != nil {
		return 0, fmt.Errorf("counting chat lines of %s: %w", user, err)
	}
	if !found {
		return 0, nil
	}
	return st.TotalChatLines, nil
}

// LastMessageID returns the id of the newest chat line in db, 0 when there
// is none. Chat lines get consecutive ids (rowids, never deleted here), so
// the difference between two readings counts the lines stored in between:
// duplicates show as well as losses.
func LastMessageID(ctx context.Context, db *botdb.DB) (int64, error) {
	msgs, err := db.RecentMessages(ctx, 1, 0)
	if err != nil {
		return 0, fmt.Errorf("reading the newest chat line: %w", err)
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	return msgs[0].ID, nil
}

// chatLines are typical chat messages: realistic lengths, and no formatting
// cost in the measured loop.
var chatLines = [...]string{
	"hello everyone",
	"lol that was great",
	"what song is this?",
	"brb getting coffee",
	"can we skip this one please, I have heard it three times today",
	"gg",
	"who added this to the playlist? it is actually pretty good",
	"welcome back!",
}

// ChatEvent returns the i-th chat line of user as an event.
func ChatEvent(user string, i int) botdb.Event {
	return botdb.Event{Kind: botdb.EventChatMessage, Username: user, Message: chatLines[i%len(chatLines)]}
}

// StoredCheck counts the chat lines of one user in two ways, before and
// after a benchmark round: the user's counter and the chat log must both
// grow by the number published (CheckAllStored fails the benchmark
// otherwise), so a lost event and a duplicate both show.
type StoredCheck struct {
	user            string
	lines0, lastID0 int64
}

// StartStoredCheck reads the counts before a round that publishes only
// chat lines of user (and no other chat lines at all).
func StartStoredCheck(ctx context.Context, db *botdb.DB, user string) (StoredCheck, error) {
	lines, err := ChatLines(ctx, db, user)
	if err != nil {
		return StoredCheck{}, err
	}
	id, err := LastMessageID(ctx, db)
	if err != nil {
		return StoredCheck{}, err
	}
	return StoredCheck{user: user, lines0: lines, lastID0: id}, nil
}

// Stored returns how many chat lines of the user were stored since the
// check started, and an error when the two counts disagree (a line counted
// but not logged, or the reverse).
func (c StoredCheck) Stored(ctx context.Context, db *botdb.DB) (int64, error) {
	lines, err := ChatLines(ctx, db, c.user)
	if err != nil {
		return 0, err
	}
	id, err := LastMessageID(ctx, db)
	if err != nil {
		return 0, err
	}
	counted, logged := lines-c.lines0, id-c.lastID0
	if counted != logged {
		return 0, fmt.Errorf("user %s: %d chat lines counted but %d logged", c.user, counted, logged)
	}
	return counted, nil
}

// CheckAllStored fails b unless exactly want chat lines were stored since
// c started, and reports the stored fraction.
func CheckAllStored(ctx context.Context, b *testing.B, db *botdb.DB, c StoredCheck, want int) {
	b.Helper()
	got, err := c.Stored(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(got)/float64(max(want, 1)), "stored-fraction")
	if got != int64(want) {
		b.Fatalf("stored %d of %d events published (fraction %.6f): lost or duplicated events", got, want, float64(got)/float64(want))
	}
}

// StoredLines returns how many chat lines the user's counter gained since
// the check started: for rounds where other users' lines are stored too,
// so that the chat log's growth is not this user's alone.
func (c StoredCheck) StoredLines(ctx context.Context, db *botdb.DB) (int64, error) {
	lines, err := ChatLines(ctx, db, c.user)
	if err != nil {
		return 0, err
	}
	return lines - c.lines0, nil
}

// Sync places a barrier in the stream after every event published so far
// (the client's read-your-writes barrier) and accounts for it: the barrier
// takes a stream sequence too. Benchmarks call it after setup that queried
// through the client, and before timed queries, so that no timed query pays
// for a barrier.
func (e *Env) Sync(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	seq, err := e.Client.Sync(ctx)
	if err != nil {
		return fmt.Errorf("syncing benchmark client: %w", err)
	}
	e.seq = seq
	return nil
}

// Flush waits until the server has read everything published on Conn.
func (e *Env) Flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, stallTimeout)
	defer cancel()
	if err := e.Conn.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flushing publishes: %w", err)
	}
	return nil
}
