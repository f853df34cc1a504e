-- docvault schema, version 9 (PostgreSQL): the entities' lifecycle as the
-- entity events left it. A deleted entity stays deleted (entity_tombstones,
-- never purged, unlike processed_events): an upload for it is refused, and a
-- later suspension or reinstatement changes nothing. entity_suspensions holds
-- the entities suspended now (uploads for them are refused with 423).
-- Backfilled from the deletions processed_events still holds and from the
-- documents suspended now.
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/0009_entity_lifecycle.sql

BEGIN;

CREATE TABLE IF NOT EXISTS entity_tombstones (
    entity_type VARCHAR(64) NOT NULL,
    entity_id VARCHAR(255) NOT NULL,
    event_id VARCHAR(255) NOT NULL,
    deleted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (entity_type, entity_id)
);

CREATE TABLE IF NOT EXISTS entity_suspensions (
    entity_type VARCHAR(64) NOT NULL,
    entity_id VARCHAR(255) NOT NULL,
    event_id VARCHAR(255),  -- NULL when backfilled from the documents
    suspended_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (entity_type, entity_id)
);

INSERT INTO entity_tombstones (entity_type, entity_id, event_id, deleted_at)
SELECT DISTINCT ON (entity_type, entity_id) entity_type, entity_id, event_id, created_at
  FROM processed_events
 WHERE action = 'entity.deleted' AND entity_id IS NOT NULL AND entity_type IS NOT NULL
 ORDER BY entity_type, entity_id, created_at, event_id
    ON CONFLICT DO NOTHING;

INSERT INTO entity_suspensions (entity_type, entity_id, event_id, suspended_at)
SELECT d.entity_type, d.entity_id, NULL, min(d.suspended_at)
  FROM documents d
 WHERE d.suspended_at IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM entity_tombstones t
                    WHERE t.entity_type = d.entity_type AND t.entity_id = d.entity_id)
 GROUP BY d.entity_type, d.entity_id
    ON CONFLICT DO NOTHING;

INSERT INTO schema_migrations (version, name) VALUES (9, '0009_entity_lifecycle')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
