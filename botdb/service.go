package botdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

	// fetchWait bounds one idle pull request, and so how long Stop waits
	// for the current one to end.
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
	// (at 100 events/s this halves the CPU per event). A query waiting
	// for read-your-writes, or Stop, ends a round early, so lingering
	// delays only events nobody is waiting for, by at most Linger.
	// 0 means DefaultLinger; negative, never linger.
	//
	// Without JetStream the server pushes every event as it comes, so a
	// round saves transactions but not deliveries: there, once lingering,
	// the service waits Linger after a round's first event before it
	// commits, by the same rules.
	Linger time.Duration
	// QueryWait bounds how long a query waits for earlier events to be
	// applied (read-your-writes), default 10s.
	QueryWait time.Duration
	Logger    *slog.Logger // nil discards
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
	return nil
}

// Health is the service's view of itself, as the health query returns it.
// The counters cover this process's lifetime.
type Health struct {
	EventsApplied  int64 `json:"events_applied"`
	EventsRejected int64 `json:"events_rejected"`
	// LastSequence is the last stream sequence committed to the database
	// (with NoJetStream: the number of event messages processed).
	LastSequence uint64 `json:"last_sequence"`
	Batches      int64  `json:"batches"`
	JetStream    bool   `json:"jetstream"`
	Stream       string `json:"stream,omitempty"`
	Version      string `json:"version"`
	StartedAt    int64  `json:"started_at"` // Unix seconds
}

