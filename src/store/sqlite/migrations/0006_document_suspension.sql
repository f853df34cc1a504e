-- docvault schema, version 6 (SQLite): see the PostgreSQL file.

ALTER TABLE documents ADD COLUMN suspended_at TEXT;

INSERT INTO schema_migrations (version, name) VALUES (6, '0006_document_suspension')
    ON CONFLICT (version) DO NOTHING;
