package botdb

import (
	"context"
	"sync"
)

// markers hands out read barriers for queries that carry no sequence of
// their own. Publishing a marker into the stream is the barrier: a query's
// earlier events were in the stream's ingest queue before the query was
// delivered here, so a marker published after it arrived is stored after
// them (docs/BOTDB.md, "Read-your-writes").
//
// One marker is in flight at a time. Queries that arrive meanwhile join the
// next one, which is published as soon as the current one is stored: under
// load many queries share one marker, and a lone query publishes its own
// without a goroutine hop.
type markers struct {
	publish func() (uint64, error) // publishes one marker, returns its sequence

	mu   sync.Mutex
	busy bool         // a marker is being published
	next *markerRound // the round queries join while busy
}

// markerRound is one marker and the queries waiting for it.
type markerRound struct {
	done   chan struct{}
	joined int // queries waiting for it
	seq    uint64
	err    error
}

// get returns the sequence of a marker published after the call began.
func (m *markers) get(ctx context.Context) (uint64, error) {
	m.mu.Lock()
	if !m.busy {
		m.busy = true
		m.mu.Unlock()
		seq, err := m.publish()
		m.handOver()
		return seq, err
	}
	if m.next == nil {
		m.next = &markerRound{done: make(chan struct{})}
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

// handOver ends a publish: queries that joined meanwhile get a marker of
// their own, published by a goroutine that serves rounds while there are
// any.
func (m *markers) handOver() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next == nil {
		m.busy = false
		return
	}
	go m.serve()
}

// serve publishes one marker per waiting round until none is left.
func (m *markers) serve() {
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
