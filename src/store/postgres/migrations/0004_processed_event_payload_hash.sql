-- docvault schema, version 4 (PostgreSQL): the SHA-256 of each processed
-- event's canonical body, so that an event_id reused for a different event is
-- told apart from a redelivery. Nullable: rows from before stay valid.
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/0004_processed_event_payload_hash.sql

BEGIN;

ALTER TABLE processed_events ADD COLUMN IF NOT EXISTS payload_sha256 CHAR(64);

INSERT INTO schema_migrations (version, name) VALUES (4, '0004_processed_event_payload_hash')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
