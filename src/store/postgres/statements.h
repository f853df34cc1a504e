// The PostgreSQL store's SQL: every statement it prepares, by name.
//
// Each Statement is prepared once per connection, when the pool opens it
// (kPreparedStatements), and run by name from the transaction
// (transaction.cpp). Values are always bound as parameters ($1, $2, ...):
// sets of rows arrive as array parameters (TextArray, rows.h) and go through
// unnest(), so one statement handles a whole batch. Timestamps leave the
// database already formatted (DOCVAULT_PG_TS below) and enter as text cast
// with ::timestamptz.
//
// Internal to store/postgres; the macros are undefined at the end.
#pragma once

#include <cstdint>

namespace docvault::store::postgres {

// Serialises outbox claims across instances (transaction-scoped).
constexpr std::int64_t kOutboxClaimLockKey = 0x646f63766f757462;
constexpr std::int64_t kOutboxRetentionLockKey = 0x646f63766f757472;

// Timestamps leave the database in exactly the form format_timestamp writes.
#define DOCVAULT_PG_TS(column) \
  "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define DOCVAULT_PG_DOCUMENT_COLUMNS                                                     \
  "id::text, entity_id, entity_type, document_type, filename, content_type, size_bytes, " \
  "sha256, status, " DOCVAULT_PG_TS("archived_at") ", archive_reason, "                   \
  DOCVAULT_PG_TS("created_at") ", " DOCVAULT_PG_TS("updated_at") ", " DOCVAULT_PG_TS("suspended_at")

// Prepared once per connection (ConnectionPool factory), by these names.
struct Statement {
  const char* name;
  const char* sql;
};

constexpr Statement kInsertDocument{
    "insert_document",
    "INSERT INTO documents (id, entity_id, entity_type, document_type, filename, content_type, "
    "size_bytes, sha256, status, archived_at, archive_reason, created_at, updated_at, suspended_at) "
    "VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::bigint, $8, $9, $10::timestamptz, $11, "
    "$12::timestamptz, $13::timestamptz, $14::timestamptz)"};

constexpr Statement kFindDocument{
    "find_document",
    "SELECT " DOCVAULT_PG_DOCUMENT_COLUMNS " FROM documents WHERE id = $1::uuid"};

// Four listings rather than one with "$n IS NULL OR ..." guards, so that each
// has a plan that walks ix_documents_entity in order.
#define DOCVAULT_PG_LIST_PREFIX \
  "SELECT " DOCVAULT_PG_DOCUMENT_COLUMNS " FROM documents WHERE entity_id = $1 AND entity_type = $2" \
  " AND suspended_at IS NULL"
constexpr Statement kListDocuments{
    "list_documents",
    DOCVAULT_PG_LIST_PREFIX " ORDER BY created_at, id LIMIT $3::bigint"};
constexpr Statement kListDocumentsByStatus{
    "list_documents_by_status",
    DOCVAULT_PG_LIST_PREFIX " AND status = $3 ORDER BY created_at, id LIMIT $4::bigint"};
constexpr Statement kListDocumentsAfter{
    "list_documents_after",
    DOCVAULT_PG_LIST_PREFIX
    " AND (created_at, id) > ($3::timestamptz, $4::uuid) ORDER BY created_at, id LIMIT $5::bigint"};
constexpr Statement kListDocumentsByStatusAfter{
    "list_documents_by_status_after",
    DOCVAULT_PG_LIST_PREFIX
    " AND status = $3 AND (created_at, id) > ($4::timestamptz, $5::uuid)"
    " ORDER BY created_at, id LIMIT $6::bigint"};

constexpr Statement kArchiveDocument{
    "archive_document",
    "UPDATE documents SET status = 'archived', archived_at = $2::timestamptz, "
    "archive_reason = $3, updated_at = $2::timestamptz "
    "WHERE id = $1::uuid AND status = 'active' RETURNING " DOCVAULT_PG_DOCUMENT_COLUMNS};

// One UPDATE for a set of entities, given as two arrays ($1 ids, $2 types),
// of at most $3 documents ($4 the time, $5 the reason). The ANY on entity_id
// lets the plan walk ix_documents_entity whatever the array's size; the join
// keeps exact (id, type) pairs. The UPDATE re-checks the condition: a row a
// concurrent transaction changed first is left alone. The last SELECT only
// puts the returned rows in a stable order (entities as given, then
// created_at, id), which RETURNING alone does not promise.
#define DOCVAULT_PG_ENTITY_UPDATE(set, condition)                                                                \
  "WITH targets AS (SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(entity_id, entity_type, n)), " \
  "picked AS (SELECT d.id FROM documents d JOIN targets t USING (entity_id, entity_type) "                          \
  "WHERE d.entity_id = ANY($1::text[]) AND " condition " ORDER BY t.n, d.created_at, d.id LIMIT $3::bigint), "    \
  "changed AS (UPDATE documents d SET " set " WHERE d.id = ANY(ARRAY(SELECT id FROM picked)) AND " condition        \
  " RETURNING d.*) "                                                                                                \
  "SELECT " DOCVAULT_PG_DOCUMENT_COLUMNS                                                                            \
  " FROM (SELECT c.*, t.n FROM changed c JOIN targets t USING (entity_id, entity_type)) x ORDER BY n, created_at, id"

constexpr Statement kArchiveEntityDocuments{
    "archive_entity_documents",
    DOCVAULT_PG_ENTITY_UPDATE("status = 'archived', archived_at = $4::timestamptz, archive_reason = $5, "
                              "updated_at = $4::timestamptz",
                              "d.status = 'active'")};

constexpr Statement kSuspendEntityDocuments{
    "suspend_entity_documents",
    DOCVAULT_PG_ENTITY_UPDATE("suspended_at = $4::timestamptz, updated_at = $4::timestamptz",
                              "d.suspended_at IS NULL")};

constexpr Statement kReinstateEntityDocuments{
    "reinstate_entity_documents",
    DOCVAULT_PG_ENTITY_UPDATE("suspended_at = NULL, updated_at = $4::timestamptz", "d.suspended_at IS NOT NULL")};

// The span arrives as one array parameter per column. ORDER BY ordinality
// makes seq follow the span's order, which is the relay's publishing order.
constexpr Statement kAppendOutbox{
    "append_outbox",
    "INSERT INTO outbox_events (event_id, destination, target, ordering_key, payload, "
    "message_attributes, created_at) "
    "SELECT m.event_id, m.destination, m.target, m.ordering_key, m.payload, m.attributes, "
    "m.created_at "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::timestamptz[]) WITH ORDINALITY "
    "AS m(event_id, destination, target, ordering_key, payload, attributes, created_at, n) "
    "ORDER BY m.n "
    "ON CONFLICT (event_id) DO NOTHING"};

