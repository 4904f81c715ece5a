package botdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jsConsumer takes events from a JetStream stream through a durable pull
// consumer. Its fields are the consume loop's state: only run and the
// methods it calls touch them, except the immutable ones set by
// startJetStream (sink, nc, js, names) that queries read.
type jsConsumer struct {
	sink         *sink
	nc           *nats.Conn
	js           jetstream.JetStream
	streamName   string
	durable      string
	maxBatch     int
	streamInfoRq string
	nextRq       string // the consumer's next-message subject: pull requests

	// streamLast is the highest sequence known to be in the stream (from
	// deliveries and stream state), for any goroutine.
	streamLast atomic.Uint64

	// startLast is the stream's last sequence when the service started:
	// until it is applied, every query waits (never a stale answer while
	// catching up).
	startLast uint64
	probes    probes
	syncWait  time.Duration // bounds one probe
	// watch lets a query skip the probe when no event arrived since the
	// last one was sent; nil with NoEventWatch.
	watch      *eventWatch
	probesSent atomic.Uint64

	stream jetstream.Stream // not safe for concurrent use: consume loop only

	cursor    uint64 // last stream sequence committed
	nextDseq  uint64 // delivery (consumer) sequence expected next
	needReset bool   // a delivery went missing: reset the consumer to cursor+1
	// lostConsumer: the server does not know the consumer; the reset
	// creates it first.
	lostConsumer bool
	purgedTo     uint64 // stream purged below this sequence
	purgedAt     time.Time

	pending []received
	timer   *time.Timer
	backoff time.Duration
	more    bool      // the last message said more are pending
	firstAt time.Time // when the first pending message arrived

	// Acknowledgement: the last committed message, not yet acked.
	toAck   *nats.Msg
	unacked int
	ackedAt time.Time

	linger time.Duration // the group commit's bound, 0: never
	group  *groupCommit
	small  bool // the last commit may have been part of a trickle
}

