-- docvault schema, version 5 (PostgreSQL): what the admin API and retention
-- look processed events up by (an entity, an age).
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/0005_processed_event_indexes.sql

BEGIN;

CREATE INDEX IF NOT EXISTS ix_processed_events_created_at ON processed_events (created_at);
CREATE INDEX IF NOT EXISTS ix_processed_events_entity ON processed_events (entity_id, entity_type, created_at);

INSERT INTO schema_migrations (version, name) VALUES (5, '0005_processed_event_indexes')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
