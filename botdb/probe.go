package botdb

import (
	"context"
	"sync"
)

// probes hands out read barriers for queries that carry no sequence of
// their own. A probe is a publish into the stream's ingest path that
// returns the stream's last sequence as the stream's goroutine sees it when
// it takes the probe: a query's earlier events were in that ingest queue
// before the query was delivered here, so a probe sent after the query
// arrived reports a sequence at or after all of them (docs/BOTDB.md,
// "Read-your-writes").
//
// One probe is in flight at a time. Queries that arrive meanwhile join the
// next one, which is sent as soon as the current one is answered: under
// load many queries share one probe, and a lone query sends its own
// without a goroutine hop.
type probes struct {
	publish func() (uint64, error) // sends one probe, returns the sequence it reports

	mu   sync.Mutex
	busy bool        // a probe is in flight
	next *probeRound // the round queries join while busy
}

// probeRound is one probe and the queries waiting for it.
type probeRound struct {
	done   chan struct{}
	joined int // queries waiting for it
	seq    uint64
	err    error
}

// get returns the sequence reported by a probe sent after the call began.
func (m *probes) get(ctx context.Context) (uint64, error) {
	m.mu.Lock()
	if !m.busy {
		m.busy = true
		m.mu.Unlock()
		seq, err := m.publish()
		m.handOver()
		return seq, err
	}
	if m.next == nil {
		m.next = &probeRound{done: make(chan struct{})}
	}
	r := m.next
	r.joined++
	m.mu.Unlock()
	select {
	case <-r.done:
		return r.seq, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// handOver ends a probe: queries that joined meanwhile get one of their
// own, sent by a goroutine that serves rounds while there are any.
func (m *probes) handOver() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next == nil {
		m.busy = false
		return
	}
	go m.serve()
}

// serve sends one probe per waiting round until none is left.
func (m *probes) serve() {
	for {
		m.mu.Lock()
		r := m.next
		m.next = nil
		if r == nil {
			m.busy = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		r.seq, r.err = m.publish()
		close(r.done)
	}
}
