package botdb

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// queueGroup lets several service instances share plain subscriptions
// without storing an event twice.
const queueGroup = "botdb"

// coreConsumer takes events with plain queue subscriptions: no stream, so
// events published while the service is down are lost. Sequences count the
// event messages received.
type coreConsumer struct {
	sink     *sink
	nc       *nats.Conn
	subs     []*nats.Subscription
	maxBatch int
	linger   time.Duration

	mu       sync.Mutex
	queue    []*nats.Msg
	wake     chan struct{}
	received atomic.Uint64 // event messages queued by the subscriptions
}

// startCore subscribes to the event subjects.
func startCore(nc *nats.Conn, k *sink, cfg ServiceConfig, linger time.Duration) (*coreConsumer, error) {
	k.log.Warn("JetStream disabled: events published while botdb is down are lost")
	c := &coreConsumer{sink: k, nc: nc, maxBatch: cfg.MaxBatch, linger: linger, wake: make(chan struct{}, 1)}
	for _, subj := range k.subj.EventSubjects() {
		sub, err := nc.QueueSubscribe(subj, queueGroup, c.onMsg)
		if err != nil {
			c.unsubscribe()
			return nil, fmt.Errorf("subscribing to %s: %w", subj, err)
		}
		c.subs = append(c.subs, sub)
		// Bursts of small events: allow far more messages than the default.
		if err := sub.SetPendingLimits(4<<20, 256<<20); err != nil {
			c.unsubscribe()
			return nil, fmt.Errorf("subscribing to %s: %w", subj, err)
		}
	}
	// Subscriptions are registered on the server before queries are served.
	if err := nc.Flush(); err != nil {
		c.unsubscribe()
		return nil, fmt.Errorf("subscribing to events: %w", err)
	}
	return c, nil
}

func (c *coreConsumer) unsubscribe() {
	for _, sub := range c.subs {
		_ = sub.Unsubscribe()
	}
}

func (c *coreConsumer) onMsg(m *nats.Msg) {
	c.mu.Lock()
	c.queue = append(c.queue, m)
	c.received.Add(1)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *coreConsumer) describe(h *Health) {
	h.JetStream = false
	received, applied := c.received.Load(), c.sink.lastSeq.Load()
	h.Lag = received - min(received, applied)
}

// met reports whether a query is served without waiting: every event
// received is committed. The requester's sequence means nothing here.
func (c *coreConsumer) met(_ uint64, hasMinSeq bool) bool {
	return hasMinSeq && c.received.Load() == c.sink.lastSeq.Load()
}

// target is the read barrier without a stream: the requester's earlier
// events reached this connection before its query (one server, one
// connection, in order), so they are queued in the subscriptions or in
// queue. It waits until the subscriptions have handed everything over and
// returns how many events that is.
func (c *coreConsumer) target(ctx context.Context, _ uint64, _ bool) (uint64, error) {
	// Bounded by ctx, not by a count of tries: on a loaded machine the
	// subscriptions' goroutines can take a while to run, and giving up
	// early would answer with a view that misses the requester's events.
	for i := 0; ; i++ {
		var pending, delivered uint64
		for _, sub := range c.subs {
			p, _, _ := sub.Pending()
			d, _ := sub.Delivered()
			pending += uint64(max(p, 0))
			delivered += uint64(d)
		}
		target := c.received.Load()
		if pending == 0 && delivered == target {
			return target, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, &behindError{behind: pending + target - min(target, c.sink.lastSeq.Load()), err: err}
		}
		if i < 100 {
			runtime.Gosched()
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// halt stops the subscriptions after they hand over what they hold.
func (c *coreConsumer) halt(ctx context.Context) {
	for _, sub := range c.subs {
		if err := sub.Drain(); err != nil {
			c.sink.log.Warn("draining subscription", "subject", sub.Subject, "error", err)
		}
	}
	for _, sub := range c.subs {
		for sub.IsValid() && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
}

// run commits whatever the subscriptions queued, one transaction per round
// (at most MaxBatch events each). Lingering, it waits a linger after a
// round's first event before committing, to commit more at once.
func (c *coreConsumer) run() error {
	k := c.sink
	g := newGroupCommit(c.linger, k)
	var processed uint64
	for {
		stop := false
		select {
		case <-c.wake:
		case <-k.stop:
			stop = true
		}
		if !stop && g.lingering {
			g.wait(c.linger)
		}
		got := 0
		for {
			c.mu.Lock()
			n := min(len(c.queue), c.maxBatch)
			batch := make([]*nats.Msg, n)
			copy(batch, c.queue)
			c.queue = c.queue[:copy(c.queue, c.queue[n:])]
			c.mu.Unlock()
			if n == 0 {
				break
			}
			raws := make([]rawEvent, n)
			for i, m := range batch {
				raws[i] = rawEvent{seq: processed + uint64(i) + 1, subject: m.Subject, data: m.Data}
			}
			applied, err := k.write(0, raws)
			if err != nil {
				return err
			}
			processed += uint64(n)
			got += n
			k.committed(processed, applied)
			if !g.lingering {
				g.committed(n)
			}
		}
		if stop {
			return nil
		}
		if g.lingering {
			g.round(got, got >= c.maxBatch)
		} else {
			g.start()
		}
	}
}
