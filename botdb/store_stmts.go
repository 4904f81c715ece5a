package botdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// chatChunk is how many recent_chat rows Apply inserts per statement: one
// multi-row INSERT costs one trip through database/sql and the driver
// instead of chatChunk trips.
const chatChunk = 64

// writeStmts are prepared once on the single writer connection and bound to
// each transaction with writeTx.stmt.
type writeStmts struct {
	insertChat     *sql.Stmt
	insertChatMany map[int]*sql.Stmt // by rows: 1, 2, 4, ... chatChunk
	userJoined     *sql.Stmt
	userLeft       *sql.Stmt
	userChat       *sql.Stmt
	insertHistory  *sql.Stmt
	raiseHigh      *sql.Stmt
	insertAction   *sql.Stmt
	setCursor      *sql.Stmt
	getCursor      *sql.Stmt
	cleanup        *sql.Stmt
}

const (
	sqlInsertChat = `INSERT INTO recent_chat (timestamp, username, message) VALUES (?, ?, ?)`

	// A join opens a session unless one is open already (a repeated join
	// event must not drop the time of the open session).
	sqlUserJoined = `INSERT INTO user_stats (username, first_seen, last_seen, current_session_start)
VALUES (?1, ?2, ?2, ?2)
ON CONFLICT (username) DO UPDATE SET
  first_seen = min(first_seen, excluded.first_seen),
  last_seen = max(last_seen, excluded.last_seen),
  current_session_start = COALESCE(current_session_start, excluded.current_session_start)`

	// A leave adds the open session's length to total_time_connected and
	// closes it; a leave without a session only moves last_seen.
	sqlUserLeft = `INSERT INTO user_stats (username, first_seen, last_seen)
VALUES (?1, ?2, ?2)
ON CONFLICT (username) DO UPDATE SET
  first_seen = min(first_seen, excluded.first_seen),
  last_seen = max(last_seen, excluded.last_seen),
  total_time_connected = total_time_connected +
    CASE WHEN current_session_start IS NOT NULL AND excluded.last_seen > current_session_start
         THEN excluded.last_seen - current_session_start ELSE 0 END,
  current_session_start = NULL`

	// Counts n chat lines seen between first and last. Apply adds up a
	// batch's lines per user and runs this once per user.
	sqlUserChat = `INSERT INTO user_stats (username, first_seen, last_seen, total_chat_lines)
VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (username) DO UPDATE SET
  first_seen = min(first_seen, excluded.first_seen),
  last_seen = max(last_seen, excluded.last_seen),
  total_chat_lines = total_chat_lines + excluded.total_chat_lines`

	sqlInsertHistory = `INSERT INTO user_count_history (timestamp, chat_users, connected_users) VALUES (?, ?, ?)`

	// Each mark only rises; its time is the time it was last raised. All
	// right-hand sides see the row as it was before the update.
	sqlRaiseHigh = `UPDATE channel_stats SET
  max_users = CASE WHEN ?1 > max_users THEN ?1 ELSE max_users END,
  max_users_timestamp = CASE WHEN ?1 > max_users THEN ?3 ELSE max_users_timestamp END,
  max_connected = CASE WHEN ?2 > max_connected THEN ?2 ELSE max_connected END,
  max_connected_timestamp = CASE WHEN ?2 > max_connected THEN ?3 ELSE max_connected_timestamp END,
  last_updated = ?3
WHERE id = 1`

	sqlInsertAction = `INSERT INTO user_actions (timestamp, username, action_type, details) VALUES (?, ?, ?, ?)`

	sqlSetCursor = `INSERT INTO consumer_cursor (source, seq, updated_at) VALUES (?, ?, ?)
ON CONFLICT (source) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`

	sqlGetCursor = `SELECT seq FROM consumer_cursor WHERE source = ?`

	sqlCleanup = `DELETE FROM user_count_history WHERE timestamp < ?`
)

