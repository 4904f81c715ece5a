package botdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew means the database file was migrated by a newer version of
// this code: opening it with this version could misread or damage it.
var ErrSchemaTooNew = errors.New("database schema is newer than this program")

// busyTimeout is how long a connection waits for another process's lock
// before failing with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// walAutocheckpoint is the WAL size, in pages, at which a commit copies the
// WAL back into the database file. A checkpoint costs fsyncs paid by the
// commit that triggers it, so it is kept ten times rarer than SQLite's
// default of 1000 pages (docs/BOTDB.md has the figures). The WAL grows to
// about 40 MiB (4 KiB pages) and walJournalLimit truncates it back after a
// larger burst.
const (
	walAutocheckpoint = 10000
	walJournalLimit   = 64 << 20
)

// Synchronous is SQLite's synchronous setting, the store's durability choice.
type Synchronous string

// The durability choices. Both survive a crash of the process (SIGKILL)
// without losing a committed transaction; they differ on power loss.
const (
	// SyncNormal (the default) does not fsync on every commit in WAL mode:
	// a committed transaction survives the process being killed, but the
	// last transactions before a power loss or OS crash may be rolled back.
	// The database is never corrupted. This is the trade the chat bot wants:
	// statistics and chat logs, written at a high rate.
	SyncNormal Synchronous = "NORMAL"
	// SyncFull fsyncs the WAL on every commit: committed transactions also
	// survive power loss, at the price of one fsync per commit.
	SyncFull Synchronous = "FULL"
)

// Option configures Open.
type Option func(*options)

type options struct {
	sync Synchronous
	now  func() time.Time
}

// WithSynchronous sets the durability choice (default SyncNormal).
func WithSynchronous(s Synchronous) Option { return func(o *options) { o.sync = s } }

// WithClock sets the clock used for zero timestamps and for
// CleanupOldHistory; tests pass a fixed one. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// DB is the bot database, safe for concurrent use by many goroutines.
//
// It holds two pools on one SQLite file in WAL mode: a single writer
// connection, so writes are serialized in the process and never wait on
// SQLITE_BUSY from each other, and a pool of read-only connections, so reads
// run concurrently with each other and with the writer.
type DB struct {
	write *sql.DB
	read  *sql.DB
	now   func() time.Time
	ws    writeStmts
	rs    readStmts
}

// Open opens (creating if needed) the database file at path and migrates its
// schema. In-memory databases are refused: the writer and the readers would
// each see a different one.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o := options{sync: SyncNormal, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.sync != SyncNormal && o.sync != SyncFull {
		return nil, fmt.Errorf("open botdb: synchronous must be %q or %q, got %q", SyncNormal, SyncFull, o.sync)
	}
	if o.now == nil {
		return nil, errors.New("open botdb: clock must not be nil")
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return nil, fmt.Errorf("open botdb: path %q must be a plain file path (no \":memory:\", URI or '?')", path)
	}

	db := &DB{now: o.now}
	db.write = sql.OpenDB(connector{dsn: writeDSN(path, o.sync), drv: &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint = %d; PRAGMA journal_size_limit = %d",
				walAutocheckpoint, walJournalLimit), nil)
			return err
		},
	}})
	// One writer connection: the pool itself serializes writers, and its
	// prepared statements stay prepared on that one connection.
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)

	if err := db.migrate(ctx); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open botdb %s: %w", path, err)
	}
	if err := db.ws.prepare(ctx, db.write); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open botdb %s: %w", path, err)
	}

	db.read = sql.OpenDB(connector{dsn: readDSN(path), drv: &sqlite3.SQLiteDriver{}})
	n := max(4, runtime.GOMAXPROCS(0))
	db.read.SetMaxOpenConns(n)
	db.read.SetMaxIdleConns(n)
	if err := db.rs.prepare(ctx, db.read); err != nil {
		db.Close()
		return nil, fmt.Errorf("open botdb %s: %w", path, err)
	}
	return db, nil
}

// connector opens connections of one pool with its own driver value, so
// each pool gets its ConnectHook without registering a driver name globally.
type connector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

func writeDSN(path string, sync Synchronous) string {
	v := url.Values{}
	v.Set("_journal_mode", "WAL")
	v.Set("_busy_timeout", strconv.Itoa(int(busyTimeout/time.Millisecond)))
	v.Set("_foreign_keys", "1")
	v.Set("_synchronous", string(sync))
	// BEGIN IMMEDIATE takes the write lock at the start of the transaction,
	// so a second process waits on busy_timeout instead of failing at commit.
	v.Set("_txlock", "immediate")
	return path + "?" + v.Encode()
}

