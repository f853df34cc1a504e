-- docvault schema, version 7 (PostgreSQL): the relay's claim looks up the
-- pending rows that are leased or waiting for a retry (they hold back the
-- later rows of their entity). Without this index that lookup scanned the
-- whole table, published rows included, on every claim. Rows never leased
-- (next_attempt_at NULL) stay out of it, so an append does not touch it.
-- The build reads the table once; it is small next to the outbox's other work.
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/0007_outbox_blocking_index.sql

BEGIN;

CREATE INDEX IF NOT EXISTS ix_outbox_events_pending_next_attempt
    ON outbox_events (next_attempt_at) WHERE published_at IS NULL AND next_attempt_at IS NOT NULL;

INSERT INTO schema_migrations (version, name) VALUES (7, '0007_outbox_blocking_index')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
