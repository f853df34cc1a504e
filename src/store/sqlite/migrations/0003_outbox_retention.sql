-- docvault schema, version 3 (SQLite): published outbox rows by age, for retention.

CREATE INDEX IF NOT EXISTS ix_outbox_events_published_at
    ON outbox_events (published_at) WHERE published_at IS NOT NULL;

INSERT INTO schema_migrations (version, name) VALUES (3, '0003_outbox_retention')
    ON CONFLICT (version) DO NOTHING;
