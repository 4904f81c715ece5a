package botdb

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// consumeLoop pulls batches with Fetch (not Consume: a
// prototype stalled for about 30 s in large bursts with Consume over
// in-process connections) and commits each as one transaction.
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
// request end (within fetchWait) and commits what it delivered.
func (s *Service) consumeLoop() {
	defer close(s.done)
	c := &consumer{s: s, pending: make([]received, 0, s.cfg.MaxBatch), backoff: minBackoff, timer: time.NewTimer(time.Hour)}
	c.timer.Stop()
	var next *pull
	for {
		if s.stopping() {
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
			if cur, err = s.startFetch(); err != nil {
				if !s.stopping() {
					s.log.Warn("fetching events; retrying", "error", err)
				}
				c.pause()
				continue
			}
			c.backoff = minBackoff
		}
		if !c.receive(cur) {
			return
		}
		// The batch is complete: ask for the next one before the last
		// commit, so that the server streams it while this one is written.
		if !s.stopping() && !s.needReset {
			next, _ = s.startFetch() // nil on error: retried above
		}
		if !c.flush() {
			next.abandon()
			return
		}
		if err := cur.batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			s.log.Warn("fetch ended with an error", "error", err)
		}
		if s.needReset {
			next.abandon()
			next = nil
		}
	}
}

const minBackoff = 50 * time.Millisecond

// pull is one outstanding pull request.
type pull struct {
	batch jetstream.MessageBatch
}

// startFetch sends a pull request for up to MaxBatch messages. A waiting
// pull request streams messages as they are stored (measured faster in
// bursts than rounds of FetchNoWait); its short expiry bounds the cost of
// one the server fails to wake. It is never cancelled from this side: the
// client gives up a second after the server's expiry, so deliveries still
// in flight are not dropped (a context deadline gives up too early under
// load, and with AckAll a dropped delivery must be found and redelivered).
func (s *Service) startFetch() (*pull, error) {
	batch, err := s.cons.Fetch(s.cfg.MaxBatch, jetstream.FetchMaxWait(fetchWait))
	if err != nil {
		return nil, err
	}
	return &pull{batch: batch}, nil
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
	err := c.s.commitJS(c.pending)
	clear(c.pending)
	c.pending = c.pending[:0]
	if err != nil {
		c.s.runErr = err
		return false
	}
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
// pending one); with Linger set, not before Linger after the first pending
// one. False means the service must stop.
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
				wait = max(wait, c.s.cfg.Linger-held)
				got := false
				if wait > 0 {
					c.timer.Reset(wait)
					select {
					case m, ok = <-msgs:
						got = true
						c.timer.Stop()
					case <-c.timer.C:
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
		if c.s.needReset {
			continue // after a gap: drop the rest of this fetch, it comes again
		}
		meta, err := m.Metadata()
		if len(c.pending) == 0 {
			c.firstAt = time.Now()
		}
		c.pending = append(c.pending, received{msg: m, meta: meta, err: err})
		c.more = err == nil && meta.NumPending > 0
		if len(c.pending) >= c.s.cfg.MaxBatch && !c.flush() {
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
	if _, err := s.js.ResetConsumerToSequence(ctx, s.cfg.Stream, s.cfg.Durable, s.cursor+1); err != nil {
		s.log.Warn("resetting consumer; retrying", "seq", s.cursor+1, "error", err)
		return false
	}
	s.log.Info("consumer reset", "seq", s.cursor+1, "took", time.Since(start))
	s.needReset, s.nextDseq = false, 1
	return true
}

// commitJS applies one batch of stream messages and acknowledges it.
func (s *Service) commitJS(msgs []received) error {
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
			return err
		}
		s.cursor = lastSeq
		s.committed(lastSeq, n)
		s.maybePurge()
	}
	if last != nil {
		// AckAll: acknowledges every earlier delivery too, all of which
		// reached this loop (checked above). A lost ack only means a
		// redelivery that the cursor skips.
		if err := last.Ack(); err != nil {
			s.log.Warn("acknowledging events", "error", err)
		}
	}
	return nil
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
