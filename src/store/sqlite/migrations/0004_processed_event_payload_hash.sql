-- docvault schema, version 4 (SQLite): the SHA-256 of each processed event's
-- canonical body (see the PostgreSQL file).

ALTER TABLE processed_events ADD COLUMN payload_sha256 TEXT;

INSERT INTO schema_migrations (version, name) VALUES (4, '0004_processed_event_payload_hash')
    ON CONFLICT (version) DO NOTHING;
