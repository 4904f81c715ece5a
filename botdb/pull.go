package botdb

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pull is one pull request to a JetStream consumer, made by hand rather
// than with jetstream's Fetch so that the consume loop decides when to give
// up on it: while running, only a second after the server's expiry with
// nothing heard, so that no delivery in flight is dropped (with AckAll a
// dropped delivery must be found as a gap and delivered again); on stop or
// leave, at once, so that Stop does not wait for an idle request to expire.
// What the server still sends a request given up is not acknowledged: the
// next consumer reset, at the latest the next start's, delivers it again.
type pull struct {
	sub  *nats.Subscription
	raw  chan *nats.Msg // the inbox: deliveries and status messages
	msgs chan *nats.Msg // deliveries, closed at the end
	quit chan struct{}  // closed by leave
	err  error          // how it ended; read after msgs is closed
}

// pullRequest is the body of a $JS.API.CONSUMER.MSG.NEXT request.
type pullRequest struct {
	Batch   int           `json:"batch"`
	Expires time.Duration `json:"expires,omitempty"`
	NoWait  bool          `json:"no_wait,omitempty"`
}

// pullStatusRoom is the room, beyond the batch, for the status messages
// the server may send a pull request's inbox: a timeout, a conflict or
// two.
const pullStatusRoom = 8

// startPull sends a pull request for up to req.Batch messages to the
// consumer's next-message subject. stop, when not nil, ends it at once
// when closed.
func startPull(nc *nats.Conn, nextSubject string, req pullRequest, stop <-chan struct{}) (*pull, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	p := &pull{
		// Room for every delivery and status message the request can
		// bring: a channel subscription drops what does not fit.
		raw:  make(chan *nats.Msg, req.Batch+pullStatusRoom),
		msgs: make(chan *nats.Msg, req.Batch),
		quit: make(chan struct{}),
	}
	inbox := nc.NewInbox()
	if p.sub, err = nc.ChanSubscribe(inbox, p.raw); err != nil {
		return nil, fmt.Errorf("pull request: subscribing to its inbox: %w", err)
	}
	if err := nc.PublishRequest(nextSubject, inbox, body); err != nil {
		_ = p.sub.Unsubscribe()
		return nil, fmt.Errorf("pull request: %w", err)
	}
	go p.run(req, stop)
	return p, nil
}

// run passes deliveries on until the request is done (its batch delivered,
// or the server's status ends it), the client gives up, or it is left.
func (p *pull) run(req pullRequest, stop <-chan struct{}) {
	// Unsubscribe before the close: once the loop sees the end, a flush
	// is enough for the server to know the inbox is gone (see
	// resetConsumer).
	defer close(p.msgs)
	defer func() { _ = p.sub.Unsubscribe() }()
	// A no-wait request ends with a status at once; the margin covers a
	// reply that never comes.
	giveUp := req.Expires + time.Second
	timer := time.NewTimer(giveUp)
	defer timer.Stop()
	got := 0
	for {
		select {
		case m := <-p.raw:
			timer.Reset(giveUp)
			deliver, end, err := pullStatus(m)
			if end {
				p.err = err
				return
			}
			if !deliver {
				continue
			}
			p.msgs <- m // never blocks: room for the whole batch
			if got++; got == req.Batch {
				return
			}
		case <-timer.C:
			return
		case <-stop:
			return
		case <-p.quit:
			return
		}
	}
}

// Messages returns the deliveries, closed when the request has ended.
func (p *pull) Messages() <-chan *nats.Msg { return p.msgs }

// Error reports why the request ended, nil for an expiry, a no-wait
// request that found nothing, or a client's end; valid once Messages is
// closed.
func (p *pull) Error() error { return p.err }

// leave gives the request up at once and waits for its end: what it
// delivers is not used.
func (p *pull) leave() {
	if p == nil {
		return
	}
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	for range p.msgs {
	}
}

// pullStatus sorts a message on a pull request's inbox: a delivery, a
// status that ends the request (with an error if it is not a plain
// timeout or "no messages"), or one to ignore (a heartbeat).
//
// A delivery carries its ack subject as reply; the server's status
// messages carry none. That, not the headers, tells them apart: anyone who
// may publish events can store an empty message with a Status header, and
// taken for a status it would end every pull request that brings it, so
// the consumer would never get past it.
func pullStatus(m *nats.Msg) (deliver, end bool, err error) {
	if m.Reply != "" || len(m.Data) > 0 || len(m.Header) == 0 {
		return true, false, nil
	}
	code := m.Header.Get("Status")
	descr := m.Header.Get("Description")
	switch code {
	case "":
		return true, false, nil
	case "100": // idle heartbeat or flow control
		return false, false, nil
	case "404", "408": // no messages, request expired
		return false, true, nil
	case "503":
		return false, true, nats.ErrNoResponders
	case "409":
		if strings.Contains(strings.ToLower(descr), "consumer deleted") {
			return false, true, jetstream.ErrConsumerDeleted
		}
	}
	return false, true, fmt.Errorf("pull request ended with status %s: %s", code, descr)
}
