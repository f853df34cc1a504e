-- docvault schema, version 1 (PostgreSQL).
-- Applied by `docvault migrate` (and at start-up when DOCVAULT_AUTO_MIGRATE is
-- true), or by hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/0001_initial.sql
-- Idempotent: safe to run again.

BEGIN;

CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS documents (
    id UUID PRIMARY KEY,
    entity_id VARCHAR(255) NOT NULL,
    entity_type VARCHAR(64) NOT NULL,
    document_type VARCHAR(64) NOT NULL,
    filename VARCHAR(255) NOT NULL,
    content_type VARCHAR(255) NOT NULL,
    size_bytes BIGINT NOT NULL CHECK (size_bytes >= 0),
    sha256 CHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL CHECK (status IN ('active', 'archived')),
    archived_at TIMESTAMPTZ,
    archive_reason VARCHAR(64),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Listing an entity's documents in a stable order, and the cascade's
-- UPDATE ... WHERE entity_id = $1 AND entity_type = $2 AND status = 'active'.
CREATE INDEX IF NOT EXISTS ix_documents_entity
    ON documents (entity_id, entity_type, created_at, id);

-- Processed Events table for deduplication (the spec's DDL, unchanged).
CREATE TABLE IF NOT EXISTS processed_events (
    id UUID PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    event_id VARCHAR(255) NOT NULL UNIQUE,
    source VARCHAR(128) NOT NULL,
    action VARCHAR(128) NOT NULL,
    entity_id VARCHAR(255),
    entity_type VARCHAR(64)
);

CREATE INDEX IF NOT EXISTS ix_processed_events_event_id ON processed_events (event_id);

-- Events waiting to be published (and, until retention removes them, those
-- published). Written in the transaction that caused them; the relay
-- publishes them afterwards, oldest first.
CREATE TABLE IF NOT EXISTS outbox_events (
    seq BIGSERIAL PRIMARY KEY,
    event_id UUID NOT NULL UNIQUE,
    destination VARCHAR(8) NOT NULL CHECK (destination IN ('sns', 'sqs')),
    target VARCHAR(64) NOT NULL,
    ordering_key VARCHAR(255) NOT NULL,
    payload TEXT NOT NULL,
    message_attributes TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    last_error TEXT
);

CREATE INDEX IF NOT EXISTS ix_outbox_events_pending
    ON outbox_events (seq) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS ix_outbox_events_ordering_key
    ON outbox_events (ordering_key, seq);

INSERT INTO schema_migrations (version, name) VALUES (1, '0001_initial')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
