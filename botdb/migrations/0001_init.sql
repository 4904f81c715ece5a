-- Schema 1: the chat bot's tables, with the meaning of the original
-- BotDatabase. Every timestamp is Unix seconds (INTEGER), as the original
-- stored them.

-- One row per user ever seen. Counters are kept here so that a user's
-- statistics are a single-row read.
CREATE TABLE user_stats (
    username              TEXT    PRIMARY KEY NOT NULL,
    first_seen            INTEGER NOT NULL,
    last_seen             INTEGER NOT NULL,
    total_chat_lines      INTEGER NOT NULL DEFAULT 0 CHECK (total_chat_lines >= 0),
    total_time_connected  INTEGER NOT NULL DEFAULT 0 CHECK (total_time_connected >= 0),
    current_session_start INTEGER -- NULL while the user is not connected
) WITHOUT ROWID;

-- TopChatters walks this index instead of sorting the table.
CREATE INDEX user_stats_chat_lines ON user_stats (total_chat_lines DESC, username);

-- Private-message commands and other actions, newest read first per user.
CREATE TABLE user_actions (
    id          INTEGER PRIMARY KEY,
    timestamp   INTEGER NOT NULL,
    username    TEXT    NOT NULL,
    action_type TEXT    NOT NULL,
    details     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX user_actions_user_time ON user_actions (username, timestamp DESC, id DESC);
CREATE INDEX user_actions_time ON user_actions (timestamp DESC, id DESC);

-- The channel's high water marks: a single row (id 1), only ever raised.
CREATE TABLE channel_stats (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    max_users               INTEGER NOT NULL DEFAULT 0,
    max_users_timestamp     INTEGER, -- NULL until the first mark
    max_connected           INTEGER NOT NULL DEFAULT 0,
    max_connected_timestamp INTEGER, -- NULL until the first mark
    last_updated            INTEGER
);
INSERT INTO channel_stats (id) VALUES (1);

-- Periodic samples of the user counts; CleanupOldHistory trims it by time.
CREATE TABLE user_count_history (
    id              INTEGER PRIMARY KEY,
    timestamp       INTEGER NOT NULL,
    chat_users      INTEGER NOT NULL CHECK (chat_users >= 0),
    connected_users INTEGER NOT NULL CHECK (connected_users >= 0)
);
CREATE INDEX user_count_history_time ON user_count_history (timestamp);

-- The chat log. The index on timestamp also carries the rowid (id), so
-- ORDER BY timestamp DESC, id DESC is a backward index walk, not a sort.
CREATE TABLE recent_chat (
    id        INTEGER PRIMARY KEY,
    timestamp INTEGER NOT NULL,
    username  TEXT    NOT NULL,
    message   TEXT    NOT NULL
);
CREATE INDEX recent_chat_time ON recent_chat (timestamp);

-- Where each event source (a JetStream consumer) has been applied up to,
-- written in the same transaction as its events.
CREATE TABLE consumer_cursor (
    source     TEXT    PRIMARY KEY NOT NULL,
    seq        INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