constexpr Statement kOutboxMessages{
    "outbox_messages",
    "SELECT event_id::text, destination, target, ordering_key, payload, message_attributes, " DOCVAULT_PG_TS(
        "created_at") " FROM outbox_events WHERE ordering_key = $1 ORDER BY seq"};

// The events arrive as one array parameter per column; rows go in in
// event_id order, so two transactions recording overlapping sets wait for
// each other instead of deadlocking. A concurrent inserter of the same
// event_id waits on the unique index until the first transaction ends, then
// conflicts and returns no row; so does a repeat within the arrays.
constexpr Statement kRecordProcessedEvents{
    "record_processed_events",
    "INSERT INTO processed_events (id, created_at, updated_at, event_id, source, action, "
    "entity_id, entity_type, payload_sha256) "
    "SELECT e.id, e.at, e.at, e.event_id, e.source, e.action, e.entity_id, e.entity_type, e.sha256 "
    "FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
    "$8::text[]) WITH ORDINALITY AS e(id, at, event_id, source, action, entity_id, entity_type, sha256, n) "
    "ORDER BY e.event_id, e.n "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id::text"};

// Read after a conflict: a new statement sees the rows other transactions
// committed (and this one's).
constexpr Statement kProcessedEventHashes{
    "processed_event_hashes",
    "SELECT event_id, payload_sha256 FROM processed_events WHERE event_id = ANY($1::text[])"};

// The body travels as a binary parameter: it is kept byte for byte, valid
// UTF-8 or not.
constexpr Statement kRecordRejectedMessage{
    "record_rejected_message",
    "INSERT INTO rejected_messages (id, message_id, body, reason, detail, receive_count, rejected_at) "
    "VALUES ($1::uuid, $2, $3, $4, $5, $6::integer, $7::timestamptz) "
    "ON CONFLICT (message_id) DO NOTHING RETURNING id"};

constexpr Statement kRejectedMessages{
    "rejected_messages",
    "SELECT message_id, body, reason, detail, receive_count, " DOCVAULT_PG_TS(
        "rejected_at") " FROM rejected_messages ORDER BY rejected_at DESC, id LIMIT $1::bigint"};

constexpr Statement kNotifyOutbox{"notify_outbox", "SELECT pg_notify('docvault_outbox', '')"};

// The relay's bookkeeping need not survive a crash of the database (store.h).
constexpr Statement kRelaxedCommit{"relaxed_commit", "SET LOCAL synchronous_commit = off"};

constexpr Statement kLockOutbox{"lock_outbox", "SELECT pg_advisory_xact_lock($1::bigint)"};

// The relay's state is in outbox_pending (what is left to publish, leases
// and retries) and outbox_published (when each row last went out); the rows
// of outbox_events are written once (migration 0008). Earlier pending rows of
// the same ordering key that are leased or waiting for a retry hold the later
// ones back: per-entity order. Those rows are few and found through
// ix_outbox_pending_next_attempt. The candidates go in as an array so that
// even a generic plan (which cannot know the LIMIT) updates them by primary
// key instead of joining the table.
constexpr Statement kClaimOutbox{
    "claim_outbox",
    "WITH blocked AS ("
    " SELECT ordering_key, min(seq) AS first_seq FROM outbox_pending"
    " WHERE next_attempt_at > $1::timestamptz GROUP BY ordering_key),"
    " candidates AS ("
    " SELECT p.seq FROM outbox_pending p"
    " WHERE (p.next_attempt_at IS NULL OR p.next_attempt_at <= $1::timestamptz)"
    " AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.ordering_key = p.ordering_key AND b.first_seq < p.seq)"
    " ORDER BY p.seq LIMIT $2::bigint),"
    " leased AS ("
    " UPDATE outbox_pending p SET next_attempt_at = $3::timestamptz"
    " WHERE p.seq = ANY(ARRAY(SELECT seq FROM candidates)) RETURNING p.seq, p.attempts) "
    "SELECT o.seq, o.event_id::text, o.destination, o.target, o.ordering_key, o.payload, "
    "o.message_attributes, " DOCVAULT_PG_TS("o.created_at") ", l.attempts "
    "FROM leased l JOIN outbox_events o ON o.seq = l.seq"};

// A row already marked (by a relay whose lease had run out) is left alone; a
// row requeued after an earlier publication has its time replaced.
constexpr Statement kMarkPublished{
    "mark_published",
    "WITH done AS (DELETE FROM outbox_pending WHERE seq = ANY($1::bigint[]) RETURNING seq) "
    "INSERT INTO outbox_published (seq, published_at) SELECT seq, $2::timestamptz FROM done "
    "ON CONFLICT (seq) DO UPDATE SET published_at = EXCLUDED.published_at"};

constexpr Statement kMarkFailed{
    "mark_failed",
    "UPDATE outbox_pending p SET last_error = f.error, next_attempt_at = f.next_at, attempts = p.attempts + f.inc "
    "FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::int[]) AS f(seq, error, next_at, inc) "
    "WHERE p.seq = f.seq"};

constexpr Statement kReleaseOutbox{
    "release_outbox",
    "UPDATE outbox_pending SET next_attempt_at = NULL"
    " WHERE seq = ANY($1::bigint[]) AND next_attempt_at = $2::timestamptz"};

// A requeued row (pending again) stays, whenever it was last published. The
// check sees what committed before the statement began: purge and requeue
// hold the same lock (kOutboxRetentionLockKey), or a requeue committing
// meanwhile would leave a pending row whose event is gone.
constexpr Statement kPurgePublished{
    "purge_published",
    "WITH doomed AS (SELECT d.seq FROM outbox_published d WHERE d.published_at < $1::timestamptz"
    " AND NOT EXISTS (SELECT 1 FROM outbox_pending p WHERE p.seq = d.seq) ORDER BY d.published_at LIMIT $2::bigint),"
    " forgotten AS (DELETE FROM outbox_published d USING doomed x WHERE d.seq = x.seq) "
    "DELETE FROM outbox_events o USING doomed x WHERE o.seq = x.seq"};

constexpr Statement kOutboxBacklog{
    "outbox_backlog", "SELECT count(*), " DOCVAULT_PG_TS("min(created_at)") " FROM outbox_pending"};

// $1 is a text array literal of SHA-256 hex values ("{a,b}": hex needs no quoting).
constexpr Statement kReferencedBlobs{
    "referenced_blobs",
    "SELECT DISTINCT sha256 FROM documents WHERE sha256 = ANY($1::bpchar[])"};

#define DOCVAULT_PG_PROCESSED_COLUMNS \
  "event_id, source, action, entity_id, entity_type, " DOCVAULT_PG_TS("created_at") ", payload_sha256"

constexpr Statement kListProcessedEvents{
    "list_processed_events",
    "SELECT " DOCVAULT_PG_PROCESSED_COLUMNS " FROM processed_events"
    " WHERE ($1::text IS NULL OR entity_id = $1) AND ($2::text IS NULL OR entity_type = $2)"
    " AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)"
    " ORDER BY created_at DESC, event_id LIMIT $5::bigint"};

constexpr Statement kFindProcessedEvent{
    "find_processed_event", "SELECT " DOCVAULT_PG_PROCESSED_COLUMNS " FROM processed_events WHERE event_id = $1"};

constexpr Statement kPurgeProcessedEvents{
    "purge_processed_events",
    "WITH doomed AS (SELECT id FROM processed_events WHERE created_at < $1::timestamptz ORDER BY created_at"
    " LIMIT $2::bigint) DELETE FROM processed_events p USING doomed d WHERE p.id = d.id"};

// The entities' lifecycle (migration 0009). An entity's lock is an advisory
// lock on a 64-bit hash of "type:id" (namespace 1 of hashtextextended's seed,
// apart from the relay's fixed keys), taken in key order so two transactions
// locking overlapping sets never deadlock.
constexpr Statement kLockEntities{
    "lock_entities",
    "SELECT pg_advisory_xact_lock(k) FROM ("
    "SELECT DISTINCT hashtextextended(t.entity_type || ':' || t.entity_id, 1) AS k "
    "FROM unnest($1::text[], $2::text[]) AS t(entity_id, entity_type) ORDER BY 1) keys"};

constexpr Statement kEntityStates{
    "entity_states",
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM entity_tombstones d WHERE d.entity_type = t.entity_type "
    "AND d.entity_id = t.entity_id) THEN 'deleted' "
    "WHEN EXISTS (SELECT 1 FROM entity_suspensions s WHERE s.entity_type = t.entity_type "
    "AND s.entity_id = t.entity_id) THEN 'suspended' ELSE 'active' END "
    "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(entity_id, entity_type, n) ORDER BY t.n"};

constexpr Statement kRecordEntityDeletions{
    "record_entity_deletions",
    "WITH t AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) "
    "AS t(entity_id, entity_type, event_id, at)), "
    "lifted AS (DELETE FROM entity_suspensions s USING t "
    "WHERE s.entity_type = t.entity_type AND s.entity_id = t.entity_id) "
    "INSERT INTO entity_tombstones (entity_type, entity_id, event_id, deleted_at) "
    "SELECT entity_type, entity_id, event_id, at FROM t ON CONFLICT DO NOTHING"};

constexpr Statement kRecordEntitySuspensions{
    "record_entity_suspensions",
    "INSERT INTO entity_suspensions (entity_type, entity_id, event_id, suspended_at) "
    "SELECT entity_type, entity_id, event_id, at "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS t(entity_id, entity_type, event_id, at) "
    "ON CONFLICT DO NOTHING"};

constexpr Statement kLiftEntitySuspensions{
    "lift_entity_suspensions",
    "DELETE FROM entity_suspensions s USING unnest($1::text[], $2::text[]) AS t(entity_id, entity_type) "
    "WHERE s.entity_type = t.entity_type AND s.entity_id = t.entity_id"};

// A document's events name its id in the payload; ids are UUIDs, so
// strpos (no pattern syntax) finds exactly them. A row still pending loses
// its lease or retry time: it goes out again at once.
constexpr Statement kRequeueOutbox{
    "requeue_outbox",
    "INSERT INTO outbox_pending (seq, ordering_key, created_at)"
    " SELECT seq, ordering_key, created_at FROM outbox_events"
    " WHERE ordering_key = $1 AND ($2::text IS NULL OR strpos(payload, $2) > 0)"
    " ON CONFLICT (seq) DO UPDATE SET next_attempt_at = NULL, last_error = NULL"};

constexpr Statement kFindRejectedMessage{
    "find_rejected_message",
    "SELECT message_id, body, reason, detail, receive_count, " DOCVAULT_PG_TS(
        "rejected_at") " FROM rejected_messages WHERE message_id = $1"};

constexpr Statement kDeleteRejectedMessage{"delete_rejected_message",
                                           "DELETE FROM rejected_messages WHERE message_id = $1"};

constexpr Statement kPurgeRejectedMessages{
    "purge_rejected_messages",
    "WITH doomed AS (SELECT id FROM rejected_messages WHERE rejected_at < $1::timestamptz ORDER BY rejected_at"
    " LIMIT $2::bigint) DELETE FROM rejected_messages r USING doomed d WHERE r.id = d.id"};

constexpr Statement kFindIdempotencyKey{
    "find_idempotency_key",
    "SELECT caller, idempotency_key, request_sha256, document_id::text, " DOCVAULT_PG_TS("created_at")
    " FROM idempotency_keys WHERE caller = $1 AND idempotency_key = $2 AND created_at >= $3::timestamptz"};

// An expired record of the key is replaced; a live one wins (nothing returned).
constexpr Statement kRecordIdempotencyKey{
    "record_idempotency_key",
    "INSERT INTO idempotency_keys (caller, idempotency_key, request_sha256, document_id, created_at) "
    "VALUES ($1, $2, $3, $4::uuid, $5::timestamptz) ON CONFLICT (caller, idempotency_key) DO UPDATE SET "
    "request_sha256 = EXCLUDED.request_sha256, document_id = EXCLUDED.document_id, created_at = EXCLUDED.created_at "
    "WHERE idempotency_keys.created_at < $6::timestamptz RETURNING 1"};

constexpr Statement kPurgeIdempotencyKeys{
    "purge_idempotency_keys",
    "WITH doomed AS (SELECT caller, idempotency_key FROM idempotency_keys WHERE created_at < $1::timestamptz "
    "ORDER BY created_at LIMIT $2::bigint) DELETE FROM idempotency_keys k USING doomed d "
    "WHERE k.caller = d.caller AND k.idempotency_key = d.idempotency_key"};

#undef DOCVAULT_PG_PROCESSED_COLUMNS

constexpr Statement kPreparedStatements[] = {
    kRelaxedCommit,
    kInsertDocument,        kFindDocument,       kListDocuments,
    kListDocumentsByStatus, kListDocumentsAfter, kListDocumentsByStatusAfter,
    kArchiveDocument,       kArchiveEntityDocuments, kSuspendEntityDocuments, kReinstateEntityDocuments,
    kAppendOutbox,
    kOutboxMessages,        kRecordProcessedEvents,  kProcessedEventHashes,    kRecordRejectedMessage,
    kRejectedMessages,      kNotifyOutbox,           kLockOutbox,
    kClaimOutbox,           kMarkPublished,          kMarkFailed,             kReleaseOutbox,
    kPurgePublished,        kOutboxBacklog,          kListProcessedEvents,
    kFindProcessedEvent,    kPurgeProcessedEvents,   kRequeueOutbox,
    kFindRejectedMessage,   kDeleteRejectedMessage,  kPurgeRejectedMessages,          kReferencedBlobs,
    kLockEntities,          kEntityStates,           kRecordEntityDeletions,  kRecordEntitySuspensions,
    kLiftEntitySuspensions, kFindIdempotencyKey,     kRecordIdempotencyKey,   kPurgeIdempotencyKeys};

#undef DOCVAULT_PG_LIST_PREFIX
#undef DOCVAULT_PG_DOCUMENT_COLUMNS
#undef DOCVAULT_PG_TS

}  // namespace docvault::store::postgres
