package botdb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenPragmas(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		sync int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{"default", nil, 1},
		{"normal", []Option{WithSynchronous(SyncNormal)}, 1},
		{"full", []Option{WithSynchronous(SyncFull)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := MustOpenDB(t, tc.opts...)
			ctx := context.Background()
			var mode string
			var fk, sync, busy, ckpt, limit int
			row := db.write.QueryRowContext(ctx, `SELECT (SELECT journal_mode FROM pragma_journal_mode), (SELECT foreign_keys FROM pragma_foreign_keys),
				(SELECT synchronous FROM pragma_synchronous), (SELECT timeout FROM pragma_busy_timeout)`)
			if err := row.Scan(&mode, &fk, &sync, &busy); err != nil {
				t.Fatal(err)
			}
			// Pragmas with side effects have no table-valued form.
			if err := db.write.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&ckpt); err != nil {
				t.Fatal(err)
			}
			if err := db.write.QueryRowContext(ctx, `PRAGMA journal_size_limit`).Scan(&limit); err != nil {
				t.Fatal(err)
			}
			if mode != "wal" || fk != 1 || sync != tc.sync || busy != int(busyTimeout/time.Millisecond) ||
				ckpt != walAutocheckpoint || limit != walJournalLimit {
				t.Errorf("journal_mode=%s foreign_keys=%d synchronous=%d busy_timeout=%d wal_autocheckpoint=%d journal_size_limit=%d; want wal 1 %d %d %d %d",
					mode, fk, sync, busy, ckpt, limit, tc.sync, busyTimeout/time.Millisecond, walAutocheckpoint, walJournalLimit)
			}
			// The read pool must refuse writes.
			if _, err := db.read.ExecContext(ctx, `DELETE FROM recent_chat`); err == nil {
				t.Error("read pool accepted a write")
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, path string
		opts       []Option
		want       string
	}{
		{"empty path", "", nil, "plain file path"},
		{"memory", ":memory:", nil, "plain file path"},
		{"uri", "file:" + filepath.Join(dir, "x.db"), nil, "plain file path"},
		{"query", filepath.Join(dir, "x.db") + "?mode=ro", nil, "plain file path"},
		{"missing dir", filepath.Join(dir, "no", "such", "x.db"), nil, "open botdb"},
		{"bad synchronous", filepath.Join(dir, "x.db"), []Option{WithSynchronous("OFF")}, `synchronous must be "NORMAL" or "FULL"`},
		{"nil clock", filepath.Join(dir, "x.db"), []Option{WithClock(nil)}, "clock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(context.Background(), tc.path, tc.opts...)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bot.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.LogChat(ctx, "alice", "hello", epoch); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	msgs, err := db.RecentMessages(ctx, 0, 0)
	if err != nil || len(msgs) != 1 || msgs[0].Message != "hello" {
		t.Fatalf("after reopen: %v, %v", msgs, err)
	}
	var n, version int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &version); err != nil {
		t.Fatal(err)
	}
	if n != 1 || version != SchemaVersion() || version < 1 {
		t.Errorf("schema_migrations has %d rows, version %d; want 1 row at version %d", n, version, SchemaVersion())
	}
}

func TestOpenSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bot.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	newer := SchemaVersion() + 1
	if _, err := db.write.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future.sql', 0)`, newer); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, path)
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a newer schema")
	}
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), fmt.Sprint(newer)) {
		t.Errorf("error %q: want ErrSchemaTooNew naming version %d", err, newer)
	}
}

func TestMigrationsNumbered(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.version != i+1 {
			t.Errorf("migration %d is %s (version %d); want versions 1, 2, ... without gaps", i, m.name, m.version)
		}
	}
}

func TestExplainUsesIndexes(t *testing.T) {
	// The read paths must walk an index, not sort the table.
	db := MustOpenDB(t)
	for _, tc := range []struct {
		name, query string
		args        []any
	}{
		{"recent messages", sqlRecent, []any{100, 0}},
		{"top chatters", sqlTop, []any{10}},
		{"history", sqlHistory, []any{0}},
		{"actions of user", sqlActionsUser, []any{"alice", 10}},
		{"actions", sqlActionsAll, []any{10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := db.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			p := strings.Join(plan, "; ")
			if strings.Contains(p, "TEMP B-TREE") || !strings.Contains(p, "INDEX") {
				t.Errorf("plan %q: want an index walk without a sort", p)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	// Writers and readers at once: writes are serialized, nothing is lost,
	// reads never fail with SQLITE_BUSY.
	db := MustOpenDB(t)
	ctx := context.Background()
	const writers, perWriter = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*perWriter)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				user := fmt.Sprintf("w%d", w)
				if err := db.Apply(ctx, []Event{
					{Kind: EventChatMessage, Username: user, Message: fmt.Sprintf("m%d", i)},
					{Kind: EventUserJoined, Username: user},
				}); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range perWriter {
				if _, err := db.RecentMessages(ctx, 10, 0); err != nil {
					errs <- err
				}
				if _, _, err := db.UserStats(ctx, "w0"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	msgs, err := db.RecentMessages(ctx, MaxLimit, 0)
	if err != nil || len(msgs) != writers*perWriter {
		t.Fatalf("got %d messages (%v); want %d", len(msgs), err, writers*perWriter)
	}
	for w := range writers {
		st, ok, err := db.UserStats(ctx, fmt.Sprintf("w%d", w))
		if err != nil || !ok || st.TotalChatLines != perWriter {
			t.Errorf("w%d: %+v, %v, %v; want %d lines", w, st, ok, err, perWriter)
		}
	}
}

func TestTwoStoresOneFile(t *testing.T) {
	// Two processes (here two DBs) on one file wait for each other's
	// write lock instead of failing.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bot.db")
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	for _, db := range []*DB{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if err := db.LogChat(ctx, "alice", fmt.Sprint(i), time.Time{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	msgs, err := a.RecentMessages(ctx, 1000, 0)
	if err != nil || len(msgs) != 100 {
		t.Fatalf("got %d messages, %v; want 100", len(msgs), err)
	}
}

func TestUseAfterClose(t *testing.T) {
	db := MustOpenDB(t) // its cleanup closes again: Close is idempotent
	ctx := context.Background()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.LogChat(ctx, "alice", "hi", time.Time{}); err == nil {
		t.Error("LogChat after Close succeeded")
	}
	if _, err := db.RecentMessages(ctx, 0, 0); err == nil {
		t.Error("RecentMessages after Close succeeded")
	}
	if err := db.Apply(ctx, []Event{{Kind: EventUserJoined, Username: "a"}}); err == nil {
		t.Error("Apply after Close succeeded")
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	// Processes starting together on a new file (here four DBs) wait for
	// each other: each opens, and the schema is migrated once.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bot.db")
	dbs := make([]*DB, 4)
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = Open(ctx, path)
		}()
	}
	wg.Wait()
	for i, db := range dbs {
		if errs[i] != nil {
			t.Errorf("open %d: %v", i, errs[i])
			continue
		}
		defer db.Close()
		var n int
		if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(mustMigrations(t)) {
			t.Errorf("db %d: %d migrations recorded, %v; want %d", i, n, err, len(mustMigrations(t)))
		}
	}
}

func mustMigrations(t *testing.T) []migration {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