// Service consumes bot events from NATS into a DB and answers queries over
// NATS. Create it with NewService; stop it with Stop.
type Service struct {
	db   *DB
	nc   *nats.Conn
	cfg  ServiceConfig
	log  *slog.Logger
	subj Subjects

	ctx     context.Context // long-lived, for database work; never cancelled
	started time.Time

	micro micro.Service

	// JetStream mode.
	js           jetstream.JetStream
	stream       jetstream.Stream // consume loop only (not safe for concurrent use)
	cons         jetstream.Consumer
	source       string // cursor key: stream name and creation time
	streamInfoRq string
	// Consume loop only.
	cursor    uint64 // last stream sequence committed
	nextDseq  uint64 // delivery (consumer) sequence expected next
	needReset bool   // a delivery went missing: reset the consumer to cursor+1
	// lostConsumer: the server does not know the consumer; the reset
	// creates it first.
	lostConsumer bool
	purgedTo     uint64 // stream purged below this sequence
	purgedAt     time.Time
	linger       time.Duration // the group commit's bound, 0: never

	// readers counts the readers waiting for an event not yet committed,
	// and hurry wakes a lingering consume loop when one starts: a reader
	// never waits for a linger.
	readers atomic.Int32
	hurry   chan struct{}

	// Core mode.
	subs     []*nats.Subscription
	coreMu   sync.Mutex
	coreQ    []*nats.Msg
	coreWake chan struct{}
	received atomic.Uint64 // event messages queued by the subscriptions

	applied, rejected, batches atomic.Int64
	lastSeq                    atomic.Uint64

	progMu   sync.Mutex
	progress chan struct{} // closed and replaced after each commit

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
		db:       db,
		nc:       nc,
		cfg:      cfg,
		log:      cfg.Logger,
		subj:     NewSubjects(cfg.Prefix),
		ctx:      context.WithoutCancel(ctx),
		started:  time.Now(),
		progress: make(chan struct{}),
		waiters:  make(chan struct{}, maxWaiters),
		hurry:    make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	switch {
	case cfg.Linger == 0:
		s.linger = DefaultLinger
	case cfg.Linger > 0:
		s.linger = cfg.Linger
	}
	var err error
	if cfg.NoJetStream {
		err = s.startCore()
	} else {
		err = s.startJetStream(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("starting botdb service: %w", err)
	}
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

func (s *Service) startJetStream(ctx context.Context) error {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return ErrNoJetStream
		}
		return fmt.Errorf("checking jetstream: %w", err)
	}
	subjects := append(s.subj.EventSubjects(), s.subj.Sync)
	// Updating a stream replaces its subjects: refuse to take over one that
	// another prefix's service uses, whose events would then go uncaptured.
	if existing, err := js.Stream(ctx, s.cfg.Stream); err == nil {
		for _, subj := range existing.CachedInfo().Config.Subjects {
			if !strings.HasPrefix(subj, s.cfg.Prefix+".db.") {
				return fmt.Errorf("stream %s captures %s, not under prefix %q: give this service its own stream name", s.cfg.Stream, subj, s.cfg.Prefix)
			}
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("looking up stream %s: %w", s.cfg.Stream, err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        s.cfg.Stream,
		Description: "botdb events (" + s.cfg.Prefix + ")",
		Subjects:    subjects,
		// Limits retention without limits: nothing is dropped before it is
		// in the database, and the consume loop purges what is (one purge
		// per purgeEvery events; interest retention removed each acked
		// message with its own file write, a quarter of the CPU).
		Retention: jetstream.LimitsPolicy,
		Storage:   jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("creating stream %s: %w", s.cfg.Stream, err)
	}
	info := stream.CachedInfo()
	s.source = fmt.Sprintf("nats:%s:%d", s.cfg.Stream, info.Created.UnixNano())
	s.streamInfoRq = "$JS.API.STREAM.INFO." + s.cfg.Stream
	s.js, s.stream = js, stream
	if err := s.createConsumer(ctx); err != nil {
		return err
	}
	cur, err := s.db.Cursor(ctx, s.source)
	if err != nil {
		return fmt.Errorf("reading cursor: %w", err)
	}
	s.cursor = cur
	s.lastSeq.Store(cur)
	// The database's cursor is the truth: deliver from just after it. This
	// also redelivers at once what a previous instance received but never
	// committed, instead of after the ack wait.
	if _, err := js.ResetConsumerToSequence(ctx, s.cfg.Stream, s.cfg.Durable, cur+1); err != nil {
		return fmt.Errorf("resetting consumer %s to sequence %d (needs nats-server 2.14 or later): %w", s.cfg.Durable, cur+1, err)
	}
	s.nextDseq = 1
	s.log.Info("consuming events", "stream", s.cfg.Stream, "consumer", s.cfg.Durable, "cursor", cur, "stored", info.State.Msgs)
	go s.consumeLoop()
	return nil
}

// createConsumer creates the durable pull consumer, or updates it.
//
// Its state (delivered and acknowledged sequences) is kept in the server's
// memory, not in files: the database cursor is what makes delivery exactly
// once, and every start resets the consumer to it. The file-stored state
// was rewritten (a temporary file, a write, a rename) up to ten times a
// second, a fifth of the CPU at 100 events/s. A server restart loses the
// consumer; the consume loop then creates it again (see resetConsumer).
func (s *Service) createConsumer(ctx context.Context) error {
	cons, err := s.js.CreateOrUpdateConsumer(ctx, s.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       s.cfg.Durable,
		Description:   "botdb database writer",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Acks after commits cover everything delivered before.
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 10 * s.cfg.MaxBatch,
		MaxDeliver:    -1,
		MemoryStorage: true,
	})
	if err != nil {
		return fmt.Errorf("creating consumer %s: %w", s.cfg.Durable, err)
	}
	s.cons = cons
	return nil
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
		if s.cfg.NoJetStream {
			s.drainCore(ctx)
		}
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
	h := Health{
		EventsApplied:  s.applied.Load(),
		EventsRejected: s.rejected.Load(),
		LastSequence:   s.lastSeq.Load(),
		Batches:        s.batches.Load(),
		JetStream:      !s.cfg.NoJetStream,
		Version:        ServiceVersion,
		StartedAt:      s.started.Unix(),
	}
	if !s.cfg.NoJetStream {
		h.Stream = s.cfg.Stream
	}
	return h
}

// Subjects returns the subjects this service uses.
func (s *Service) Subjects() Subjects { return s.subj }

// stopping reports whether Stop was called.
func (s *Service) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// committed records progress after a commit and wakes waiting queries.
func (s *Service) committed(seq uint64, applied int) {
	s.applied.Add(int64(applied))
	s.batches.Add(1)
	s.lastSeq.Store(seq)
	s.progMu.Lock()
	close(s.progress)
	s.progress = make(chan struct{})
	s.progMu.Unlock()
}

// WaitApplied blocks until every event up to stream sequence seq is
// committed, the service stops, or ctx ends. It is the read barrier of
// queries, for programs that embed the service; like a query, it ends a
// group commit's linger at once. Without JetStream, sequences count the
// events this service received.
func (s *Service) WaitApplied(ctx context.Context, seq uint64) error {
	if s.lastSeq.Load() >= seq {
		return nil
	}
	s.readers.Add(1)
	defer s.readers.Add(-1)
	select {
	case s.hurry <- struct{}{}:
	default: // a wake-up is already pending
	}
	for {
		if s.lastSeq.Load() >= seq {
			return nil
		}
		s.progMu.Lock()
		ch := s.progress
		s.progMu.Unlock()
		if s.lastSeq.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-s.done:
			return fmt.Errorf("waiting for events up to %d: service stopped at %d", seq, s.lastSeq.Load())
		case <-ctx.Done():
			return fmt.Errorf("waiting for events up to %d to be applied (applied up to %d): %w", seq, s.lastSeq.Load(), ctx.Err())
		}
	}
}

// reject counts and logs an event that will not be stored.
func (s *Service) reject(subject string, seq uint64, err error) {
	s.rejected.Add(1)
	s.log.Warn("event rejected", "subject", subject, "seq", seq, "reason", err.Error())
}

