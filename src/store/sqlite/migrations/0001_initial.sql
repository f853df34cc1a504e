-- docvault schema, version 1 (SQLite). The PostgreSQL schema with the nearest
-- SQLite types: UUIDs and timestamps as TEXT (timestamps in the fixed-width
-- form 2025-10-23T12:34:56.789Z, so text order is time order).

CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    entity_id TEXT NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 255),
    entity_type TEXT NOT NULL,
    document_type TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    status TEXT NOT NULL CHECK (status IN ('active', 'archived')),
    archived_at TEXT,
    archive_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX IF NOT EXISTS ix_documents_entity
    ON documents (entity_id, entity_type, created_at, id);

CREATE TABLE IF NOT EXISTS processed_events (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    event_id TEXT NOT NULL UNIQUE CHECK (length(event_id) <= 255),
    source TEXT NOT NULL CHECK (length(source) <= 128),
    action TEXT NOT NULL CHECK (length(action) <= 128),
    entity_id TEXT CHECK (length(entity_id) <= 255),
    entity_type TEXT CHECK (length(entity_type) <= 64)
) STRICT;

CREATE TABLE IF NOT EXISTS outbox_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    destination TEXT NOT NULL CHECK (destination IN ('sns', 'sqs')),
    target TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    message_attributes TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    published_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT
);

CREATE INDEX IF NOT EXISTS ix_outbox_events_pending
    ON outbox_events (seq) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS ix_outbox_events_ordering_key
    ON outbox_events (ordering_key, seq);

INSERT INTO schema_migrations (version, name) VALUES (1, '0001_initial')
    ON CONFLICT (version) DO NOTHING;
