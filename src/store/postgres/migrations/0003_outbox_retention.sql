-- docvault schema, version 3 (PostgreSQL): lets retention find published
-- outbox rows by age without scanning the table.
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/0003_outbox_retention.sql

BEGIN;

CREATE INDEX IF NOT EXISTS ix_outbox_events_published_at
    ON outbox_events (published_at) WHERE published_at IS NOT NULL;

INSERT INTO schema_migrations (version, name) VALUES (3, '0003_outbox_retention')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
