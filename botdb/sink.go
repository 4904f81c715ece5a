package botdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// sink is what both ways of taking events share: the store they write to,
// the progress that queries wait on, and the signals between the two.
type sink struct {
	db   *DB
	ctx  context.Context // long-lived, for database work; never cancelled
	log  *slog.Logger
	subj Subjects
	now  func() time.Time
	// source is the cursor key (stream name and creation time): set, each
	// commit records its last stream sequence in the same transaction.
	source string
	stop   <-chan struct{} // closed by Stop

	applied, rejected, batches atomic.Int64
	lastSeq                    atomic.Uint64 // applied up to this sequence

	progMu   sync.Mutex
	progress chan struct{} // closed and replaced after each commit

	readers readers
}

// readers counts the readers waiting for an event not yet committed, and
// wakes a lingering consume loop when one starts: a reader never waits for
// a linger.
type readers struct {
	n     atomic.Int32
	hurry chan struct{}
}

func newReaders() readers { return readers{hurry: make(chan struct{}, 1)} }

// waiting reports whether a reader waits.
func (r *readers) waiting() bool { return r.n.Load() > 0 }

// start registers a waiting reader and wakes a lingering loop; the caller
// calls end when it stops waiting.
func (r *readers) start() {
	r.n.Add(1)
	select {
	case r.hurry <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func (r *readers) end() { r.n.Add(-1) }

// stopping reports whether Stop was called.
func (k *sink) stopping() bool {
	select {
	case <-k.stop:
		return true
	default:
		return false
	}
}

// committed records progress after a commit and wakes waiting queries.
func (k *sink) committed(seq uint64, applied int) {
	k.applied.Add(int64(applied))
	k.batches.Add(1)
	k.advance(seq)
}

// advance records that everything up to seq is applied (also past read
// barriers, which need no transaction) and wakes waiting queries.
func (k *sink) advance(seq uint64) {
	k.lastSeq.Store(seq)
	k.progMu.Lock()
	close(k.progress)
	k.progress = make(chan struct{})
	k.progMu.Unlock()
}

// waitApplied blocks until every event up to seq is applied, done is
// closed, or ctx ends; see Service.WaitApplied.
func (k *sink) waitApplied(ctx context.Context, seq uint64, done <-chan struct{}) error {
	if k.lastSeq.Load() >= seq {
		return nil
	}
	k.readers.start()
	defer k.readers.end()
	for {
		if k.lastSeq.Load() >= seq {
			return nil
		}
		k.progMu.Lock()
		ch := k.progress
		k.progMu.Unlock()
		if k.lastSeq.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-done:
			return fmt.Errorf("waiting for events up to %d: service stopped at %d", seq, k.lastSeq.Load())
		case <-ctx.Done():
			return &behindError{behind: seq - min(seq, k.lastSeq.Load()), err: ctx.Err()}
		}
	}
}

// behindError is a query whose deadline came before the events it waits
// for were applied: the service is catching up (after a start, or with a
// burst). It unwraps to the context's error.
type behindError struct {
	behind uint64 // stream messages still to apply
	err    error
}

func (e *behindError) Error() string {
	return fmt.Sprintf("catching up: %d events behind (%v)", e.behind, e.err)
}

func (e *behindError) Unwrap() error { return e.err }

// reject counts and logs an event that will not be stored.
func (k *sink) reject(subject string, seq uint64, err error) {
	k.rejected.Add(1)
	k.log.Warn("event rejected", "subject", subject, "seq", seq, "reason", err.Error())
}

// rawEvent is one received message on its way to the store.
type rawEvent struct {
	seq     uint64
	subject string
	data    []byte
}

// parse turns raw messages into events, rejecting the bad ones. seqs[i] is
// the sequence of events[i].
func (k *sink) parse(raws []rawEvent) (events []Event, seqs []uint64) {
	events = make([]Event, 0, len(raws))
	seqs = make([]uint64, 0, len(raws))
	for _, r := range raws {
		if r.subject == k.subj.Sync {
			continue // a read barrier, not an event
		}
		kind, ok := k.subj.Events[r.subject]
		if !ok {
			k.reject(r.subject, r.seq, errors.New("subject: not an event subject"))
			continue
		}
		e, err := ParseEvent(kind, r.data)
		if err != nil {
			k.reject(r.subject, r.seq, err)
			continue
		}
		events = append(events, e)
		seqs = append(seqs, r.seq)
	}
	return events, seqs
}

// write parses raws and applies them in one transaction, recording lastSeq
// as the cursor when source is set; see apply.
func (k *sink) write(lastSeq uint64, raws []rawEvent) (int, error) {
	events, seqs := k.parse(raws)
	return k.apply(lastSeq, events, seqs, func(i int) string { return subjectOfSeq(raws, seqs[i]) })
}

// apply writes events in one transaction, recording lastSeq as the cursor
// when source is set. If the store refuses one event, each is retried alone
// so that only the bad one is rejected. A database failure is retried with
// backoff until it succeeds or the service stops; it returns the number of
// events stored.
func (k *sink) apply(lastSeq uint64, events []Event, seqs []uint64, subjects func(int) string) (int, error) {
	backoff := 10 * time.Millisecond
	for {
		var err error
		if k.source != "" {
			err = k.db.ApplyFrom(k.ctx, k.source, lastSeq, events)
		} else {
			err = k.db.Apply(k.ctx, events)
		}
		if err == nil {
			return len(events), nil
		}
		if errors.Is(err, ErrInvalid) && len(events) > 0 {
			return k.applyOneByOne(lastSeq, events, seqs, subjects)
		}
		k.log.Error("writing events to the database; retrying", "events", len(events), "error", err)
		if k.stopping() {
			return 0, fmt.Errorf("writing %d events: %w", len(events), err)
		}
		select {
		case <-time.After(backoff):
		case <-k.stop:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (k *sink) applyOneByOne(lastSeq uint64, events []Event, seqs []uint64, subjects func(int) string) (int, error) {
	n := 0
	for i, e := range events {
		var err error
		if k.source != "" {
			err = k.db.ApplyFrom(k.ctx, k.source, seqs[i], []Event{e})
		} else {
			err = k.db.Apply(k.ctx, []Event{e})
		}
		switch {
		case err == nil:
			n++
		case errors.Is(err, ErrInvalid):
			k.reject(subjects(i), seqs[i], err)
		default:
			return n, fmt.Errorf("writing event %d: %w", seqs[i], err)
		}
	}
	if k.source != "" {
		// Records the cursor past trailing barriers or rejected events.
		if err := k.db.ApplyFrom(k.ctx, k.source, lastSeq, nil); err != nil {
			return n, fmt.Errorf("recording cursor %d: %w", lastSeq, err)
		}
	}
	return n, nil
}

func subjectOfSeq(raws []rawEvent, seq uint64) string {
	for _, r := range raws {
		if r.seq == seq {
			return r.subject
		}
	}
	return ""
}
