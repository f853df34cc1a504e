-- docvault schema, version 10 (SQLite): see the PostgreSQL file.

CREATE TABLE IF NOT EXISTS idempotency_keys (
    caller TEXT NOT NULL,
    idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) <= 255),
    request_sha256 TEXT NOT NULL,
    document_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (caller, idempotency_key)
) STRICT;

CREATE INDEX IF NOT EXISTS ix_idempotency_keys_created_at ON idempotency_keys (created_at);

INSERT INTO schema_migrations (version, name) VALUES (10, '0010_idempotency_keys')
    ON CONFLICT (version) DO NOTHING;