// startJetStream creates or updates the stream and the consumer, and resets
// the consumer to just after the database cursor.
func startJetStream(ctx context.Context, nc *nats.Conn, k *sink, cfg ServiceConfig, linger time.Duration) (*jsConsumer, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return nil, ErrNoJetStream
		}
		return nil, fmt.Errorf("checking jetstream: %w", err)
	}
	subjects := append(k.subj.EventSubjects(), k.subj.Sync)
	// Updating a stream replaces its subjects: refuse to take over one that
	// another prefix's service uses, whose events would then go uncaptured.
	if existing, err := js.Stream(ctx, cfg.Stream); err == nil {
		for _, subj := range existing.CachedInfo().Config.Subjects {
			if !strings.HasPrefix(subj, cfg.Prefix+".db.") {
				return nil, fmt.Errorf("stream %s captures %s, not under prefix %q: give this service its own stream name", cfg.Stream, subj, cfg.Prefix)
			}
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("looking up stream %s: %w", cfg.Stream, err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "botdb events (" + cfg.Prefix + ")",
		Subjects:    subjects,
		// Limits retention without limits: nothing is dropped before it is
		// in the database, and the consume loop purges what is, in bulk
		// (interest retention deletes each acked message with a file write).
		Retention: jetstream.LimitsPolicy,
		Storage:   jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", cfg.Stream, err)
	}
	info := stream.CachedInfo()
	k.source = fmt.Sprintf("nats:%s:%d", cfg.Stream, info.Created.UnixNano())
	c := &jsConsumer{
		sink:         k,
		nc:           nc,
		js:           js,
		streamName:   cfg.Stream,
		durable:      cfg.Durable,
		maxBatch:     cfg.MaxBatch,
		streamInfoRq: "$JS.API.STREAM.INFO." + cfg.Stream,
		nextRq:       "$JS.API.CONSUMER.MSG.NEXT." + cfg.Stream + "." + cfg.Durable,
		stream:       stream,
		pending:      make([]received, 0, cfg.MaxBatch),
		backoff:      minBackoff,
		timer:        time.NewTimer(time.Hour),
		linger:       linger,
		group:        newGroupCommit(linger, k),
		small:        true,
		syncWait:     cfg.QueryWait,
	}
	c.probes.publish = c.probeLast
	c.timer.Stop()
	if err := c.createConsumer(ctx); err != nil {
		return nil, err
	}
	cur, err := k.db.Cursor(ctx, k.source)
	if err != nil {
		return nil, fmt.Errorf("reading cursor: %w", err)
	}
	c.cursor = cur
	k.lastSeq.Store(cur)
	if info.State.Msgs > 0 {
		// An empty stream (purged by an operator, say) keeps its last
		// sequence but holds nothing to catch up with.
		c.startLast = info.State.LastSeq
	}
	c.noteLast(max(cur, info.State.LastSeq))
	// The database's cursor is the truth: deliver from just after it. This
	// also redelivers at once what a previous instance received but never
	// committed, instead of after the ack wait.
	if _, err := js.ResetConsumerToSequence(ctx, cfg.Stream, cfg.Durable, cur+1); err != nil {
		return nil, fmt.Errorf("resetting consumer %s to sequence %d (needs nats-server 2.14 or later): %w", cfg.Durable, cur+1, err)
	}
	c.nextDseq = 1
	if !cfg.NoEventWatch {
		if c.watch, err = startWatch(nc, k.subj.EventSubjects(), cfg.Now); err != nil {
			return nil, err
		}
	}
	k.log.Info("consuming events", "stream", cfg.Stream, "consumer", cfg.Durable, "cursor", cur, "stored", info.State.Msgs)
	return c, nil
}

// createConsumer creates the durable pull consumer, or updates it.
//
// Its state (delivered and acknowledged sequences) is kept in the server's
// memory, not in files: the database cursor is what makes delivery exactly
// once, and every start resets the consumer to it. A server restart loses
// the consumer; the consume loop then creates it again (see resetConsumer).
func (c *jsConsumer) createConsumer(ctx context.Context) error {
	_, err := c.js.CreateOrUpdateConsumer(ctx, c.streamName, jetstream.ConsumerConfig{
		Durable:       c.durable,
		Description:   "botdb database writer",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Acks after commits cover everything delivered before.
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 10 * c.maxBatch,
		MaxDeliver:    -1,
		MemoryStorage: true,
	})
	if err != nil {
		return fmt.Errorf("creating consumer %s: %w", c.durable, err)
	}
	return nil
}

// halt stops the event watch (queries still running probe); the loop sees
// stop and lets its pull request end.
func (c *jsConsumer) halt(context.Context) {
	if c.watch != nil {
		c.watch.close()
	}
}

func (c *jsConsumer) describe(h *Health) {
	h.JetStream = true
	h.Stream = c.streamName
	h.Lag = c.lag()
}

// lag is how many stream messages the service knows of but has not yet
// applied (its own probes that need nothing are not counted).
func (c *jsConsumer) lag() uint64 {
	last, applied := c.streamLast.Load(), c.sink.lastSeq.Load()
	return last - min(last, applied)
}

// met reports whether a query asking for minSeq is served without waiting.
// A query without one is, when the last probe's sequence is still its
// barrier (see eventWatch) and applied.
func (c *jsConsumer) met(minSeq uint64, hasMinSeq bool) bool {
	if !hasMinSeq {
		seq, ok := c.watchedBarrier()
		return ok && c.sink.lastSeq.Load() >= max(seq, c.startLast)
	}
	return c.sink.lastSeq.Load() >= max(minSeq, c.startLast)
}

// watchedBarrier returns the last probe's sequence when the event watch
// vouches that it is a barrier for a query handled now.
func (c *jsConsumer) watchedBarrier() (uint64, bool) {
	if c.watch == nil {
		return 0, false
	}
	return c.watch.barrier()
}

// target is the sequence a query must wait for, and never less than the
// stream's last sequence at start.
//
// With MinSeqHeader it is the requester's sequence (Client's zero-cost
// path: its Sync already placed a barrier). A sequence beyond the stream's
// last one is refused at once rather than waited for: no event makes it
// true until the stream gets there, and waiting would hold a waiting slot
// for the whole QueryWait.
//
// Without the header, the query waits for everything the stream held when
// it took a probe (see probes): the last one, if no event arrived since it
// was sent (see eventWatch), else one sent after the query arrived.
func (c *jsConsumer) target(ctx context.Context, minSeq uint64, hasMinSeq bool) (uint64, error) {
	if !hasMinSeq {
		if seq, ok := c.watchedBarrier(); ok {
			return max(seq, c.startLast), nil
		}
		last, err := c.probes.get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return 0, &behindError{behind: c.lag(), err: ctx.Err()}
			}
			return 0, err
		}
		return max(last, c.startLast), nil
	}
	if minSeq <= c.streamLast.Load() {
		return max(minSeq, c.startLast), nil
	}
	last, err := c.streamLastSeq(ctx)
	if err != nil {
		return 0, err
	}
	if minSeq > last {
		return 0, badRequest(fmt.Errorf("header %s: %d is beyond the stream's last sequence %d", MinSeqHeader, minSeq, last))
	}
	return max(minSeq, c.startLast), nil
}

