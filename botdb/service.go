package botdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Service defaults.
const (
	DefaultPrefix    = "rosey"
	DefaultStream    = "BOTDB_EVENTS"
	DefaultDurable   = "botdb"
	DefaultMaxBatch  = 1000
	DefaultQueryWait = 10 * time.Second
	// DefaultLinger bounds how long a steady trickle of events waits for a
	// group commit (see ServiceConfig.Linger): long enough to group about
	// ten events at 100 events/s, short enough not to matter to a chat bot
	// (a reader waiting for its own events never waits for it).
	DefaultLinger = 100 * time.Millisecond

	// ServiceName and ServiceVersion identify the micro service, so that
	// `nats micro ls` / `nats micro info botdb` find it.
	ServiceName    = "botdb"
	ServiceVersion = "1.0.0"

	// MinSeqHeader, on a query, carries the stream sequence the reply must
	// reflect (read-your-writes). Client sets it from its last Sync.
	MinSeqHeader = "Botdb-Min-Seq"

	// fetchWait bounds one idle pull request: how often an idle service
	// asks the server again.
	fetchWait = 250 * time.Millisecond
)

// ErrNoJetStream is returned by NewService when the NATS server (or the
// account) has JetStream disabled and the configuration asks for it.
var ErrNoJetStream = errors.New("nats server has no JetStream")

// ServiceConfig configures NewService. The zero value is usable.
type ServiceConfig struct {
	Prefix string // subject prefix, default "rosey"
	// NoJetStream consumes with plain subscriptions: events published while
	// the service is down are lost (a warning says so at start).
	NoJetStream bool
	Stream      string // JetStream stream, default "BOTDB_EVENTS"
	Durable     string // durable consumer, default "botdb"
	MaxBatch    int    // most events in one transaction, default 1000
	// Linger is the group commit's bound. Events arriving alone are
	// committed at once; once they come one by one, closer together than
	// Linger, the service stops taking them one by one and collects what
	// the stream gathered every Linger instead, one transaction and one
	// delivery per round, for as long as each round gathers two or more
	// (docs/BOTDB.md has the figures). A query waiting
	// for read-your-writes, or Stop, ends a round early, so lingering
	// delays only events nobody is waiting for, by at most Linger.
	// 0 means DefaultLinger; negative, never linger.
	//
	// Without JetStream the server pushes every event as it comes, so a
	// round saves transactions but not deliveries: there, once lingering,
	// the service waits Linger after a round's first event before it
	// commits, by the same rules.
	Linger time.Duration
	// NoEventWatch (JetStream only) makes every query without
	// MinSeqHeader probe the stream. By default the service also receives
	// each event on a plain subscription, and a query without the header
	// that arrives when no event has since the last probe was sent reuses
	// that probe's sequence instead of waiting for a probe of its own
	// (docs/BOTDB.md, "Skipping the probe"): each event costs a second
	// delivery to the service, and an idle plain client's query a round
	// trip less.
	NoEventWatch bool
	// QueryWait bounds how long a query waits for earlier events to be
	// applied (read-your-writes), default 10s.
	QueryWait time.Duration
	Logger    *slog.Logger // nil discards
	// Now is the service's clock (the group commit's decisions, acks,
	// purges, StartedAt); nil means time.Now. Tests pass a fake one.
	Now func() time.Time
}