// rawEvent is one received message on its way to the store.
type rawEvent struct {
	seq     uint64
	subject string
	data    []byte
}

// parsed turns raw messages into events, rejecting the bad ones. seqs[i] is
// the sequence of events[i].
func (s *Service) parse(raws []rawEvent) (events []Event, seqs []uint64) {
	events = make([]Event, 0, len(raws))
	seqs = make([]uint64, 0, len(raws))
	for _, r := range raws {
		if r.subject == s.subj.Sync {
			continue // a read barrier, not an event
		}
		kind, ok := s.subj.Events[r.subject]
		if !ok {
			s.reject(r.subject, r.seq, errors.New("subject: not an event subject"))
			continue
		}
		e, err := ParseEvent(kind, r.data)
		if err != nil {
			s.reject(r.subject, r.seq, err)
			continue
		}
		events = append(events, e)
		seqs = append(seqs, r.seq)
	}
	return events, seqs
}

// apply writes events in one transaction, recording lastSeq as the cursor
// when source is set. If the store refuses one event, each is retried alone
// so that only the bad one is rejected. A database failure is retried with
// backoff until it succeeds or the service stops; it returns the number of
// events stored.
func (s *Service) apply(lastSeq uint64, events []Event, seqs []uint64, subjects func(int) string) (int, error) {
	backoff := 10 * time.Millisecond
	for {
		var err error
		if s.source != "" {
			err = s.db.ApplyFrom(s.ctx, s.source, lastSeq, events)
		} else {
			err = s.db.Apply(s.ctx, events)
		}
		if err == nil {
			return len(events), nil
		}
		if errors.Is(err, ErrInvalid) && len(events) > 0 {
			return s.applyOneByOne(lastSeq, events, seqs, subjects)
		}
		s.log.Error("writing events to the database; retrying", "events", len(events), "error", err)
		if s.stopping() {
			return 0, fmt.Errorf("writing %d events: %w", len(events), err)
		}
		select {
		case <-time.After(backoff):
		case <-s.stop:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (s *Service) applyOneByOne(lastSeq uint64, events []Event, seqs []uint64, subjects func(int) string) (int, error) {
	n := 0
	for i, e := range events {
		var err error
		if s.source != "" {
			err = s.db.ApplyFrom(s.ctx, s.source, seqs[i], []Event{e})
		} else {
			err = s.db.Apply(s.ctx, []Event{e})
		}
		switch {
		case err == nil:
			n++
		case errors.Is(err, ErrInvalid):
			s.reject(subjects(i), seqs[i], err)
		default:
			return n, fmt.Errorf("writing event %d: %w", seqs[i], err)
		}
	}
	if s.source != "" {
		// Records the cursor past trailing barriers or rejected events.
		if err := s.db.ApplyFrom(s.ctx, s.source, lastSeq, nil); err != nil {
			return n, fmt.Errorf("recording cursor %d: %w", lastSeq, err)
		}
	}
	return n, nil
}

func subjectOfSeq(raws []rawEvent, seq uint64) string {
	for _, r := range raws {
		if r.seq == seq {
			return r.subject
		}
	}
	return ""
}

// readBarrier waits until the reply to req can reflect every event the
// requester published before it: up to the sequence in MinSeqHeader when
// present (Client sets it), else up to the stream's last sequence now.
func (s *Service) readBarrier(ctx context.Context, req micro.Request, always bool) error {
	if v := req.Headers().Get(MinSeqHeader); v != "" {
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return badRequest(fmt.Errorf("header %s: %q is not a sequence number", MinSeqHeader, v))
		}
		if s.cfg.NoJetStream {
			return s.waitCore(ctx)
		}
		return s.WaitApplied(ctx, seq)
	}
	if !always {
		return nil
	}
	if s.cfg.NoJetStream {
		return s.waitCore(ctx)
	}
	seq, err := s.streamLastSeq(ctx)
	if err != nil {
		return err
	}
	return s.WaitApplied(ctx, seq)
}

// streamLastSeq asks the server for the stream's last sequence. A raw
// request rather than jetstream.Stream.Info, which caches into a shared
// value and is not meant for concurrent callers.
func (s *Service) streamLastSeq(ctx context.Context) (uint64, error) {
	msg, err := s.nc.RequestWithContext(ctx, s.streamInfoRq, nil)
	if err != nil {
		return 0, fmt.Errorf("reading stream state: %w", err)
	}
	var resp struct {
		State struct {
			LastSeq uint64 `json:"last_seq"`
		} `json:"state"`
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return 0, fmt.Errorf("reading stream state: %w", err)
	}
	if resp.Error != nil {
		return 0, fmt.Errorf("reading stream state: %s", resp.Error.Description)
	}
	return resp.State.LastSeq, nil
}
