-- docvault schema, version 9 (SQLite): see the PostgreSQL file.

CREATE TABLE IF NOT EXISTS entity_tombstones (
    entity_type TEXT NOT NULL CHECK (length(entity_type) <= 64),
    entity_id TEXT NOT NULL CHECK (length(entity_id) <= 255),
    event_id TEXT NOT NULL CHECK (length(event_id) <= 255),
    deleted_at TEXT NOT NULL,
    PRIMARY KEY (entity_type, entity_id)
) STRICT;

CREATE TABLE IF NOT EXISTS entity_suspensions (
    entity_type TEXT NOT NULL CHECK (length(entity_type) <= 64),
    entity_id TEXT NOT NULL CHECK (length(entity_id) <= 255),
    event_id TEXT CHECK (length(event_id) <= 255),
    suspended_at TEXT NOT NULL,
    PRIMARY KEY (entity_type, entity_id)
) STRICT;

-- min() makes SQLite take event_id from the earliest row of each group.
INSERT INTO entity_tombstones (entity_type, entity_id, event_id, deleted_at)
SELECT entity_type, entity_id, event_id, min(created_at)
  FROM processed_events
 WHERE action = 'entity.deleted' AND entity_id IS NOT NULL AND entity_type IS NOT NULL
 GROUP BY entity_type, entity_id
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
