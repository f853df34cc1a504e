-- docvault schema, version 6 (PostgreSQL): an entity's suspension hides its
-- documents (entity.suspended) until it is lifted (entity.reinstated).
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/0006_document_suspension.sql

BEGIN;

ALTER TABLE documents ADD COLUMN IF NOT EXISTS suspended_at TIMESTAMPTZ;

INSERT INTO schema_migrations (version, name) VALUES (6, '0006_document_suspension')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
