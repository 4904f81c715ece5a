package botdb

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// consumeLoop pulls batches with Fetch (not Consume: a
// prototype stalled for about 30 s in large bursts with Consume over
// in-process connections) and commits each as one transaction.
//
// It takes events in one of two ways. Streaming (the usual way): a waiting
// pull request, which the server answers with each event as it is stored,
// committed as soon as nothing more is at hand. Lingering (the group
// commit, see ServiceConfig.Linger): once events come one by one, closer
// together than the linger, every event streamed costs a delivery, a
// transaction and an ack of its own, most of the CPU at 100 events/s; so
// the loop stops asking, and every linger collects what the stream has
// gathered with one no-wait pull and commits it as one transaction. It goes
// back to streaming when a round gathers fewer than two events (a lull, or
// a writer that waits for each event before sending the next) or the stream
// has more than one round takes (a burst).
//
// Acknowledgement is AckAll on the last message of each commit, which
// acknowledges every earlier delivery too. That is only safe if every
// delivery reached this loop, so the loop checks that delivery (consumer)
// sequences are contiguous. Gaps happen: in about half the runs of a
// 100,000-event burst, part of one of the first pull requests never
// reaches the client (cause not found; no slow-consumer or disconnect
// error is reported). A gap stops the batch before it, and the consumer is
// reset to just after the database cursor so that the rest is delivered
// again within milliseconds. (Dropped
// deliveries redelivered only after the 30 s ack wait would look like the
// stall a Consume-based prototype showed.) Stop lets the current pull
// request end (within fetchWait) and commits what it delivered; a lingering
// loop first collects what the stream has gathered.
func (s *Service) consumeLoop() {
	defer close(s.done)
	c := &consumer{s: s, pending: make([]received, 0, s.cfg.MaxBatch), backoff: minBackoff, timer: time.NewTimer(time.Hour), group: newGroupCommit(s), small: true}
	c.timer.Stop()
	defer c.ack()
	var next *pull
	for {
		if s.stopping() && !c.group.lingering {
			next.abandon()
			return
		}
		cur := next
		next = nil
		if cur == nil {
			if s.needReset && !s.resetConsumer() {
				c.pause()
				continue
			}
			var err error
			if c.group.lingering {
				// A round ends a linger after its first event.
				d := s.linger
				if len(c.pending) > 0 {
					d = time.Until(c.firstAt.Add(s.linger))
				}
				c.group.wait(d)
				cur, err = s.startPoll()
			} else {
				cur, err = s.startFetch(c.pullSize())
			}
			if err != nil {
				if s.stopping() {
					return
				}
				s.log.Warn("fetching events; retrying", "error", err)
				c.pause()
				continue
			}
			c.backoff = minBackoff
		}
		if c.group.lingering {
			if !c.gather(cur) {
				return
			}
			s.checkEnd(cur)
			if s.stopping() {
				return
			}
			continue
		}
		if !c.receive(cur) {
			return
		}
		s.checkEnd(cur)
		if c.group.lingering && !s.needReset {
			continue // what is pending joins the first round
		}
		// One or two events nobody waits for (a trickle may be starting):
		// commit them first, so that the next pull request follows the
		// group commit's decision.
		if c.trickling() && !c.flush() {
			return
		}
		// The batch is complete: ask for the next one before the last
		// commit, so that the server streams it while this one is written.
		// Lingering, the next is a round's pull request, after the linger.
		if !c.group.lingering && !s.stopping() && !s.needReset {
			next, _ = s.startFetch(c.pullSize()) // nil on error: retried above
		}
		if !c.flush() {
			next.abandon()
			return
		}
		if s.needReset {
			next.abandon()
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

// pull is one outstanding pull request.
type pull struct {
	batch jetstream.MessageBatch
}

// trickling says whether what is pending may be part of a trickle: one or
// two events, none known to follow, and no reader waiting for them (a
// writer that waits for each event is served fastest by a pull request
// kept open and sent before the commit).
func (c *consumer) trickling() bool {
	return len(c.pending) <= 2 && !c.more && c.s.readers.Load() == 0
}

// pullSize is how many events the next waiting pull request asks for:
// after a commit that may have been part of a trickle, one (lingering
// takes a trickle with rounds instead: a pull request for many would
// deliver it one by one until it expires), else MaxBatch.
func (c *consumer) pullSize() int {
	if c.small {
		return 1
	}
	return c.s.cfg.MaxBatch
}

// startFetch sends a pull request for up to n messages. A waiting
// pull request streams messages as they are stored (measured faster in
// bursts than rounds of FetchNoWait); its short expiry bounds the cost of
// one the server fails to wake. It is never cancelled from this side: the
// client gives up a second after the server's expiry, so deliveries still
// in flight are not dropped (a context deadline gives up too early under
// load, and with AckAll a dropped delivery must be found and redelivered).
func (s *Service) startFetch(n int) (*pull, error) {
	return pullOf(s.cons.Fetch(n, jetstream.FetchMaxWait(fetchWait)))
}

// startPoll sends a pull request for what the stream holds now, up to
// MaxBatch messages, that ends at once when it holds none.
func (s *Service) startPoll() (*pull, error) {
	return pullOf(s.cons.FetchNoWait(s.cfg.MaxBatch))
}

func pullOf(batch jetstream.MessageBatch, err error) (*pull, error) {
	if err != nil {
		return nil, err
	}
	return &pull{batch: batch}, nil
}

// checkEnd looks at how a pull request ended. No responders means the
// consumer is gone (a server restart loses it, see createConsumer): the
// reset creates it again.
func (s *Service) checkEnd(p *pull) {
	err := p.batch.Error()
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return
	}
	s.log.Warn("fetch ended with an error", "error", err)
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
		s.needReset, s.lostConsumer = true, true
	}
}

// abandon waits for the end of a pull request whose messages will not be
// used: they are not acknowledged, and come again after the next consumer
// reset.
func (p *pull) abandon() {
	if p == nil {
		return
	}
	for range p.batch.Messages() {
	}
}

// consumer is the consume loop's state.
type consumer struct {
	s       *Service
	pending []received
	timer   *time.Timer
	backoff time.Duration
	more    bool      // the last message said more are pending
	firstAt time.Time // when the first pending message arrived

	// Acknowledgement: the last committed message, not yet acked.
	toAck   jetstream.Msg
	unacked int
	ackedAt time.Time

	group *groupCommit
	small bool // the last commit may have been part of a trickle
}

func (c *consumer) pause() {
	select {
	case <-time.After(c.backoff):
	case <-c.s.stop:
	}
	c.backoff = min(2*c.backoff, 2*time.Second)
}

// flush commits pending; false means the service must stop.
func (c *consumer) flush() bool {
	if len(c.pending) == 0 {
		return true
	}
	n := len(c.pending)
	c.small = c.trickling()
	last, err := c.s.commitJS(c.pending)
	clear(c.pending)
	c.pending = c.pending[:0]
	if err != nil {
		c.s.runErr = err
		return false
	}
	if last != nil {
		c.toAck = last
		c.unacked += n
		if !c.group.lingering || time.Since(c.ackedAt) >= ackEvery || c.unacked >= c.s.cfg.MaxBatch {
			c.ack()
		}
	}
	if c.group.lingering {
		if !c.group.round(n, n >= c.s.cfg.MaxBatch || c.more || c.s.needReset) {
			c.ack() // back to one by one, which acks each commit
		}
	} else {
		c.group.committed(n)
		c.group.start()
	}
	return true
}

// ack acknowledges the last commit, and with it every earlier delivery, all
// of which reached this loop (commitJS checks). A lost ack only means a
// redelivery that the cursor skips.
func (c *consumer) ack() {
	if c.toAck == nil {
		return
	}
	if err := c.toAck.Ack(); err != nil {
		c.s.log.Warn("acknowledging events", "error", err)
	}
	c.toAck, c.unacked, c.ackedAt = nil, 0, time.Now()
}

// gather commits what one lingering round's pull request delivered (flush
// decides whether to keep lingering). False means the service must stop.
func (c *consumer) gather(p *pull) bool {
	got := 0
	for m := range p.batch.Messages() {
		if !c.add(m) {
			continue
		}
		got++
		if len(c.pending) >= c.s.cfg.MaxBatch && !c.flush() {
			return false
		}
	}
	if len(c.pending) == 0 {
		if got == 0 { // nothing flushed: still lingering
			c.group.round(0, false) // the trickle has stopped
			c.ack()
		}
		return true
	}
	return c.flush()
}

// add appends a delivered message to pending; false if it is dropped.
func (c *consumer) add(m jetstream.Msg) bool {
	if c.s.needReset {
		return false // after a gap: drop the rest of this fetch, it comes again
	}
	meta, err := m.Metadata()
	if len(c.pending) == 0 {
		c.firstAt = time.Now()
	}
	c.pending = append(c.pending, received{msg: m, meta: meta, err: err})
	c.more = err == nil && meta.NumPending > 0
	return true
}

// maxHold bounds how long a commit waits for more events while the stream
// says more are pending for this consumer: without it, a consumer faster
// than the deliveries commits a few events at a time (measured: ~40 per
// commit over an in-process connection, slower overall).
const maxHold = 10 * time.Millisecond

// receive collects p's messages until its end. It commits when MaxBatch are
// pending, or when no message is at hand and none is known to be coming
// (the last one's NumPending is 0, or maxHold passed since the first
// pending one); lingering, not before the linger after the first pending
// one unless a reader waits. False means the service must stop.
func (c *consumer) receive(p *pull) bool {
	msgs := p.batch.Messages()
	for {
		var m jetstream.Msg
		var ok bool
		if len(c.pending) == 0 {
			m, ok = <-msgs
		} else {
			select {
			case m, ok = <-msgs:
			default:
				// Both bounds count from the first pending event, so
				// events trickling in cannot postpone a commit forever.
				held := time.Since(c.firstAt)
				var wait time.Duration
				if c.more {
					wait = maxHold - held
				}
				if c.group.lingering && c.s.linger-held > wait && c.group.mayWait() {
					wait = c.s.linger - held
				}
				got := false
				if wait > 0 {
					c.timer.Reset(wait)
					select {
					case m, ok = <-msgs:
						got = true
						c.timer.Stop()
					case <-c.timer.C:
					case <-c.s.hurry: // a reader waits: commit now
						c.timer.Stop()
					case <-c.s.stop:
						c.timer.Stop()
					}
				}
				if !got {
					if !c.flush() {
						return false
					}
					continue
				}
			}
		}
		if !ok {
			return true
		}
		if c.add(m) && len(c.pending) >= c.s.cfg.MaxBatch && !c.flush() {
			return false
		}
	}
}

// received is a delivered message and its parsed metadata.
type received struct {
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	err  error
}

// resetConsumer makes the consumer deliver again from just after the
// database cursor. It reports whether the reset took effect.
func (s *Service) resetConsumer() bool {
	// The ended pull request's unsubscribe reaches the server first, so
	// nothing more is delivered to it.
	if err := s.nc.FlushTimeout(5 * time.Second); err != nil {
		s.log.Warn("resetting consumer: flush", "error", err)
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	if s.lostConsumer {
		// Lost with a server restart (its state is in memory) or deleted.
		s.log.Warn("consumer not found; creating it again", "consumer", s.cfg.Durable)
		if err := s.createConsumer(ctx); err != nil {
			s.log.Warn("creating consumer; retrying", "error", err)
			return false
		}
		s.lostConsumer = false
	}
	if _, err := s.js.ResetConsumerToSequence(ctx, s.cfg.Stream, s.cfg.Durable, s.cursor+1); err != nil {
		s.lostConsumer = errors.Is(err, jetstream.ErrConsumerNotFound)
		s.log.Warn("resetting consumer; retrying", "seq", s.cursor+1, "error", err)
		return false
	}
	s.log.Info("consumer reset", "seq", s.cursor+1, "took", time.Since(start))
	s.needReset, s.nextDseq = false, 1
	return true
}

// commitJS applies one batch of stream messages and returns the last one
// that may be acknowledged (nil: none).
func (s *Service) commitJS(msgs []received) (jetstream.Msg, error) {
	raws := make([]rawEvent, 0, len(msgs))
	var last jetstream.Msg
	var lastSeq uint64
	for _, r := range msgs {
		m, meta, err := r.msg, r.meta, r.err
		if err != nil {
			s.log.Warn("message without stream metadata; resetting consumer", "subject", m.Subject(), "error", err)
			s.needReset = true
			break
		}
		if meta.Sequence.Consumer != s.nextDseq {
			s.log.Warn("delivery gap; resetting consumer", "want_delivery", s.nextDseq, "got_delivery", meta.Sequence.Consumer, "stream_seq", meta.Sequence.Stream, "cursor", s.cursor)
			s.needReset = true
			break
		}
		s.nextDseq++
		last = m
		seq := meta.Sequence.Stream
		if seq <= s.cursor {
			continue // committed before a crash, redelivered: skip (exactly once)
		}
		lastSeq = seq
		raws = append(raws, rawEvent{seq: seq, subject: m.Subject(), data: m.Data()})
	}
	if len(raws) > 0 {
		events, seqs := s.parse(raws)
		n, err := s.apply(lastSeq, events, seqs, func(i int) string { return subjectOfSeq(raws, seqs[i]) })
		if err != nil {
			return nil, err
		}
		s.cursor = lastSeq
		s.committed(lastSeq, n)
		s.maybePurge()
	}
	return last, nil
}

// Stream purges: often enough to keep the stream small, rarely enough to
// cost nothing measurable.
const (
	purgeEvery    = 20_000
	purgeInterval = 10 * time.Second
)

// maybePurge removes from the stream what the database holds (up to the
// cursor). A failure only leaves the stream larger; the next one retries.
func (s *Service) maybePurge() {
	if s.cursor < s.purgedTo || (s.cursor-s.purgedTo < purgeEvery && time.Since(s.purgedAt) < purgeInterval) {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSequence(s.cursor+1)); err != nil {
		s.log.Warn("purging applied events from the stream", "below", s.cursor+1, "error", err)
	}
	s.purgedTo, s.purgedAt = s.cursor+1, time.Now()
}
