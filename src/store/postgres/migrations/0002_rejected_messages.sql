-- docvault schema, version 2 (PostgreSQL): messages the consumer could not
-- accept (not JSON, failed validation, unknown action, corrupted body), kept
-- before they leave the queue so nothing is silently lost.
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/0002_rejected_messages.sql

BEGIN;

CREATE TABLE IF NOT EXISTS rejected_messages (
    id UUID PRIMARY KEY,
    message_id VARCHAR(255) NOT NULL UNIQUE,
    body BYTEA NOT NULL,
    reason VARCHAR(64) NOT NULL,
    detail TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    rejected_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS ix_rejected_messages_rejected_at ON rejected_messages (rejected_at);

INSERT INTO schema_migrations (version, name) VALUES (2, '0002_rejected_messages')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
