-- docvault schema, version 10 (PostgreSQL): Idempotency-Key on uploads. One
-- row per (caller, key) that created a document, with a fingerprint of the
-- request; a retry with the same key and request replays the document, with
-- another request is refused. Rows older than the retention
-- (DOCVAULT_IDEMPOTENCY_KEY_RETENTION_HOURS) are ignored and purged.
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/0010_idempotency_keys.sql

BEGIN;

CREATE TABLE IF NOT EXISTS idempotency_keys (
    caller TEXT NOT NULL,  -- "<actor type>:<token sub>"
    idempotency_key VARCHAR(255) NOT NULL,
    request_sha256 CHAR(64) NOT NULL,
    document_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (caller, idempotency_key)
);

CREATE INDEX IF NOT EXISTS ix_idempotency_keys_created_at ON idempotency_keys (created_at);

INSERT INTO schema_migrations (version, name) VALUES (10, '0010_idempotency_keys')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
