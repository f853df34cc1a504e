-- docvault schema, version 8 (SQLite): see the PostgreSQL file. The relay's
-- state moves to outbox_pending and outbox_published; outbox_events rows are
-- written once.

CREATE TABLE IF NOT EXISTS outbox_pending (
    seq INTEGER PRIMARY KEY,
    ordering_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS ix_outbox_pending_next_attempt
    ON outbox_pending (next_attempt_at) WHERE next_attempt_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS outbox_published (
    seq INTEGER PRIMARY KEY,
    published_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_outbox_published_at ON outbox_published (published_at);

INSERT INTO outbox_pending (seq, ordering_key, created_at, attempts, next_attempt_at, last_error)
    SELECT seq, ordering_key, created_at, attempts, next_attempt_at, last_error
    FROM outbox_events WHERE published_at IS NULL;
INSERT INTO outbox_published (seq, published_at)
    SELECT seq, published_at FROM outbox_events WHERE published_at IS NOT NULL;

DROP INDEX IF EXISTS ix_outbox_events_pending;
DROP INDEX IF EXISTS ix_outbox_events_published_at;
DROP INDEX IF EXISTS ix_outbox_events_pending_next_attempt;
ALTER TABLE outbox_events DROP COLUMN published_at;
ALTER TABLE outbox_events DROP COLUMN attempts;
ALTER TABLE outbox_events DROP COLUMN next_attempt_at;
ALTER TABLE outbox_events DROP COLUMN last_error;

CREATE TRIGGER IF NOT EXISTS outbox_events_pending AFTER INSERT ON outbox_events
BEGIN
    INSERT INTO outbox_pending (seq, ordering_key, created_at) VALUES (NEW.seq, NEW.ordering_key, NEW.created_at);
END;

INSERT INTO schema_migrations (version, name) VALUES (8, '0008_outbox_state_tables')
    ON CONFLICT (version) DO NOTHING;
