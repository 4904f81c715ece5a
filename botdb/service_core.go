package botdb

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
)

// queueGroup lets several service instances share plain subscriptions
// without storing an event twice.
const queueGroup = "botdb"

// startCore consumes events with plain queue subscriptions: no stream, so
// events published while the service is down are lost.
func (s *Service) startCore() error {
	s.log.Warn("JetStream disabled: events published while botdb is down are lost")
	s.coreWake = make(chan struct{}, 1)
	for _, subj := range s.subj.EventSubjects() {
		sub, err := s.nc.QueueSubscribe(subj, queueGroup, s.onCoreMsg)
		if err != nil {
			for _, old := range s.subs {
				_ = old.Unsubscribe()
			}
			return fmt.Errorf("subscribing to %s: %w", subj, err)
		}
		// Bursts of small events: allow far more messages than the default.
		if err := sub.SetPendingLimits(4<<20, 256<<20); err != nil {
			return fmt.Errorf("subscribing to %s: %w", subj, err)
		}
		s.subs = append(s.subs, sub)
	}
	// Subscriptions are registered on the server before queries are served.
	if err := s.nc.Flush(); err != nil {
		return fmt.Errorf("subscribing to events: %w", err)
	}
	go s.coreLoop()
	return nil
}

func (s *Service) onCoreMsg(m *nats.Msg) {
	s.coreMu.Lock()
	s.coreQ = append(s.coreQ, m)
	s.received.Add(1)
	s.coreMu.Unlock()
	select {
	case s.coreWake <- struct{}{}:
	default:
	}
}

// coreLoop commits whatever the subscriptions queued, one transaction per
// round (at most MaxBatch events each). Lingering, it waits a linger after
// a round's first event before committing, to commit more at once.
func (s *Service) coreLoop() {
	defer close(s.done)
	g := newGroupCommit(s)
	var processed uint64
	for {
		stop := false
		select {
		case <-s.coreWake:
		case <-s.stop:
			stop = true
		}
		if !stop && g.lingering {
			g.wait(s.linger)
		}
		got := 0
		for {
			s.coreMu.Lock()
			n := min(len(s.coreQ), s.cfg.MaxBatch)
			batch := make([]*nats.Msg, n)
			copy(batch, s.coreQ)
			s.coreQ = s.coreQ[:copy(s.coreQ, s.coreQ[n:])]
			s.coreMu.Unlock()
			if n == 0 {
				break
			}
			raws := make([]rawEvent, n)
			for i, m := range batch {
				raws[i] = rawEvent{seq: processed + uint64(i) + 1, subject: m.Subject, data: m.Data}
			}
			events, seqs := s.parse(raws)
			applied, err := s.apply(0, events, seqs, func(i int) string { return subjectOfSeq(raws, seqs[i]) })
			if err != nil {
				s.runErr = err
				return
			}
			processed += uint64(n)
			got += n
			s.committed(processed, applied)
			if !g.lingering {
				g.committed(n)
			}
		}
		if stop {
			return
		}
		if g.lingering {
			g.round(got, got >= s.cfg.MaxBatch)
		} else {
			g.start()
		}
	}
}

// waitCore is the read barrier without JetStream: the requester's earlier
// events reached this connection before its query (one server, one
// connection, in order), so they are queued in the subscriptions or in
// coreQ. Wait until the subscriptions have handed everything over, then
// until the writer has committed that much.
func (s *Service) waitCore(ctx context.Context) error {
	// Bounded by ctx, not by a count of tries: on a loaded machine the
	// subscriptions' goroutines can take a while to run, and giving up
	// early would answer with a view that misses the requester's events.
	for i := 0; ; i++ {
		var pending, delivered uint64
		for _, sub := range s.subs {
			p, _, _ := sub.Pending()
			d, _ := sub.Delivered()
			pending += uint64(max(p, 0))
			delivered += uint64(d)
		}
		target := s.received.Load()
		if pending == 0 && delivered == target {
			return s.WaitApplied(ctx, target)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("waiting for queued events: %w", err)
		}
		if i < 100 {
			runtime.Gosched()
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// drainCore stops the subscriptions after they hand over what they hold.
func (s *Service) drainCore(ctx context.Context) {
	for _, sub := range s.subs {
		if err := sub.Drain(); err != nil {
			s.log.Warn("draining subscription", "subject", sub.Subject, "error", err)
		}
	}
	for _, sub := range s.subs {
		for sub.IsValid() && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
}
