package botdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Message is one logged chat line.
type Message struct {
	ID        int64
	Timestamp time.Time
	Username  string
	Message   string
}

// UserStats is what the store knows about one user.
type UserStats struct {
	Username            string
	FirstSeen           time.Time
	LastSeen            time.Time
	TotalChatLines      int64
	TotalTimeConnected  time.Duration // closed sessions only, whole seconds
	CurrentSessionStart time.Time     // zero if the user is not connected
}

// ChatterCount is a user and their number of chat lines.
type ChatterCount struct {
	Username  string
	ChatLines int64
}

// HighWater is a high water mark: the most users seen at once, and when.
// Time is zero while no mark has been recorded.
type HighWater struct {
	Users int
	Time  time.Time
}

// UserCount is one sample of the user counts.
type UserCount struct {
	Time           time.Time
	ChatUsers      int
	ConnectedUsers int
}

// UserAction is one logged user action, such as a private-message command.
type UserAction struct {
	ID         int64
	Time       time.Time
	Username   string
	ActionType string
	Details    string
}

// LogChat logs a chat message in recent_chat; the zero ts means now. It does
// not count the line for the user: Apply's EventChatMessage does both.
func (db *DB) LogChat(ctx context.Context, username, message string, ts time.Time) error {
	if err := validateUsername("username", username); err != nil {
		return fmt.Errorf("log chat: %w", err)
	}
	if err := validateMessage(message); err != nil {
		return fmt.Errorf("log chat: %w", err)
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("log chat: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.stmt(db.ws.insertChat).ExecContext(tx.sctx, tx.unix(ts), username, message); err != nil {
		return fmt.Errorf("log chat: %w", tx.cause(err))
	}
	if err := tx.commit(); err != nil {
		return fmt.Errorf("log chat: %w", err)
	}
	return nil
}

// RecentMessages returns logged chat messages, newest first (by timestamp,
// then by id), skipping offset of them. A limit of 0 means DefaultLimit; a
// limit above MaxLimit is clamped; a negative limit or offset is refused.
func (db *DB) RecentMessages(ctx context.Context, limit, offset int) ([]Message, error) {
	limit, err := pageLimit(limit, DefaultLimit)
	if err != nil {
		return nil, fmt.Errorf("recent messages: %w", err)
	}
	if offset < 0 {
		return nil, fmt.Errorf("recent messages: %w", invalid("offset", fmt.Sprintf("must not be negative, got %d", offset)))
	}
	// A single SELECT is its own read transaction: no BEGIN/COMMIT needed.
	rows, err := db.rs.recent.QueryContext(ctx, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("recent messages: %w", err)
	}
	defer rows.Close()
	msgs := make([]Message, 0, min(limit, 128))
	for rows.Next() {
		var m Message
		var ts int64
		if err := rows.Scan(&m.ID, &ts, &m.Username, &m.Message); err != nil {
			return nil, fmt.Errorf("recent messages: %w", err)
		}
		m.Timestamp = fromUnix(ts)
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent messages: %w", err)
	}
	return msgs, nil
}

// UserJoined records that username joined at ts (zero = now): it creates
// the user if new, moves last_seen and opens a session. If a session is
// already open it is kept, so a repeated join loses no connected time.
func (db *DB) UserJoined(ctx context.Context, username string, ts time.Time) error {
	return db.writeOne(ctx, "user joined", Event{Kind: EventUserJoined, Username: username, Time: ts})
}

// UserLeft records that username left at ts (zero = now): the open session's
// length is added to the user's total connected time and the session closed.
func (db *DB) UserLeft(ctx context.Context, username string, ts time.Time) error {
	return db.writeOne(ctx, "user left", Event{Kind: EventUserLeft, Username: username, Time: ts})
}

// UserChatMessage counts one chat line for username at ts (zero = now),
// creating the user if unknown and moving last_seen. It does not log the
// message text: LogChat does.
func (db *DB) UserChatMessage(ctx context.Context, username string, ts time.Time) error {
	if err := validateUsername("username", username); err != nil {
		return fmt.Errorf("user chat message: %w", err)
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("user chat message: %w", err)
	}
	defer tx.Rollback()
	t := tx.unix(ts)
	if err := countChat(tx, username, chatCount{first: t, last: t, lines: 1}); err != nil {
		return fmt.Errorf("user chat message: %w", tx.cause(err))
	}
	if err := tx.commit(); err != nil {
		return fmt.Errorf("user chat message: %w", err)
	}
	return nil
}

// UpdateHighWaterMark raises the chat and connected high water marks to
// chatUsers and connectedUsers where they are higher, recording ts (zero =
// now) as the time of each mark raised. Marks never go down.
func (db *DB) UpdateHighWaterMark(ctx context.Context, chatUsers, connectedUsers int, ts time.Time) error {
	return db.writeOne(ctx, "update high water mark",
		Event{Kind: EventHighWater, ChatCount: chatUsers, ConnectedCount: connectedUsers, Time: ts})
}

// LogUserCount records a sample of the user counts at ts (zero = now).
func (db *DB) LogUserCount(ctx context.Context, chatUsers, connectedUsers int, ts time.Time) error {
	return db.writeOne(ctx, "log user count",
		Event{Kind: EventUserCount, ChatCount: chatUsers, ConnectedCount: connectedUsers, Time: ts})
}

// LogUserAction records an action by username, such as a private-message
// command, at ts (zero = now). details may be empty.
func (db *DB) LogUserAction(ctx context.Context, username, actionType, details string, ts time.Time) error {
	return db.writeOne(ctx, "log user action",
		Event{Kind: EventUserAction, Username: username, ActionType: actionType, Details: details, Time: ts})
}

// writeOne validates e and applies it in its own transaction.
func (db *DB) writeOne(ctx context.Context, op string, e Event) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer tx.Rollback()
	a := applier{tx: tx}
	if err := a.apply(ctx, e); err != nil {
		return fmt.Errorf("%s: %w", op, tx.cause(err))
	}
	if err := a.flush(); err != nil {
		return fmt.Errorf("%s: %w", op, tx.cause(err))
	}
	if err := tx.commit(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// UserStats returns the statistics of username, and whether the user is
// known.
func (db *DB) UserStats(ctx context.Context, username string) (UserStats, bool, error) {
	if err := validateUsername("username", username); err != nil {
		return UserStats{}, false, fmt.Errorf("user stats: %w", err)
	}
	var (
		first, last, lines, connected int64
		session                       sql.NullInt64
	)
	err := db.rs.userStats.QueryRowContext(ctx, username).Scan(&first, &last, &lines, &connected, &session)
	if errors.Is(err, sql.ErrNoRows) {
		return UserStats{}, false, nil
	}
	if err != nil {
		return UserStats{}, false, fmt.Errorf("user stats: %w", err)
	}
	return UserStats{
		Username:            username,
		FirstSeen:           fromUnix(first),
		LastSeen:            fromUnix(last),
		TotalChatLines:      lines,
		TotalTimeConnected:  time.Duration(connected) * time.Second,
		CurrentSessionStart: fromNullUnix(session),
	}, true, nil
}

// TopChatters returns the users with the most chat lines, most first (ties
// by username); users who never chatted are left out. A limit of 0 means
// DefaultTopChatters; above MaxLimit is clamped; negative is refused.
func (db *DB) TopChatters(ctx context.Context, limit int) ([]ChatterCount, error) {
	limit, err := pageLimit(limit, DefaultTopChatters)
	if err != nil {
		return nil, fmt.Errorf("top chatters: %w", err)
	}
	rows, err := db.rs.top.QueryContext(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("top chatters: %w", err)
	}
	defer rows.Close()
	var out []ChatterCount
	for rows.Next() {
		var c ChatterCount
		if err := rows.Scan(&c.Username, &c.ChatLines); err != nil {
			return nil, fmt.Errorf("top chatters: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("top chatters: %w", err)
	}
	return out, nil
}

// TotalUsersSeen returns how many distinct users the store knows.
func (db *DB) TotalUsersSeen(ctx context.Context) (int64, error) {
	var n int64
	if err := db.rs.totalUsers.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, fmt.Errorf("total users seen: %w", err)
	}
	return n, nil
}

// HighWaterMark returns the chat users high water mark.
func (db *DB) HighWaterMark(ctx context.Context) (HighWater, error) {
	chat, _, err := db.highWater(ctx)
	if err != nil {
		return HighWater{}, fmt.Errorf("high water mark: %w", err)
	}
	return chat, nil
}

// HighWaterMarkConnected returns the connected users high water mark.
func (db *DB) HighWaterMarkConnected(ctx context.Context) (HighWater, error) {
	_, conn, err := db.highWater(ctx)
	if err != nil {
		return HighWater{}, fmt.Errorf("high water mark connected: %w", err)
	}
	return conn, nil
}

func (db *DB) highWater(ctx context.Context) (chat, conn HighWater, err error) {
	var chatT, connT sql.NullInt64
	if err := db.rs.high.QueryRowContext(ctx).Scan(&chat.Users, &chatT, &conn.Users, &connT); err != nil {
		return HighWater{}, HighWater{}, err
	}
	chat.Time, conn.Time = fromNullUnix(chatT), fromNullUnix(connT)
	return chat, conn, nil
}

// UserCountHistory returns the user count samples taken at or after since,
// oldest first.
func (db *DB) UserCountHistory(ctx context.Context, since time.Time) ([]UserCount, error) {
	rows, err := db.rs.history.QueryContext(ctx, since.Unix())
	if err != nil {
		return nil, fmt.Errorf("user count history: %w", err)
	}
	defer rows.Close()
	var out []UserCount
	for rows.Next() {
		var c UserCount
		var ts int64
		if err := rows.Scan(&ts, &c.ChatUsers, &c.ConnectedUsers); err != nil {
			return nil, fmt.Errorf("user count history: %w", err)
		}
		c.Time = fromUnix(ts)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("user count history: %w", err)
	}
	return out, nil
}

// UserActions returns the newest actions of username, or of every user if
// username is empty, newest first. Limits as for RecentMessages.
func (db *DB) UserActions(ctx context.Context, username string, limit int) ([]UserAction, error) {
	limit, err := pageLimit(limit, DefaultLimit)
	if err != nil {
		return nil, fmt.Errorf("user actions: %w", err)
	}
	var rows *sql.Rows
	if username == "" {
		rows, err = db.rs.actionsAll.QueryContext(ctx, limit)
	} else {
		if err := validateUsername("username", username); err != nil {
			return nil, fmt.Errorf("user actions: %w", err)
		}
		rows, err = db.rs.actionsUser.QueryContext(ctx, username, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("user actions: %w", err)
	}
	defer rows.Close()
	var out []UserAction
	for rows.Next() {
		var a UserAction
		var ts int64
		if err := rows.Scan(&a.ID, &ts, &a.Username, &a.ActionType, &a.Details); err != nil {
			return nil, fmt.Errorf("user actions: %w", err)
		}
		a.Time = fromUnix(ts)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("user actions: %w", err)
	}
	return out, nil
}

// CleanupOldHistory deletes the user count samples older than olderThan
// before now (by the store's clock) and returns how many it deleted.
func (db *DB) CleanupOldHistory(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan < 0 {
		return 0, fmt.Errorf("cleanup old history: %w", invalid("older_than", fmt.Sprintf("must not be negative, got %s", olderThan)))
	}
	tx, err := db.beginWrite(ctx)
	if err != nil {
		return 0, fmt.Errorf("cleanup old history: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.stmt(db.ws.cleanup).ExecContext(tx.sctx, tx.now.Add(-olderThan).Unix())
	if err != nil {
		return 0, fmt.Errorf("cleanup old history: %w", tx.cause(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("cleanup old history: %w", err)
	}
	if err := tx.commit(); err != nil {
		return 0, fmt.Errorf("cleanup old history: %w", err)
	}
	return n, nil
}