func (c *ServiceConfig) setDefaults() error {
	if err := ValidatePrefix(c.Prefix); err != nil {
		return err
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.MaxBatch < 0 || c.QueryWait < 0 {
		return errors.New("max batch and query wait must not be negative")
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.QueryWait == 0 {
		c.QueryWait = DefaultQueryWait
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Health is the service's view of itself, as the health query returns it.
// The counters cover this process's lifetime.
type Health struct {
	EventsApplied  int64 `json:"events_applied"`
	EventsRejected int64 `json:"events_rejected"`
	// LastSequence is the last stream sequence applied: events up to it
	// are committed to the database (with NoJetStream: the number of event
	// messages processed).
	LastSequence uint64 `json:"last_sequence"`
	// Lag is how many messages the service knows are in the stream (or
	// received, with NoJetStream) but not yet applied: after a start, the
	// backlog it is catching up with. Queries wait until what they need is
	// applied.
	Lag       uint64 `json:"lag"`
	Batches   int64  `json:"batches"`
	JetStream bool   `json:"jetstream"`
	Stream    string `json:"stream,omitempty"`
	Version   string `json:"version"`
	StartedAt int64  `json:"started_at"` // Unix seconds
}

// Service consumes bot events from NATS into a DB and answers queries over
// NATS. Create it with NewService; stop it with Stop.
type Service struct {
	nc      *nats.Conn
	cfg     ServiceConfig
	log     *slog.Logger
	subj    Subjects
	started time.Time
	micro   micro.Service

	// sink is the store and the progress both modes share; mode is how
	// events are taken (JetStream or plain subscriptions).
	sink *sink
	mode consumption

	// waiters bounds the queries waiting for read-your-writes off their
	// endpoint's goroutine.
	waiters  chan struct{}
	handlers sync.WaitGroup // queries running off their endpoint's goroutine
	// handlersMu orders starting such queries with Stop's Wait.
	handlersMu     sync.Mutex
	handlersClosed bool

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	runErr   error // set by the consume loop before done is closed
}

// consumption is one way of taking events from NATS into the sink: from a
// JetStream stream (jsConsumer) or from plain subscriptions
// (coreConsumer). Everything that differs between the two is behind it.
type consumption interface {
	// run is the consume loop: it commits events until the sink's stop
	// channel is closed and what was received is committed, or a commit
	// fails for good.
	run() error
	// halt runs in Stop before the loop is told to stop.
	halt(ctx context.Context)
	// met reports, without blocking, whether a query that carries minSeq
	// (when hasMinSeq) can be answered at once.
	met(minSeq uint64, hasMinSeq bool) bool
	// target returns the sequence a query must wait for to reflect every
	// event its requester published before it.
	target(ctx context.Context, minSeq uint64, hasMinSeq bool) (uint64, error)
	// describe fills in the mode's fields of a Health.
	describe(h *Health)
}

var (
	_ consumption = (*jsConsumer)(nil)
	_ consumption = (*coreConsumer)(nil)
)

// NewService starts consuming events into db and answering queries on nc.
// ctx bounds the set-up only; the service runs until Stop.
//
// With JetStream (the default) it creates or updates the stream (the event
// subjects listed exactly, limits retention, purged up to the database
// cursor as it advances) and a durable pull consumer, and resets that
// consumer to just after the database cursor, so that events delivered to a
// previous instance but never committed are redelivered at once instead of
// after the ack wait. Redelivered events the database already holds (stream
// sequence at or below the cursor) are skipped: exactly once. One service
// per stream: the resets assume it is the consumer's only user.
func NewService(ctx context.Context, nc *nats.Conn, db *DB, cfg ServiceConfig) (*Service, error) {
	if nc == nil || db == nil {
		return nil, errors.New("starting botdb service: nil connection or database")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("starting botdb service: %w", err)
	}
	s := &Service{
		nc:      nc,
		cfg:     cfg,
		log:     cfg.Logger,
		subj:    NewSubjects(cfg.Prefix),
		started: cfg.Now(),
		waiters: make(chan struct{}, maxWaiters),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.sink = &sink{
		db:       db,
		ctx:      context.WithoutCancel(ctx),
		log:      cfg.Logger,
		subj:     s.subj,
		now:      cfg.Now,
		stop:     s.stop,
		progress: make(chan struct{}),
		readers:  newReaders(),
	}
	var linger time.Duration
	switch {
	case cfg.Linger == 0:
		linger = DefaultLinger
	case cfg.Linger > 0:
		linger = cfg.Linger
	}
	var err error
	if cfg.NoJetStream {
		s.mode, err = startCore(nc, s.sink, cfg, linger)
	} else {
		s.mode, err = startJetStream(ctx, nc, s.sink, cfg, linger)
	}
	if err != nil {
		return nil, fmt.Errorf("starting botdb service: %w", err)
	}
	go func() {
		defer close(s.done)
		s.runErr = s.mode.run()
	}()
	if err := s.startMicro(); err != nil {
		_ = s.Stop(ctx)
		return nil, fmt.Errorf("starting botdb service: %w", err)
	}
	// The server knows every subscription before NewService returns, so
	// that a query sent right after it is not met with "no responders".
	if err := s.nc.FlushTimeout(10 * time.Second); err != nil {
		_ = s.Stop(ctx)
		return nil, fmt.Errorf("starting botdb service: %w", err)
	}
	return s, nil
}

func (s *Service) startMicro() error {
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        ServiceName,
		Version:     ServiceVersion,
		Description: "chat bot database: user and channel statistics",
		Metadata:    map[string]string{"prefix": s.cfg.Prefix, "jetstream": strconv.FormatBool(!s.cfg.NoJetStream)},
		ErrorHandler: func(_ micro.Service, e *micro.NATSError) {
			s.log.Warn("query endpoint error", "subject", e.Subject, "error", e.Description)
		},
	})
	if err != nil {
		return fmt.Errorf("adding micro service: %w", err)
	}
	s.micro = svc
	endpoints := []struct {
		name, subject string
		h             micro.HandlerFunc
	}{
		{"user_stats", s.subj.UserStats, s.waiting(s.handleUserStats, true)},
		{"channel_stats", s.subj.ChannelStats, s.waiting(s.handleChannelStats, true)},
		{"recent_chat", s.subj.RecentChat, s.waiting(s.handleRecentChat, true)},
		{"health", s.subj.Health, s.waiting(s.handleHealth, false)},
	}
	for _, ep := range endpoints {
		if err := svc.AddEndpoint(ep.name, ep.h, micro.WithEndpointSubject(ep.subject)); err != nil {
			return fmt.Errorf("adding endpoint %s: %w", ep.subject, err)
		}
	}
	return nil
}

// Stop stops taking work (queries and new events), commits the events
// already received, and returns once the consumer has finished or ctx ends.
// Events received but not yet committed by then stay unacknowledged in the
// stream and are applied by the next start.
func (s *Service) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		if s.micro != nil {
			if err := s.micro.Stop(); err != nil {
				s.log.Warn("stopping query endpoints", "error", err)
			}
		}
		s.mode.halt(ctx)
		close(s.stop)
	})
	select {
	case <-s.done:
	case <-ctx.Done():
		return fmt.Errorf("stopping botdb service: %w", ctx.Err())
	}
	// Queries still waiting end now (the consumer is done): let them
	// answer before the caller closes the database.
	s.handlersMu.Lock()
	s.handlersClosed = true
	s.handlersMu.Unlock()
	handled := make(chan struct{})
	go func() {
		s.handlers.Wait()
		close(handled)
	}()
	select {
	case <-handled:
		return s.runErr
	case <-ctx.Done():
		return fmt.Errorf("stopping botdb service: %w", ctx.Err())
	}
}

