-- docvault schema, version 2 (SQLite): messages the consumer could not accept.

CREATE TABLE IF NOT EXISTS rejected_messages (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    rejected_at TEXT NOT NULL
) STRICT;

CREATE INDEX IF NOT EXISTS ix_rejected_messages_rejected_at ON rejected_messages (rejected_at);

INSERT INTO schema_migrations (version, name) VALUES (2, '0002_rejected_messages')
    ON CONFLICT (version) DO NOTHING;
