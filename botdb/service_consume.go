package botdb

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// consumeLoop pulls batches with Fetch and FetchNoWait (not Consume: a
// prototype stalled for about 30 s in large bursts with Consume over
// in-process connections) and commits each as one transaction.
//
// Acknowledgement is AckAll on the last message of each commit, which
// acknowledges every earlier delivery too. That is only safe if every
// delivery reached this loop, so the loop checks that delivery (consumer)
// sequences are contiguous; a gap (a delivery the client dropped, e.g.
// one arriving after a pull request ended on the client side) stops the
// batch before the gap, and the consumer is reset to just after the
// database cursor so that the rest is delivered again. Stop cancels the
// waiting pull request: what was received is contiguous and committed,
// and what was in flight is delivered again after the next start, which
// resets the consumer to the cursor.
func (s *Service) consumeLoop() {
	defer close(s.done)
	c := &consumer{s: s, pending: make([]jetstream.Msg, 0, s.cfg.MaxBatch), backoff: minBackoff}
	if s.cfg.Linger > 0 {
		c.linger = time.NewTimer(time.Hour)
		c.linger.Stop()
	}
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
			cur.cancel()
			return
		}
		// The batch is complete: ask for the next one before the last
		// commit, so that the server streams it while this one is written.
		if !s.stopping() && !s.needReset {
			next, _ = s.startFetch() // nil on error: retried above
		}
		cur.cancel()
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
	batch  jetstream.MessageBatch
	cancel context.CancelFunc
}

// startFetch sends a pull request for up to MaxBatch messages. A waiting
// pull request streams messages as they are stored (measured faster in
// bursts than rounds of FetchNoWait); its short expiry bounds the cost of
// one the server fails to wake.
func (s *Service) startFetch() (*pull, error) {
	ctx, cancel := context.WithTimeout(s.fetchCtx, fetchWait)
	batch, err := s.cons.Fetch(s.cfg.MaxBatch, jetstream.FetchContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	return &pull{batch: batch, cancel: cancel}, nil
}

// abandon ends a pull request whose messages will not be used: they are
// not acknowledged, and come again after the next consumer reset.
func (p *pull) abandon() {
	if p == nil {
		return
	}
	p.cancel()
	for range p.batch.Messages() {
	}
}

// consumer is the consume loop's state.
type consumer struct {
	s       *Service
	pending []jetstream.Msg
	linger  *time.Timer
	backoff time.Duration
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

// receive collects p's messages until its end, committing whenever no
// message is immediately at hand (after lingering, if configured) or
// MaxBatch are pending. False means the service must stop.
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
				got := false
				if c.linger != nil {
					c.linger.Reset(c.s.cfg.Linger)
					select {
					case m, ok = <-msgs:
						got = true
						c.linger.Stop()
					case <-c.linger.C:
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
		c.pending = append(c.pending, m)
		if len(c.pending) >= c.s.cfg.MaxBatch && !c.flush() {
			return false
		}
	}
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
	if _, err := s.js.ResetConsumerToSequence(ctx, s.cfg.Stream, s.cfg.Durable, s.cursor+1); err != nil {
		s.log.Warn("resetting consumer; retrying", "seq", s.cursor+1, "error", err)
		return false
	}
	s.needReset, s.nextDseq = false, 1
	return true
}

// commitJS applies one batch of stream messages and acknowledges it.
func (s *Service) commitJS(msgs []jetstream.Msg) error {
	raws := make([]rawEvent, 0, len(msgs))
	var last jetstream.Msg
	var lastSeq uint64
	for _, m := range msgs {
		meta, err := m.Metadata()
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