func readDSN(path string) string {
	v := url.Values{}
	v.Set("_busy_timeout", strconv.Itoa(int(busyTimeout/time.Millisecond)))
	v.Set("_foreign_keys", "1")
	v.Set("_query_only", "1")
	return path + "?" + v.Encode()
}

// Close closes the database. The readers close first so that the writer, the
// last connection, checkpoints the WAL into the database file.
func (db *DB) Close() error {
	var errs []error
	if db.read != nil {
		db.rs.close()
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		db.ws.close()
		errs = append(errs, db.write.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close botdb: %w", err)
	}
	return nil
}

// migration is one embedded schema change, numbered by its file name prefix.
type migration struct {
	version int
	name    string
}

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number and '_'", base)
		}
		ms = append(ms, migration{version: v, name: name})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// SchemaVersion is the newest schema version this code knows.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction with its record, and refuses
// a schema newer than the code.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	if err := db.createMigrationsTable(ctx); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	known := 0
	if len(ms) > 0 {
		known = ms[len(ms)-1].version
	}
	var current int
	if err := db.write.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > known {
		return fmt.Errorf("%w: database is at version %d, this program knows up to %d", ErrSchemaTooNew, current, known)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		if err := db.migrateOne(ctx, m); err != nil {
			return fmt.Errorf("migrate %s: %w", path.Base(m.name), err)
		}
	}
	return nil
}

// createMigrationsTable creates schema_migrations in a write transaction.
// Processes opening a new file together race to switch it to WAL, and
// SQLite answers SQLITE_BUSY without waiting on busy_timeout while another
// connection is in the middle of that switch, so a busy answer is retried
// until busyTimeout has passed.
func (db *DB) createMigrationsTable(ctx context.Context) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		err := db.inWrite(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		)`)
		var se sqlite3.Error
		if err == nil || !errors.As(err, &se) || se.Code != sqlite3.ErrBusy || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// inWrite runs one statement in its own write transaction.
func (db *DB) inWrite(ctx context.Context, stmt string) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return err
	}
	return tx.Commit()
}

func (db *DB) migrateOne(ctx context.Context, m migration) error {
	buf, err := fs.ReadFile(migrationFS, m.name)
	if err != nil {
		return err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process may have migrated while we waited for the lock.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, path.Base(m.name), db.now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// writeTx is a write transaction on the writer connection, with the time it began
// (by the store's clock) for events without a timestamp.
type writeTx struct {
	*sql.Tx
	db  *DB
	now time.Time
	// sctx runs the statements: it carries ctx's values but not its
	// cancellation, because the driver starts a goroutine per statement for a
	// cancellable context. Cancellation still ends the transaction (database/sql
	// rolls it back) and long loops check ctx themselves.
	sctx context.Context
	ctx  context.Context
}

// beginWrite starts a write transaction (BEGIN IMMEDIATE).
func (db *DB) beginWrite(ctx context.Context) (*writeTx, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &writeTx{Tx: tx, db: db, now: db.now(), sctx: context.WithoutCancel(ctx), ctx: ctx}, nil
}

// commit commits tx, naming the failure.
func (tx *writeTx) commit() error {
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", tx.cause(err))
	}
	return nil
}

// cause returns the context's error if the context ended: database/sql then
// rolled the transaction back, and err only says the statement or
// transaction is closed.
func (tx *writeTx) cause(err error) error {
	if cerr := tx.ctx.Err(); err != nil && cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// stmt binds a writer statement to the transaction; it stays prepared on the
// single writer connection, so this does not prepare again.
func (tx *writeTx) stmt(s *sql.Stmt) *sql.Stmt { return tx.StmtContext(tx.sctx, s) }

// unix converts t to the stored Unix seconds; the zero time means the
// transaction's now.
func (tx *writeTx) unix(t time.Time) int64 {
	if t.IsZero() {
		return tx.now.Unix()
	}
	return t.Unix()
}

// fromUnix converts stored Unix seconds to a UTC time.
func fromUnix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// fromNullUnix converts a nullable stored time; NULL is the zero time.
func fromNullUnix(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromUnix(n.Int64)
}
