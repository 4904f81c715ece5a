package botdb

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// EventWatchGrace is how long after the event watch is (re)subscribed (at
// start, after a reconnect) the service sends a probe for every query
// without MinSeqHeader, skipping none (see ServiceConfig.NoEventWatch).
// Around a subscription the protocol does not order another client's event before
// the probe (docs/BOTDB.md, "Skipping the probe"); a second is far longer
// than the server takes between matching an event's subscribers and
// queueing it for the stream.
const EventWatchGrace = time.Second

// watchChanLen bounds the events the watch holds until the consume loop
// discards them (it does with every delivery, so it holds about what
// arrives during one commit); beyond it they are dropped, which counts as
// an arrival all the same, and nats.go reports a slow consumer.
const watchChanLen = 64 << 10

// eventWatch tells a query that carries no MinSeqHeader whether the last
// probe's sequence is still a barrier for it, so that a plain client that
// published nothing since the last probe pays no probe of its own.
//
// It is a core queue subscription to the event subjects, in a queue group
// of its own, on the connection that receives the queries. The server
// queues an event for the stream before it hands it to queue subscribers
// (nats-server's processMsgResults delivers to plain subscriptions, the
// stream's among them, first), and it hands a client's messages to this
// connection in the order the client sent them; nats.go counts a message
// of a channel subscription as delivered in its read loop, before it reads
// the next one. So when a query is handled, every event its requester
// published before it is counted here, and an event counted before a probe
// was sent was in the stream's ingest queue before the probe: if nothing
// arrived since the last probe was sent, that probe's sequence covers the
// requester's events (docs/BOTDB.md has the argument in full).
type eventWatch struct {
	nc   *nats.Conn
	subs []*nats.Subscription
	ch   chan *nats.Msg // what the subscriptions deliver, never read but to discard
	now  func() time.Time

	mu    sync.Mutex
	valid bool   // a probe is recorded
	seq   uint64 // its sequence
	gen   uint64 // events arrived before it was sent
	recon uint64 // the connection's reconnects when it was sent
	// seenRecon is the last reconnect count seen; trustFrom is EventWatchGrace
	// after the watch's subscription was (re)made, as far as it is known.
	seenRecon uint64
	trustFrom time.Time
}

// watchToken is what a probe carries from before its send to its record.
type watchToken struct {
	gen, recon uint64
	ok         bool // the watch may vouch for this probe
}

// startWatch subscribes to subjects on nc.
func startWatch(nc *nats.Conn, subjects []string, now func() time.Time) (*eventWatch, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("watching events: %w", err)
	}
	// A group of its own: the server delivers to it after the stream's
	// subscription, and no other instance takes its events.
	group := "botdb-watch-" + hex.EncodeToString(id[:])
	w := &eventWatch{nc: nc, ch: make(chan *nats.Msg, watchChanLen), now: now}
	for _, subj := range subjects {
		sub, err := nc.ChanQueueSubscribe(subj, group, w.ch)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("watching %s: %w", subj, err)
		}
		w.subs = append(w.subs, sub)
	}
	// The grace counts from when the server has the subscriptions.
	if err := nc.Flush(); err != nil {
		w.close()
		return nil, fmt.Errorf("watching events: %w", err)
	}
	w.seenRecon = nc.Stats().Reconnects
	w.trustFrom = now().Add(EventWatchGrace)
	return w, nil
}

// discard empties the channel without waiting: only the counts matter.
// The consume loop calls it as it goes, which costs no wake-up of its own.
func (w *eventWatch) discard() {
	for n := len(w.ch); n > 0; n-- {
		<-w.ch
	}
}

// close unsubscribes.
func (w *eventWatch) close() {
	for _, sub := range w.subs {
		_ = sub.Unsubscribe()
	}
}

// arrived counts the events the connection's read loop has handed to the
// watch (delivered or dropped). Each count only grows, so the sum read one
// by one lies between the totals at the start and at the end of the call.
func (w *eventWatch) arrived() (uint64, bool) {
	var n uint64
	for _, sub := range w.subs {
		d, err := sub.Delivered()
		if err != nil {
			return 0, false
		}
		x, err := sub.Dropped()
		if err != nil {
			return 0, false
		}
		n += uint64(d) + uint64(x)
	}
	return n, true
}

// reconnectsLocked returns the connection's reconnect count and notes a
// new reconnect: the subscriptions were made again, so the grace starts
// over and the recorded probe is void. mu is held.
func (w *eventWatch) reconnectsLocked() uint64 {
	r := w.nc.Stats().Reconnects
	if r != w.seenRecon {
		w.seenRecon = r
		w.trustFrom = w.now().Add(EventWatchGrace)
		w.valid = false
	}
	return r
}

// mark is called just before a probe is sent.
func (w *eventWatch) mark() watchToken {
	gen, ok := w.arrived()
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.reconnectsLocked()
	return watchToken{gen: gen, recon: r, ok: ok && !w.now().Before(w.trustFrom)}
}

// record keeps the sequence a probe sent after tok's mark reported.
func (w *eventWatch) record(tok watchToken, seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !tok.ok || w.valid && tok.gen < w.gen {
		return
	}
	w.valid, w.seq, w.gen, w.recon = true, seq, tok.gen, tok.recon
}

// barrier returns the recorded probe's sequence if it is a barrier for a
// query handled now: no event arrived since that probe was sent, on the
// same connection, past the grace.
func (w *eventWatch) barrier() (uint64, bool) {
	gen, ok := w.arrived()
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.reconnectsLocked()
	if !ok || !w.valid || gen != w.gen || r != w.recon {
		return 0, false
	}
	return w.seq, true
}
