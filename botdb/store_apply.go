package botdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Apply writes events in one transaction: all of them or, on any error, none.
// Every event is validated first; the error for an invalid one names its
// index and wraps its *ValidationError. This is the group-commit path of the
// NATS service: one commit for a whole batch.
func (db *DB) Apply(ctx context.Context, events []Event) error {
	if err := validateEvents(events); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if len(events) == 0 {
		return nil
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer tx.Rollback()
	if err := applyEvents(ctx, tx, events); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if err := tx.commit(); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

// ApplyFrom is Apply for a stream consumer: it also records seq as the
// cursor of source in the same transaction, so after a crash the events up to
// Cursor(source) are exactly those applied. A batch whose seq is not above
// the recorded cursor was applied already: ApplyFrom writes nothing and
// returns nil, so a redelivered batch is not counted twice.
func (db *DB) ApplyFrom(ctx context.Context, source string, seq uint64, events []Event) error {
	if err := validateSource(source, seq); err != nil {
		return fmt.Errorf("apply from %s: %w", source, err)
	}
	if err := validateEvents(events); err != nil {
		return fmt.Errorf("apply from %s: %w", source, err)
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("apply from %s: %w", source, err)
	}
	defer tx.Rollback()
	cur, found, err := cursor(tx.sctx, tx.stmt(tx.db.ws.getCursor), source)
	if err != nil {
		return fmt.Errorf("apply from %s: %w", source, tx.cause(err))
	}
	if found && seq <= cur {
		return nil
	}
	if err := applyEvents(ctx, tx, events); err != nil {
		return fmt.Errorf("apply from %s: %w", source, err)
	}
	if _, err := tx.stmt(tx.db.ws.setCursor).ExecContext(tx.sctx, source, int64(seq), tx.now.Unix()); err != nil {
		return fmt.Errorf("apply from %s: set cursor: %w", source, tx.cause(err))
	}
	if err := tx.commit(); err != nil {
		return fmt.Errorf("apply from %s: %w", source, err)
	}
	return nil
}

// Cursor returns the last sequence ApplyFrom recorded for source, 0 if none.
func (db *DB) Cursor(ctx context.Context, source string) (uint64, error) {
	if err := validateSource(source, 0); err != nil {
		return 0, fmt.Errorf("cursor: %w", err)
	}
	seq, _, err := cursor(ctx, db.rs.cursor, source)
	if err != nil {
		return 0, fmt.Errorf("cursor %s: %w", source, err)
	}
	return seq, nil
}

func cursor(ctx context.Context, st *sql.Stmt, source string) (uint64, bool, error) {
	var seq int64
	err := st.QueryRowContext(ctx, source).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return uint64(seq), true, nil
}

func validateEvents(events []Event) error {
	for i, e := range events {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("event %d (%s): %w", i, truncate(string(e.Kind), 64), err)
		}
	}
	return nil
}

// ctxCheckEvery is how often (in events) a long batch checks for
// cancellation; statements themselves run without it (see writeTx.sctx).
const ctxCheckEvery = 256

func applyEvents(ctx context.Context, tx *writeTx, events []Event) error {
	a := applier{tx: tx}
	for i, e := range events {
		if i%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := a.apply(ctx, e); err != nil {
			return fmt.Errorf("event %d (%s): %w", i, e.Kind, tx.cause(err))
		}
	}
	return tx.cause(a.flush())
}

// chatCount is a batch's chat lines of one user, seen between first and last
// (Unix seconds).
type chatCount struct{ first, last, lines int64 }

// countChat adds c to the user's counters, creating the user if unknown.
func countChat(tx *writeTx, username string, c chatCount) error {
	_, err := tx.stmt(tx.db.ws.userChat).ExecContext(tx.sctx, username, c.first, c.last, c.lines)
	return err
}

// applier applies validated events within one transaction. Chat lines are
// gathered: the messages go to recent_chat in multi-row INSERTs, in event
// order, and each user's line count is added once per batch. That reorders
// nothing observable: the chat counters (a sum, a min and a max) commute with
// the join/leave updates of the same row.
type applier struct {
	tx                                         *writeTx
	joined, left, chat, history, high, actions *sql.Stmt // bound to tx on first use
	chatMany                                   map[int]*sql.Stmt

	chatArgs []any          // pending recent_chat rows, 3 arguments each
	counts   map[string]int // username -> index in users
	users    []userCount    // in order of first appearance, for a stable write order
}

type userCount struct {
	username string
	chatCount
}

func (a *applier) bind(dst **sql.Stmt, s *sql.Stmt) *sql.Stmt {
	if *dst == nil {
		*dst = a.tx.stmt(s)
	}
	return *dst
}

func (a *applier) apply(ctx context.Context, e Event) error {
	tx, ws := a.tx, &a.tx.db.ws
	t := tx.unix(e.Time)
	var err error
	switch e.Kind {
	case EventUserJoined:
		_, err = a.bind(&a.joined, ws.userJoined).ExecContext(tx.sctx, e.Username, t)
	case EventUserLeft:
		_, err = a.bind(&a.left, ws.userLeft).ExecContext(tx.sctx, e.Username, t)
	case EventChatMessage:
		a.chatArgs = append(a.chatArgs, t, e.Username, e.Message)
		if len(a.chatArgs) == 3*chatChunk {
			err = a.flushChat()
		}
		a.count(e.Username, t)
	case EventUserCount:
		_, err = a.bind(&a.history, ws.insertHistory).ExecContext(tx.sctx, t, e.ChatCount, e.ConnectedCount)
	case EventHighWater:
		_, err = a.bind(&a.high, ws.raiseHigh).ExecContext(tx.sctx, e.ChatCount, e.ConnectedCount, t)
	case EventUserAction:
		_, err = a.bind(&a.actions, ws.insertAction).ExecContext(tx.sctx, t, e.Username, e.ActionType, e.Details)
	default:
		// Validate refuses unknown kinds; this guards a kind added without
		// being applied.
		err = fmt.Errorf("event kind %q not implemented", e.Kind)
	}
	return err
}

func (a *applier) count(username string, t int64) {
	if a.counts == nil {
		a.counts = make(map[string]int)
	}
	i, ok := a.counts[username]
	if !ok {
		a.counts[username] = len(a.users)
		a.users = append(a.users, userCount{username: username, chatCount: chatCount{first: t, last: t}})
		i = len(a.users) - 1
	}
	c := &a.users[i].chatCount
	c.lines++
	c.first = min(c.first, t)
	c.last = max(c.last, t)
}

// flushChat inserts the pending chat rows with as few statements as it can:
// chunks of chatChunk rows, then the rest by powers of two.
func (a *applier) flushChat() error {
	tx := a.tx
	args := a.chatArgs
	for rows := len(args) / 3; rows > 0; rows = len(args) / 3 {
		n := chatChunk
		for n > rows {
			n /= 2
		}
		st, ok := a.chatMany[n]
		if !ok {
			if a.chatMany == nil {
				a.chatMany = make(map[int]*sql.Stmt)
			}
			st = tx.stmt(tx.db.ws.insertChatMany[n])
			a.chatMany[n] = st
		}
		if _, err := st.ExecContext(tx.sctx, args[:3*n]...); err != nil {
			return fmt.Errorf("log chat: %w", err)
		}
		args = args[3*n:]
	}
	clear(a.chatArgs) // drop references to the strings
	a.chatArgs = a.chatArgs[:0]
	return nil
}

// flush writes what apply gathered.
func (a *applier) flush() error {
	if err := a.flushChat(); err != nil {
		return err
	}
	for _, u := range a.users {
		st := a.bind(&a.chat, a.tx.db.ws.userChat)
		if _, err := st.ExecContext(a.tx.sctx, u.username, u.first, u.last, u.lines); err != nil {
			return fmt.Errorf("count chat lines of %s: %w", u.username, err)
		}
	}
	return nil
}