// errWrongLastSeq is JetStream's error code for a publish whose expected
// last sequence does not match the stream's ("wrong last sequence: N").
const errWrongLastSeq = 10071

// probeLast sends a probe (see sendProbe) and lets the event watch keep
// its sequence for the queries that follow.
func (c *jsConsumer) probeLast() (uint64, error) {
	var tok watchToken
	if c.watch != nil {
		tok = c.watch.mark() // before the send: what arrived before it
	}
	seq, err := c.sendProbe()
	if err == nil && c.watch != nil {
		c.watch.record(tok, seq)
	}
	return seq, err
}

// sendProbe publishes a probe on the Sync subject that the stream must
// refuse (it expects a last sequence no stream reaches), and returns the
// last sequence the refusal reports. The stream checks the expectation in
// its own goroutine, in ingest order, so the sequence covers every message
// queued before the probe; and nothing is stored, so the consumer has
// nothing to take.
func (c *jsConsumer) sendProbe() (uint64, error) {
	c.probesSent.Add(1)
	ctx, cancel := context.WithTimeout(c.sink.ctx, c.syncWait)
	defer cancel()
	m := nats.NewMsg(c.sink.subj.Sync)
	m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(math.MaxUint64, 10))
	msg, err := c.nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("probing stream %s: %w", c.streamName, err)
	}
	var ack struct {
		Seq   uint64 `json:"seq"`
		Error *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &ack); err != nil {
		return 0, fmt.Errorf("probing stream %s: reading reply: %w", c.streamName, err)
	}
	if ack.Error == nil { // stored after all: a barrier like Client's
		c.noteLast(ack.Seq)
		return ack.Seq, nil
	}
	n, ok := strings.CutPrefix(ack.Error.Description, "wrong last sequence: ")
	last, err := strconv.ParseUint(n, 10, 64)
	if ack.Error.ErrCode != errWrongLastSeq || !ok || err != nil {
		return 0, fmt.Errorf("probing stream %s: %s", c.streamName, ack.Error.Description)
	}
	c.noteLast(last)
	return last, nil
}

