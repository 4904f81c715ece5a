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
	pending := make([]jetstream.Msg, 0, s.cfg.MaxBatch)
	var linger *time.Timer
	if s.cfg.Linger > 0 {
		linger = time.NewTimer(time.Hour)
		linger.Stop()
	}
	// flush commits pending; false means the service must stop.
	flush := func() bool {
		if len(pending) == 0 {
			return true
		}
		err := s.commitJS(pending)
		clear(pending)
		pending = pending[:0]
		if err != nil {
			s.runErr = err
			return false
		}
		return true
	}
	backoff := 50 * time.Millisecond
	pause := func() {
		select {
		case <-time.After(backoff):
		case <-s.stop:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	for !s.stopping() {
		if s.needReset && !s.resetConsumer() {
			pause()
			continue
		}
		// A waiting pull request streams up to MaxBatch messages as they
		// are stored (measured faster in bursts than FetchNoWait rounds);
		// its short expiry bounds the cost of one the server fails to wake.
		fctx, cancel := context.WithTimeout(s.fetchCtx, fetchWait)
		batch, err := s.cons.Fetch(s.cfg.MaxBatch, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if s.stopping() {
				return
			}
			s.log.Warn("fetching events; retrying", "error", err)
			pause()
			continue
		}
		backoff = 50 * time.Millisecond
		msgs := batch.Messages()
		for {
			var m jetstream.Msg
			var ok bool
			if len(pending) == 0 {
				m, ok = <-msgs
			} else {
				select {
				case m, ok = <-msgs:
				default:
					// Nothing more right now: commit, after lingering
					// for more if configured.
					got := false
					if linger != nil {
						linger.Reset(s.cfg.Linger)
						select {
						case m, ok = <-msgs:
							got = true
							linger.Stop()
						case <-linger.C:
						}
					}
					if !got {
						if !flush() {
							cancel()
							return
						}
						continue
					}
				}
			}
			if !ok {
				break
			}
			if s.needReset {
				continue // after a gap: drop the rest of this fetch, it comes again
			}
			pending = append(pending, m)
			if len(pending) >= s.cfg.MaxBatch && !flush() {
				cancel()
				return
			}
		}
		cancel()
		if !flush() {
			return
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			s.log.Warn("fetch ended with an error", "error", err)
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