// Health returns the current counters.
func (s *Service) Health() Health {
	k := s.sink
	h := Health{
		EventsApplied:  k.applied.Load(),
		EventsRejected: k.rejected.Load(),
		LastSequence:   k.lastSeq.Load(),
		Batches:        k.batches.Load(),
		Version:        ServiceVersion,
		StartedAt:      s.started.Unix(),
	}
	s.mode.describe(&h)
	return h
}

// Subjects returns the subjects this service uses.
func (s *Service) Subjects() Subjects { return s.subj }

// WaitApplied blocks until every event up to stream sequence seq is
// committed, the service stops, or ctx ends. It is the read barrier of
// queries, for programs that embed the service; like a query, it ends a
// group commit's linger at once. Without JetStream, sequences count the
// events this service received.
func (s *Service) WaitApplied(ctx context.Context, seq uint64) error {
	return s.sink.waitApplied(ctx, seq, s.done)
}

// readBarrier waits until the reply to req can reflect every event the
// requester published before it: up to the sequence in MinSeqHeader when
// present (Client sets it), else up to what the mode finds (see target).
// always false means a query without the header needs no barrier.
func (s *Service) readBarrier(ctx context.Context, req micro.Request, always bool) error {
	minSeq, has, err := minSeqOf(req)
	if err != nil {
		return err
	}
	if !has && !always {
		return nil
	}
	seq, err := s.mode.target(ctx, minSeq, has)
	if err != nil {
		return err
	}
	return s.WaitApplied(ctx, seq)
}

// minSeqOf reads MinSeqHeader from req.
func minSeqOf(req micro.Request) (seq uint64, ok bool, err error) {
	v := req.Headers().Get(MinSeqHeader)
	if v == "" {
		return 0, false, nil
	}
	seq, err = strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, badRequest(fmt.Errorf("header %s: %q is not a sequence number", MinSeqHeader, v))
	}
	return seq, true, nil
}