// noteLast records that the stream holds sequence seq.
func (c *jsConsumer) noteLast(seq uint64) {
	for {
		cur := c.streamLast.Load()
		if seq <= cur || c.streamLast.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// streamLastSeq asks the server for the stream's last sequence. A raw
// request rather than jetstream.Stream.Info, which caches into a shared
// value and is not meant for concurrent callers.
func (c *jsConsumer) streamLastSeq(ctx context.Context) (uint64, error) {
	msg, err := c.nc.RequestWithContext(ctx, c.streamInfoRq, nil)
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
	c.noteLast(resp.State.LastSeq)
	return resp.State.LastSeq, nil
}

// run pulls batches with Fetch (not Consume, which stalled in large bursts
// over in-process connections) and commits each as one transaction.
//
// It takes events in one of two ways. Streaming (the usual way): a waiting
// pull request, which the server answers with each event as it is stored,
// committed as soon as nothing more is at hand. Lingering (the group
// commit, see ServiceConfig.Linger): once events come one by one, closer
// together than the linger, every event streamed costs a delivery, a
// transaction and an ack of its own; so the loop stops asking, and every
// linger collects what the stream has gathered with one no-wait pull and
// commits it as one transaction. It goes back to streaming when a round
// gathers fewer than two events (a lull, or a writer that waits for each
// event before sending the next) or the stream has more than one round
// takes (a burst).
//
// Acknowledgement is AckAll on the last message of each commit, which
// acknowledges every earlier delivery too. That is only safe if every
// delivery reached this loop, so the loop checks that delivery (consumer)
// sequences are contiguous. A gap (part of a pull request can fail to
// arrive, with no error reported) stops the batch before it, and the
// consumer is reset to just after the database cursor so that the rest is
// delivered again at once rather than after the ack wait. Stop commits
// what is pending and gives the current pull request up at once (see
// pull); a lingering loop first collects what the stream has gathered.
func (c *jsConsumer) run() error {
	defer c.ack()
	k := c.sink
	var next *pull
	for {
		if c.watch != nil {
			c.watch.discard()
		}
		if k.stopping() && !c.group.lingering {
			next.leave()
			return nil
		}
		cur := next
		next = nil
		if cur == nil {
			if c.needReset && !c.resetConsumer() {
				c.pause()
				continue
			}
			var err error
			if c.group.lingering {
				// A round ends a linger after its first event.
				d := c.linger
				if len(c.pending) > 0 {
					d = c.firstAt.Add(c.linger).Sub(k.now())
				}
				c.group.wait(d)
				cur, err = c.startPoll()
			} else {
				cur, err = c.startFetch(c.pullSize())
			}
			if err != nil {
				if k.stopping() {
					return nil
				}
				k.log.Warn("fetching events; retrying", "error", err)
				c.pause()
				continue
			}
			c.backoff = minBackoff
		}
		if c.group.lingering {
			if err := c.gather(cur); err != nil {
				return err
			}
			c.checkEnd(cur)
			if k.stopping() {
				return nil
			}
			continue
		}
		if err := c.receive(cur); err != nil {
			return err
		}
		c.checkEnd(cur)
		if c.group.lingering && !c.needReset {
			continue // what is pending joins the first round
		}
		// One or two events nobody waits for (a trickle may be starting):
		// commit them first, so that the next pull request follows the
		// group commit's decision.
		if c.trickling() {
			if err := c.flush(); err != nil {
				return err
			}
		}
		// The batch is complete: ask for the next one before the last
		// commit, so that the server streams it while this one is written.
		// Lingering, the next is a round's pull request, after the linger.
		if !c.group.lingering && !k.stopping() && !c.needReset {
			next, _ = c.startFetch(c.pullSize()) // nil on error: retried above
		}
		if err := c.flush(); err != nil {
			next.leave()
			return err
		}
		if !c.group.lingering {
			c.ack() // what this pull request delivered
		}
		if c.needReset {
			next.leave()
			next = nil
		}
	}
}

const minBackoff = 50 * time.Millisecond

// While lingering, commits are acknowledged every ackEvery (or MaxBatch
// events): the cursor in the database, not the ack, makes delivery exactly
// once, so a late ack only means a longer redelivery after a crash, which
// the cursor skips.
const ackEvery = fetchWait

// trickling says whether what is pending may be part of a trickle: one or
// two events, none known to follow, and no reader waiting for them (a
// writer that waits for each event is served fastest by a pull request
// kept open and sent before the commit).
func (c *jsConsumer) trickling() bool {
	return len(c.pending) <= 2 && !c.more && !c.sink.readers.waiting()
}

// pullSize is how many events the next waiting pull request asks for:
// after a commit that may have been part of a trickle, one (lingering
// takes a trickle with rounds instead: a pull request for many would
// deliver it one by one until it expires), else MaxBatch.
func (c *jsConsumer) pullSize() int {
	if c.small {
		return 1
	}
	return c.maxBatch
}

// startFetch sends a pull request for up to n messages. A waiting pull
// request streams messages as they are stored; its short expiry bounds the
// cost of one the server fails to wake. The client gives up a second after
// the server's expiry, so deliveries still in flight are not dropped, and
// at once on stop (see pull).
func (c *jsConsumer) startFetch(n int) (*pull, error) {
	return startPull(c.nc, c.nextRq, pullRequest{Batch: n, Expires: fetchWait}, c.sink.stop)
}

// startPoll sends a pull request for what the stream holds now, up to
// MaxBatch messages, that ends at once when it holds none. A stop does not
// end it: a lingering loop collects what the stream has gathered first.
func (c *jsConsumer) startPoll() (*pull, error) {
	return startPull(c.nc, c.nextRq, pullRequest{Batch: c.maxBatch, NoWait: true}, nil)
}

// checkEnd looks at how a pull request ended. No responders means the
// consumer is gone (a server restart loses it, see createConsumer): the
// reset creates it again.
func (c *jsConsumer) checkEnd(p *pull) {
	err := p.Error()
	if err == nil {
		return
	}
	c.sink.log.Warn("fetch ended with an error", "error", err)
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
		c.needReset, c.lostConsumer = true, true
	}
}

func (c *jsConsumer) pause() {
	select {
	case <-time.After(c.backoff):
	case <-c.sink.stop:
	}
	c.backoff = min(2*c.backoff, 2*time.Second)
}

// flush commits pending; an error means the service must stop.
func (c *jsConsumer) flush() error {
	if len(c.pending) == 0 {
		return nil
	}
	n := len(c.pending)
	// Read barriers (Client's syncs) are no trickle: a pull request for
	// many takes a run of them without a new request for each.
	c.small = c.trickling() && !c.barriersOnly()
	last, wrote, err := c.commit(c.pending)
	clear(c.pending)
	c.pending = c.pending[:0]
	if err != nil {
		return err
	}
	if last != nil {
		c.toAck = last
		c.unacked += n
		// Barriers alone are acknowledged with the next commit, at the
		// end of the pull request, or every ackEvery, like a linger's.
		if wrote && !c.group.lingering || c.sink.now().Sub(c.ackedAt) >= ackEvery || c.unacked >= c.maxBatch {
			c.ack()
		}
	}
	switch {
	case c.group.lingering:
		if !c.group.round(n, n >= c.maxBatch || c.more || c.needReset) {
			c.ack() // back to one by one, which acks each commit
		}
	case wrote:
		// Read barriers alone cost no transaction: they are no trickle
		// to group, and a query waits for the next one.
		c.group.committed(n)
		c.group.start()
	}
	return nil
}

// ack acknowledges the last commit, and with it every earlier delivery, all
// of which reached this loop (commit checks). A lost ack only means a
// redelivery that the cursor skips.
func (c *jsConsumer) ack() {
	if c.toAck == nil {
		return
	}
	if err := c.toAck.Ack(); err != nil {
		c.sink.log.Warn("acknowledging events", "error", err)
	}
	c.toAck, c.unacked, c.ackedAt = nil, 0, c.sink.now()
}

// gather commits what one lingering round's pull request delivered (flush
// decides whether to keep lingering). An error means the service must stop.
func (c *jsConsumer) gather(p *pull) error {
	got := 0
	for m := range p.Messages() {
		if !c.add(m) {
			continue
		}
		got++
		if len(c.pending) >= c.maxBatch {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	if len(c.pending) == 0 {
		if got == 0 { // nothing flushed: still lingering
			c.group.round(0, false) // the trickle has stopped
			c.ack()
		}
		return nil
	}
	return c.flush()
}

// add appends a delivered message to pending; false if it is dropped.
func (c *jsConsumer) add(m *nats.Msg) bool {
	if c.watch != nil {
		// Its copies of the events arrive ahead of the deliveries: empty
		// it with each delivery, so that a burst does not fill it.
		c.watch.discard()
	}
	if c.needReset {
		return false // after a gap: drop the rest of this fetch, it comes again
	}
	meta, err := m.Metadata()
	if len(c.pending) == 0 {
		c.firstAt = c.sink.now()
	}
	c.pending = append(c.pending, received{msg: m, meta: meta, err: err})
	c.more = err == nil && meta.NumPending > 0
	if err == nil {
		c.noteLast(meta.Sequence.Stream + meta.NumPending)
	}
	return true
}

// maxHold bounds how long a commit waits for more events while the stream
// says more are pending for this consumer: without it, a consumer faster
// than the deliveries commits a few events at a time.
const maxHold = 10 * time.Millisecond

// receive collects p's messages until its end. It commits when MaxBatch are
// pending, or when no message is at hand and none is known to be coming
// (the last one's NumPending is 0, or maxHold passed since the first
// pending one); lingering, not before the linger after the first pending
// one unless a reader waits. An error means the service must stop.
func (c *jsConsumer) receive(p *pull) error {
	msgs := p.Messages()
	k := c.sink
	for {
		var m *nats.Msg
		var ok bool
		if len(c.pending) == 0 {
			m, ok = <-msgs
		} else {
			select {
			case m, ok = <-msgs:
			default:
				// Both bounds count from the first pending event, so
				// events trickling in cannot postpone a commit forever.
				held := k.now().Sub(c.firstAt)
				var wait time.Duration
				if c.more {
					wait = maxHold - held
				}
				if c.group.lingering && c.linger-held > wait && c.group.mayWait() {
					wait = c.linger - held
				}
				got := false
				if wait > 0 {
					c.timer.Reset(wait)
					select {
					case m, ok = <-msgs:
						got = true
						c.timer.Stop()
					case <-c.timer.C:
					case <-k.readers.hurry: // a reader waits: commit now
						c.timer.Stop()
					case <-k.stop:
						c.timer.Stop()
					}
				}
				if !got {
					if err := c.flush(); err != nil {
						return err
					}
					continue
				}
			}
		}
		if !ok {
			return nil
		}
		if c.add(m) && len(c.pending) >= c.maxBatch {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
}

// received is a delivered message and its parsed metadata.
type received struct {
	msg  *nats.Msg
	meta *nats.MsgMetadata
	err  error
}

// resetConsumer makes the consumer deliver again from just after the
// database cursor. It reports whether the reset took effect.
func (c *jsConsumer) resetConsumer() bool {
	k := c.sink
	// The ended pull request's unsubscribe reaches the server first, so
	// nothing more is delivered to it.
	if err := c.nc.FlushTimeout(5 * time.Second); err != nil {
		k.log.Warn("resetting consumer: flush", "error", err)
		return false
	}
	ctx, cancel := context.WithTimeout(k.ctx, 5*time.Second)
	defer cancel()
	start := k.now()
	if c.lostConsumer {
		// Lost with a server restart (its state is in memory) or deleted.
		k.log.Warn("consumer not found; creating it again", "consumer", c.durable)
		if err := c.createConsumer(ctx); err != nil {
			k.log.Warn("creating consumer; retrying", "error", err)
			return false
		}
		c.lostConsumer = false
	}
	if _, err := c.js.ResetConsumerToSequence(ctx, c.streamName, c.durable, c.cursor+1); err != nil {
		c.lostConsumer = errors.Is(err, jetstream.ErrConsumerNotFound)
		k.log.Warn("resetting consumer; retrying", "seq", c.cursor+1, "error", err)
		return false
	}
	k.log.Info("consumer reset", "seq", c.cursor+1, "took", k.now().Sub(start))
	c.needReset, c.nextDseq = false, 1
	return true
}

// commit applies one batch of stream messages and returns the last one
// that may be acknowledged (nil: none), and whether it wrote a transaction.
func (c *jsConsumer) commit(msgs []received) (last *nats.Msg, wrote bool, err error) {
	k := c.sink
	raws := make([]rawEvent, 0, len(msgs))
	// lastSeq only rises: a message at or below it is a copy of one this
	// batch or an earlier commit took. The server delivers a message again,
	// with the next delivery sequence (no gap), when it is NAKed or when it
	// learns that an earlier delivery of it failed, which it may learn
	// after a consumer reset and then send a copy of a message delivered
	// since. Taken twice in one batch, it would be applied twice; last, it
	// would move the cursor back.
	lastSeq := c.cursor
	for _, r := range msgs {
		m, meta, err := r.msg, r.meta, r.err
		if err != nil {
			k.log.Warn("message without stream metadata; resetting consumer", "subject", m.Subject, "error", err)
			c.needReset = true
			break
		}
		if meta.Sequence.Consumer != c.nextDseq {
			k.log.Warn("delivery gap; resetting consumer", "want_delivery", c.nextDseq, "got_delivery", meta.Sequence.Consumer, "stream_seq", meta.Sequence.Stream, "cursor", c.cursor)
			c.needReset = true
			break
		}
		c.nextDseq++
		last = m
		seq := meta.Sequence.Stream
		if seq <= lastSeq {
			continue // committed, or taken already: skip (exactly once)
		}
		lastSeq = seq
		raws = append(raws, rawEvent{seq: seq, subject: m.Subject, data: m.Data})
	}
	if len(raws) > 0 && onlyBarriers(raws, k.subj.Sync) {
		// Nothing to store: the cursor in the database may stay behind
		// (redelivered barriers are skipped again).
		c.cursor = lastSeq
		k.advance(lastSeq)
	} else if len(raws) > 0 {
		n, err := k.write(lastSeq, raws)
		if err != nil {
			return nil, false, err
		}
		c.cursor = lastSeq
		k.committed(lastSeq, n)
		c.maybePurge()
		wrote = true
	}
	return last, wrote, nil
}

// barriersOnly reports whether every pending message is a read barrier.
func (c *jsConsumer) barriersOnly() bool {
	for _, r := range c.pending {
		if r.msg.Subject != c.sink.subj.Sync {
			return false
		}
	}
	return true
}

// onlyBarriers reports whether every message is a read barrier.
func onlyBarriers(raws []rawEvent, sync string) bool {
	for _, r := range raws {
		if r.subject != sync {
			return false
		}
	}
	return true
}

// Stream purges: often enough to keep the stream small, rarely enough to
// cost nothing measurable.
const (
	purgeEvery    = 20_000
	purgeInterval = 10 * time.Second
)

// maybePurge removes from the stream what the database holds (up to the
// cursor). A failure only leaves the stream larger; the next one retries.
func (c *jsConsumer) maybePurge() {
	now := c.sink.now()
	if c.cursor < c.purgedTo || (c.cursor-c.purgedTo < purgeEvery && now.Sub(c.purgedAt) < purgeInterval) {
		return
	}
	ctx, cancel := context.WithTimeout(c.sink.ctx, 5*time.Second)
	defer cancel()
	if err := c.stream.Purge(ctx, jetstream.WithPurgeSequence(c.cursor+1)); err != nil {
		c.sink.log.Warn("purging applied events from the stream", "below", c.cursor+1, "error", err)
	}
	c.purgedTo, c.purgedAt = c.cursor+1, now
}
