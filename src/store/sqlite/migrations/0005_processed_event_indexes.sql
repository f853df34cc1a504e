-- docvault schema, version 5 (SQLite): see the PostgreSQL file.

CREATE INDEX IF NOT EXISTS ix_processed_events_created_at ON processed_events (created_at);
CREATE INDEX IF NOT EXISTS ix_processed_events_entity ON processed_events (entity_id, entity_type, created_at);

INSERT INTO schema_migrations (version, name) VALUES (5, '0005_processed_event_indexes')
    ON CONFLICT (version) DO NOTHING;
