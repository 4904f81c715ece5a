// Package botdb is the chat bot's database: a SQLite store (DB) and the NATS
// service in front of it (Service), rebuilt from the bot's original
// BotDatabase with the same tables and meaning.
//
// # The store
//
// Open opens one SQLite file (github.com/mattn/go-sqlite3) and migrates it
// with the schema embedded in migrations/, versioned in the
// schema_migrations table; a file from a newer version of the code is
// refused with ErrSchemaTooNew. Tables: user_stats (one row per user, with
// its counters, so a user's statistics are a single-row read), user_actions,
// channel_stats (the high water marks), user_count_history, recent_chat (the
// chat log) and consumer_cursor (how far each event stream was applied).
// Timestamps are stored as Unix seconds; the API speaks time.Time and
// returns UTC.
//
// A DB is safe for concurrent use. The file is in WAL mode; writes go
// through a single writer connection, so they are serialized in the process
// and each exported method is one transaction; reads use a pool of read-only
// connections and run concurrently with each other and with the writer.
// Other processes are waited for up to a busy timeout.
//
// Durability: by default synchronous=NORMAL, which in WAL mode means a
// committed transaction survives the process being killed at any moment but
// the last few may be lost (never corrupted) on power loss or an OS crash.
// WithSynchronous(SyncFull) fsyncs every commit to survive power loss too.
//
// Every write validates its input first (usernames 1-50 characters of UTF-8
// without control characters, messages 1-4096 bytes of UTF-8, counts not
// negative) and refuses bad input with a *ValidationError, matched by
// errors.Is(err, ErrInvalid), writing nothing. Every query is parameterized.
//
// Apply writes a batch of Events of any kind in one transaction: the
// group-commit path. ApplyFrom also records the batch's stream sequence in
// the same transaction, which makes a stream consumer exactly-once.
//
// # The NATS service
//
// Service consumes the bot's events from NATS (by default through a
// JetStream stream, so events published while the service is down are kept)
// and applies them to the store in batches with ApplyFrom, and answers
// statistics requests by request/reply as the micro service "botdb". Client
// is the bot's side of it. StartServer runs an embedded NATS server for the
// daemon (cmd/botdb) and for tests.
package botdb
