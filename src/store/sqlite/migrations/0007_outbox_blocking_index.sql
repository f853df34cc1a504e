-- docvault schema, version 7 (SQLite): see the PostgreSQL file.

CREATE INDEX IF NOT EXISTS ix_outbox_events_pending_next_attempt
    ON outbox_events (next_attempt_at) WHERE published_at IS NULL AND next_attempt_at IS NOT NULL;

INSERT INTO schema_migrations (version, name) VALUES (7, '0007_outbox_blocking_index')
    ON CONFLICT (version) DO NOTHING;