func sqlInsertChatMany(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO recent_chat (timestamp, username, message) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?, ?, ?)")
	}
	return b.String()
}

func (s *writeStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.insertChat, sqlInsertChat},
		{&s.userJoined, sqlUserJoined},
		{&s.userLeft, sqlUserLeft},
		{&s.userChat, sqlUserChat},
		{&s.insertHistory, sqlInsertHistory},
		{&s.raiseHigh, sqlRaiseHigh},
		{&s.insertAction, sqlInsertAction},
		{&s.setCursor, sqlSetCursor},
		{&s.getCursor, sqlGetCursor},
		{&s.cleanup, sqlCleanup},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", firstLine(p.query), err)
		}
		*p.dst = st
	}
	s.insertChatMany = make(map[int]*sql.Stmt)
	for n := 1; n <= chatChunk; n *= 2 {
		st, err := db.PrepareContext(ctx, sqlInsertChatMany(n))
		if err != nil {
			return fmt.Errorf("prepare insert of %d chat rows: %w", n, err)
		}
		s.insertChatMany[n] = st
	}
	return nil
}

func (s *writeStmts) close() {
	for _, st := range s.insertChatMany {
		st.Close()
	}
	for _, st := range []*sql.Stmt{s.insertChat, s.userJoined, s.userLeft, s.userChat,
		s.insertHistory, s.raiseHigh, s.insertAction, s.setCursor, s.getCursor, s.cleanup} {
		if st != nil {
			st.Close()
		}
	}
}

// readStmts are prepared on the read pool; database/sql prepares each again
// lazily on every pooled connection that runs it, then reuses it.
type readStmts struct {
	recent      *sql.Stmt
	userStats   *sql.Stmt
	top         *sql.Stmt
	totalUsers  *sql.Stmt
	high        *sql.Stmt
	history     *sql.Stmt
	actionsUser *sql.Stmt
	actionsAll  *sql.Stmt
	cursor      *sql.Stmt
}

const (
	sqlRecent = `SELECT id, timestamp, username, message FROM recent_chat
ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?`
	sqlUserStats = `SELECT first_seen, last_seen, total_chat_lines, total_time_connected, current_session_start
FROM user_stats WHERE username = ?`
	sqlTop = `SELECT username, total_chat_lines FROM user_stats WHERE total_chat_lines > 0
ORDER BY total_chat_lines DESC, username LIMIT ?`
	sqlTotalUsers = `SELECT COUNT(*) FROM user_stats`
	sqlHigh       = `SELECT max_users, max_users_timestamp, max_connected, max_connected_timestamp
FROM channel_stats WHERE id = 1`
	sqlHistory = `SELECT timestamp, chat_users, connected_users FROM user_count_history
WHERE timestamp >= ? ORDER BY timestamp, id`
	sqlActionsUser = `SELECT id, timestamp, username, action_type, details FROM user_actions
WHERE username = ? ORDER BY timestamp DESC, id DESC LIMIT ?`
	sqlActionsAll = `SELECT id, timestamp, username, action_type, details FROM user_actions
ORDER BY timestamp DESC, id DESC LIMIT ?`
)

func (s *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.recent, sqlRecent},
		{&s.userStats, sqlUserStats},
		{&s.top, sqlTop},
		{&s.totalUsers, sqlTotalUsers},
		{&s.high, sqlHigh},
		{&s.history, sqlHistory},
		{&s.actionsUser, sqlActionsUser},
		{&s.actionsAll, sqlActionsAll},
		{&s.cursor, sqlGetCursor},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", firstLine(p.query), err)
		}
		*p.dst = st
	}
	return nil
}

func (s *readStmts) close() {
	for _, st := range []*sql.Stmt{s.recent, s.userStats, s.top, s.totalUsers, s.high, s.history,
		s.actionsUser, s.actionsAll, s.cursor} {
		if st != nil {
			st.Close()
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
