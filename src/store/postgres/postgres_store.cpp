#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include <pqxx/pqxx>

#include "domain/uuid.h"
#include "log/log.h"
#include "runtime/clock.h"
#include "store/database_url.h"
#include "store/migrations.h"
#include "store/postgres/connection_pool.h"


namespace docvault::store {
namespace {

using postgres::ConnectionPool;

// pg_advisory_lock key held while migrating: "docvault" in ASCII.
constexpr std::int64_t kMigrationLockKey = 0x646f637661756c74;
// Serialises outbox claims across instances (transaction-scoped).
constexpr std::int64_t kOutboxClaimLockKey = 0x646f63766f757462;
constexpr std::int64_t kOutboxRetentionLockKey = 0x646f63766f757472;
// LISTEN/NOTIFY channel that wakes every instance's relay.
constexpr const char* kOutboxChannel = "docvault_outbox";

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

// A document's events name its id in the payload; ids are UUIDs, so
// strpos (no pattern syntax) finds exactly them. A row still pending loses
// its lease or retry time: it goes out again at once.
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

// --- errors ------------------------------------------------------------------

bool connection_lost_state(const std::string& sqlstate) {
  // Class 08: connection exception; 57P01..03: the server is shutting down or
  // an administrator terminated this backend.
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

bool connection_alive(ConnectionPool::Lease& lease) {
  try {
    return lease.connection().is_open();
  } catch (...) {
    return false;
  }
}

// Turns the libpqxx exception being handled into StoreError/StoreUnavailable.
// Anything else (the caller's own exceptions, StoreError from row parsing)
// propagates unchanged. Messages never carry bound values: the server's DETAIL
// (which quotes them) is dropped, and the primary message is kept only for
// classes whose text names schema objects rather than data.
[[noreturn]] void rethrow_as_store_error(std::string_view operation, ConnectionPool::Lease& lease) {
  const std::string op(operation);
  try {
    throw;
  } catch (const pqxx::broken_connection&) {
    lease.mark_broken();
    throw StoreUnavailable(op + ": connection to PostgreSQL lost");
  } catch (const pqxx::in_doubt_error&) {
    lease.mark_broken();
    throw StoreUnavailable(op + ": connection to PostgreSQL lost while committing; outcome unknown");
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    if (connection_lost_state(state) || !connection_alive(lease)) {
      lease.mark_broken();
      throw StoreUnavailable(op + ": connection to PostgreSQL lost (SQLSTATE " + state + ")");
    }
    std::string message = op + " failed (SQLSTATE " + (state.empty() ? "unknown" : state) + ")";
    if (state.starts_with("23") || state.starts_with("42")) {
      std::string_view what = e.what();
      what = what.substr(0, what.find('\n'));
      if (what.starts_with("ERROR:")) what.remove_prefix(6);
      while (what.starts_with(' ')) what.remove_prefix(1);
      message.append(": ").append(what);
    }
    throw StoreError(message);
  } catch (const pqxx::failure& e) {
    if (!connection_alive(lease)) {
      lease.mark_broken();
      throw StoreUnavailable(op + ": connection to PostgreSQL lost");
    }
    // Deadlocks and serialisation failures land here in libpqxx 6; their
    // DETAIL lines may quote rows, so only the first line is kept.
    const std::string_view what = e.what();
    throw StoreError(op + " failed: " + std::string(what.substr(0, what.find('\n'))));
  } catch (const pqxx::pqxx_exception&) {
    // Conversion and range errors, whose text may quote the value.
    throw StoreError(op + " failed: unexpected result from PostgreSQL");
  }
}

template <class F>
auto guarded(ConnectionPool::Lease& lease, std::string_view operation, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    rethrow_as_store_error(operation, lease);
  }
}

// --- rows --------------------------------------------------------------------

Timestamp timestamp_field(const pqxx::field& field) {
  auto parsed = parse_timestamp(field.c_str());
  if (!parsed) throw StoreError(std::string("malformed timestamp in column ") + field.name());
  return *parsed;
}

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return std::string(field.c_str(), field.size());
}

std::string text(const pqxx::field& field) { return std::string(field.c_str(), field.size()); }

Document document_from_row(const pqxx::row& row) {
  Document d;
  d.id = text(row[0]);
  d.entity.id = text(row[1]);
  const auto type = parse_entity_type(row[2].c_str());
  if (!type) throw StoreError("documents row has an unknown entity_type");
  d.entity.type = *type;
  d.document_type = text(row[3]);
  d.filename = text(row[4]);
  d.content_type = text(row[5]);
  d.size_bytes = static_cast<std::uint64_t>(row[6].as<std::int64_t>());
  d.sha256 = text(row[7]);
  const auto status = parse_document_status(row[8].c_str());
  if (!status) throw StoreError("documents row has an unknown status");
  d.status = *status;
  if (!row[9].is_null()) d.archived_at = timestamp_field(row[9]);
  d.archive_reason = optional_text(row[10]);
  d.created_at = timestamp_field(row[11]);
  d.updated_at = timestamp_field(row[12]);
  if (!row[13].is_null()) d.suspended_at = timestamp_field(row[13]);
  return d;
}

std::vector<Document> documents_from(const pqxx::result& result) {
  std::vector<Document> out;
  out.reserve(result.size());
  for (const auto& row : result) out.push_back(document_from_row(row));
  return out;
}

std::optional<std::string> optional_timestamp(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return format_timestamp(*t);
}

ProcessedEvent processed_event(const pqxx::row& row) {
  return ProcessedEvent{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                        optional_text(row[3]),      optional_text(row[4]),      timestamp_field(row[5]),
                        optional_text(row[6])};
}

RejectedMessage rejected_message(const pqxx::row& row) {
  pqxx::binarystring body(row[1]);
  return RejectedMessage{row[0].as<std::string>(), body.str(), row[2].as<std::string>(),
                         row[3].as<std::string>(), row[4].as<int>(), timestamp_field(row[5])};
}

Destination parse_destination(std::string_view text) {
  if (text == "sns") return Destination::sns;
  if (text == "sqs") return Destination::sqs;
  throw StoreError("outbox_events row has an unknown destination");
}

// A PostgreSQL array literal of text elements, every element quoted so that
// empty strings, "NULL", braces, commas and surrounding blanks survive. It is
// bound as a parameter like any other value.
class TextArray {
 public:
  explicit TextArray(std::size_t reserve_bytes) { text_.reserve(reserve_bytes + 2); text_ += '{'; }
  void add(std::string_view element) {
    if (text_.size() > 1) text_ += ',';
    text_ += '"';
    // Runs without a quote or backslash go in at once (JSON payloads have
    // many quotes, but long runs between them).
    std::size_t i = 0;
    while (i < element.size()) {
      std::size_t run_end = i;
      while (run_end < element.size() && element[run_end] != '"' && element[run_end] != '\\') ++run_end;
      text_.append(element.data() + i, run_end - i);
      if (run_end == element.size()) break;
      text_ += '\\';
      text_ += element[run_end];
      i = run_end + 1;
    }
    text_ += '"';
  }
  void add_nullable(const std::optional<std::string>& element) {
    if (element) return add(std::string_view(*element));
    if (text_.size() > 1) text_ += ',';
    text_ += "NULL";
  }
  std::string finish() && {
    text_ += '}';
    return std::move(text_);
  }

 private:
  std::string text_;
};

// --- transaction -------------------------------------------------------------

class PostgresTransaction final : public Transaction {
 public:
  PostgresTransaction(pqxx::transaction_base& txn, ConnectionPool::Lease& lease)
      : txn_(txn), lease_(lease) {}

  bool failed() const { return failed_; }
  bool appended_outbox() const { return appended_outbox_; }

  void insert_document(const Document& d) override {
    call("insert_document", [&] {
      txn_.exec_prepared(kInsertDocument.name, d.id, d.entity.id,
                         std::string(to_string(d.entity.type)), d.document_type, d.filename,
                         d.content_type, static_cast<std::int64_t>(d.size_bytes), d.sha256,
                         std::string(to_string(d.status)), optional_timestamp(d.archived_at),
                         d.archive_reason, format_timestamp(d.created_at),
                         format_timestamp(d.updated_at), optional_timestamp(d.suspended_at));
    });
  }

  std::vector<Document> suspend_entity_documents(std::span<const EntityRef> entities, Timestamp at,
                                                 std::size_t limit) override {
    return update_entities("suspend_entity_documents", kSuspendEntityDocuments, entities, limit, at, std::nullopt);
  }

  std::vector<Document> reinstate_entity_documents(std::span<const EntityRef> entities, Timestamp at,
                                                   std::size_t limit) override {
    return update_entities("reinstate_entity_documents", kReinstateEntityDocuments, entities, limit, at,
                           std::nullopt);
  }

  std::optional<Document> find_document(const DocumentId& id) override {
    return call("find_document", [&]() -> std::optional<Document> {
      const auto result = txn_.exec_prepared(kFindDocument.name, id.str());
      if (result.empty()) return std::nullopt;
      return document_from_row(result[0]);
    });
  }

  std::vector<Document> list_documents(const DocumentFilter& filter) override {
    return call("list_documents", [&] {
      const std::string entity_id = filter.entity.id;
      const std::string entity_type(to_string(filter.entity.type));
      const auto limit = static_cast<std::int64_t>(filter.limit);
      pqxx::result result;
      if (filter.status && filter.after) {
        result = txn_.exec_prepared(kListDocumentsByStatusAfter.name, entity_id, entity_type,
                                    std::string(to_string(*filter.status)),
                                    format_timestamp(filter.after->created_at), filter.after->id,
                                    limit);
      } else if (filter.status) {
        result = txn_.exec_prepared(kListDocumentsByStatus.name, entity_id, entity_type,
                                    std::string(to_string(*filter.status)), limit);
      } else if (filter.after) {
        result = txn_.exec_prepared(kListDocumentsAfter.name, entity_id, entity_type,
                                    format_timestamp(filter.after->created_at), filter.after->id,
                                    limit);
      } else {
        result = txn_.exec_prepared(kListDocuments.name, entity_id, entity_type, limit);
      }
      return documents_from(result);
    });
  }

  std::optional<Document> archive_document(const DocumentId& id, std::string_view reason,
                                           Timestamp at) override {
    return call("archive_document", [&]() -> std::optional<Document> {
      const auto result = txn_.exec_prepared(kArchiveDocument.name, id.str(),
                                             format_timestamp(at), std::string(reason));
      if (result.empty()) return std::nullopt;
      return document_from_row(result[0]);
    });
  }

  std::vector<Document> archive_entity_documents(std::span<const EntityRef> entities, std::string_view reason,
                                                 Timestamp at, std::size_t limit) override {
    return update_entities("archive_entity_documents", kArchiveEntityDocuments, entities, limit, at,
                           std::string(reason));
  }

  void append_outbox(std::span<const OutboxMessage> messages) override {
    if (messages.empty()) return;
    call("append_outbox", [&] {
      // Delivered to every listening instance when this transaction commits.
      if (!appended_outbox_) txn_.exec_prepared(kNotifyOutbox.name);
      appended_outbox_ = true;
      for (std::size_t begin = 0; begin < messages.size();
           begin += PostgresStore::kOutboxChunkRows) {
        append_outbox_chunk(
            messages.subspan(begin, std::min(PostgresStore::kOutboxChunkRows, messages.size() - begin)));
      }
    });
  }

  std::vector<OutboxMessage> outbox_messages(std::string_view ordering_key) override {
    return call("outbox_messages", [&] {
      const auto result = txn_.exec_prepared(kOutboxMessages.name, std::string(ordering_key));
      std::vector<OutboxMessage> out;
      out.reserve(result.size());
      for (const auto& row : result) {
        out.push_back(OutboxMessage{
            .event_id = text(row[0]),
            .destination = parse_destination(row[1].c_str()),
            .target = text(row[2]),
            .ordering_key = text(row[3]),
            .payload = text(row[4]),
            .attributes = text(row[5]),
            .created_at = timestamp_field(row[6]),
        });
      }
      return out;
    });
  }

  std::vector<RecordOutcome> record_processed_events(std::span<const ProcessedEvent> events) override {
    return call("record_processed_events", [&] {
      std::vector<std::string> ids;
      ids.reserve(events.size());
      TextArray id_array(events.size() * 39), at(events.size() * 27), event_ids(events.size() * 40),
          sources(events.size() * 16), actions(events.size() * 16), entity_ids(events.size() * 40),
          entity_types(events.size() * 12), hashes(events.size() * 67);
      for (const auto& e : events) {
        ids.push_back(uuid_v4());
        id_array.add(ids.back());
        at.add(format_timestamp(e.processed_at));
        event_ids.add(e.event_id);
        sources.add(e.source);
        actions.add(e.action);
        entity_ids.add_nullable(e.entity_id);
        entity_types.add_nullable(e.entity_type);
        hashes.add_nullable(e.payload_sha256);
      }
      const auto inserted = txn_.exec_prepared(
          kRecordProcessedEvents.name, std::move(id_array).finish(), std::move(at).finish(),
          std::move(event_ids).finish(), std::move(sources).finish(), std::move(actions).finish(),
          std::move(entity_ids).finish(), std::move(entity_types).finish(), std::move(hashes).finish());
      std::set<std::string, std::less<>> recorded;
      for (const auto& row : inserted) recorded.insert(text(row[0]));

      std::vector<RecordOutcome> outcomes(events.size(), RecordOutcome::recorded);
      TextArray existing(events.size() * 40);
      bool any_existing = false;
      for (std::size_t i = 0; i < events.size(); ++i) {
        if (recorded.contains(ids[i])) continue;
        existing.add(events[i].event_id);
        any_existing = true;
      }
      if (!any_existing) return outcomes;
      std::map<std::string, std::optional<std::string>, std::less<>> stored;
      for (const auto& row : txn_.exec_prepared(kProcessedEventHashes.name, std::move(existing).finish())) {
        stored.emplace(text(row[0]), optional_text(row[1]));
      }
      for (std::size_t i = 0; i < events.size(); ++i) {
        if (recorded.contains(ids[i])) continue;
        auto it = stored.find(events[i].event_id);
        outcomes[i] = existing_event_outcome(it == stored.end() ? std::nullopt : it->second,
                                             events[i].payload_sha256);
      }
      return outcomes;
    });
  }

  std::vector<OutboxRecord> claim_outbox(std::size_t limit, Timestamp now, Timestamp lease_until) override {
    return call("claim_outbox", [&] {
      relax_commit();
      // Held until this transaction ends, so the next claimer sees the leases.
      txn_.exec_prepared(kLockOutbox.name, kOutboxClaimLockKey);
      const auto result = txn_.exec_prepared(kClaimOutbox.name, format_timestamp(now),
                                             static_cast<long long>(limit), format_timestamp(lease_until));
      std::vector<OutboxRecord> out;
      out.reserve(result.size());
      for (const auto& row : result) {
        out.push_back(OutboxRecord{
            row[0].as<std::int64_t>(),
            OutboxMessage{row[1].as<std::string>(), parse_destination(row[2].as<std::string>()),
                          row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>(),
                          row[6].as<std::string>(), timestamp_field(row[7])},
            row[8].as<int>()});
      }
      std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
      return out;
    });
  }

  void mark_published(std::span<const std::int64_t> seqs, Timestamp at) override {
    update_outbox_rows("mark_published", kMarkPublished, seqs, at);
  }

  void release_outbox(std::span<const std::int64_t> seqs, Timestamp lease_until) override {
    update_outbox_rows("release_outbox", kReleaseOutbox, seqs, lease_until);
  }

  void mark_failed(std::span<const PublishFailure> failures) override {
    if (failures.empty()) return;
    call("mark_failed", [&] {
      relax_commit();
      std::size_t error_bytes = 0;
      for (const auto& f : failures) error_bytes += f.error.size() + 3;
      TextArray seqs(failures.size() * 12), errors(error_bytes), next(failures.size() * 27),
          increments(failures.size() * 4);
      for (const auto& f : failures) {
        seqs.add(std::to_string(f.seq));
        errors.add(f.error);
        next.add(format_timestamp(f.next_attempt_at));
        increments.add(f.attempted ? "1" : "0");
      }
      txn_.exec_prepared(kMarkFailed.name, std::move(seqs).finish(), std::move(errors).finish(),
                         std::move(next).finish(), std::move(increments).finish());
    });
  }

  std::size_t purge_published(Timestamp before, std::size_t limit) override {
    return call("purge_published", [&] {
      relax_commit();
      txn_.exec_prepared(kLockOutbox.name, kOutboxRetentionLockKey);
      const auto result = txn_.exec_prepared(kPurgePublished.name, format_timestamp(before),
                                             static_cast<long long>(limit));
      return static_cast<std::size_t>(result.affected_rows());
    });
  }

  OutboxBacklog outbox_backlog() override {
    return call("outbox_backlog", [&] {
      const auto result = txn_.exec_prepared(kOutboxBacklog.name);
      const auto row = result[0];
      OutboxBacklog backlog{row[0].as<std::size_t>(), std::nullopt};
      if (!row[1].is_null()) backlog.oldest_pending_created_at = timestamp_field(row[1]);
      return backlog;
    });
  }

  std::vector<ProcessedEvent> list_processed_events(const ProcessedEventFilter& f) override {
    return call("list_processed_events", [&] {
      const auto result = txn_.exec_prepared(kListProcessedEvents.name, f.entity_id, f.entity_type,
                                             optional_timestamp(f.since), optional_timestamp(f.until),
                                             static_cast<long long>(f.limit));
      std::vector<ProcessedEvent> out;
      for (const auto& row : result) out.push_back(processed_event(row));
      return out;
    });
  }

  std::optional<ProcessedEvent> find_processed_event(std::string_view event_id) override {
    return call("find_processed_event", [&]() -> std::optional<ProcessedEvent> {
      const auto result = txn_.exec_prepared(kFindProcessedEvent.name, std::string(event_id));
      if (result.empty()) return std::nullopt;
      return processed_event(result[0]);
    });
  }

  std::size_t purge_processed_events(Timestamp before, std::size_t limit) override {
    return call("purge_processed_events", [&] {
      return static_cast<std::size_t>(
          txn_.exec_prepared(kPurgeProcessedEvents.name, format_timestamp(before), static_cast<long long>(limit))
              .affected_rows());
    });
  }

  void lock_entities(std::span<const EntityRef> entities) override {
    if (entities.empty()) return;
    call("lock_entities", [&] {
      auto [ids, types] = entity_arrays(entities);
      txn_.exec_prepared(kLockEntities.name, ids, types);
    });
  }

  std::vector<EntityState> entity_states(std::span<const EntityRef> entities) override {
    if (entities.empty()) return {};
    return call("entity_states", [&] {
      auto [ids, types] = entity_arrays(entities);
      const auto result = txn_.exec_prepared(kEntityStates.name, ids, types);
      std::vector<EntityState> out;
      out.reserve(result.size());
      for (const auto& row : result) {
        const std::string_view state = row[0].c_str();
        out.push_back(state == "deleted"     ? EntityState::deleted
                      : state == "suspended" ? EntityState::suspended
                                             : EntityState::active);
      }
      return out;
    });
  }

  void record_entity_transitions(std::span<const EntityTransition> transitions) override {
    if (transitions.empty()) return;
    call("record_entity_transitions", [&] {
      for (EntityState state : {EntityState::deleted, EntityState::suspended, EntityState::active}) {
        TextArray ids(64), types(64), events(64), times(64);
        bool any = false;
        for (const auto& t : transitions) {
          if (t.state != state) continue;
          any = true;
          ids.add(t.entity.id);
          types.add(to_string(t.entity.type));
          events.add(t.event_id);
          times.add(format_timestamp(t.at));
        }
        if (!any) continue;
        if (state == EntityState::deleted) {
          txn_.exec_prepared(kRecordEntityDeletions.name, std::move(ids).finish(), std::move(types).finish(),
                             std::move(events).finish(), std::move(times).finish());
        } else if (state == EntityState::suspended) {
          txn_.exec_prepared(kRecordEntitySuspensions.name, std::move(ids).finish(), std::move(types).finish(),
                             std::move(events).finish(), std::move(times).finish());
        } else {
          txn_.exec_prepared(kLiftEntitySuspensions.name, std::move(ids).finish(), std::move(types).finish());
        }
      }
    });
  }

  std::size_t requeue_outbox(std::string_view ordering_key, std::optional<std::string> document_id) override {
    return call("requeue_outbox", [&] {
      txn_.exec_prepared(kLockOutbox.name, kOutboxRetentionLockKey);  // see kPurgePublished
      return static_cast<std::size_t>(
          txn_.exec_prepared(kRequeueOutbox.name, std::string(ordering_key), document_id).affected_rows());
    });
  }

  std::optional<RejectedMessage> find_rejected_message(std::string_view message_id) override {
    return call("find_rejected_message", [&]() -> std::optional<RejectedMessage> {
      const auto result = txn_.exec_prepared(kFindRejectedMessage.name, std::string(message_id));
      if (result.empty()) return std::nullopt;
      return rejected_message(result[0]);
    });
  }

  bool delete_rejected_message(std::string_view message_id) override {
    return call("delete_rejected_message", [&] {
      return txn_.exec_prepared(kDeleteRejectedMessage.name, std::string(message_id)).affected_rows() > 0;
    });
  }

  std::size_t purge_rejected_messages(Timestamp before, std::size_t limit) override {
    return call("purge_rejected_messages", [&] {
      return static_cast<std::size_t>(
          txn_.exec_prepared(kPurgeRejectedMessages.name, format_timestamp(before), static_cast<long long>(limit))
              .affected_rows());
    });
  }

  std::optional<IdempotencyRecord> find_idempotency_key(std::string_view caller, std::string_view key,
                                                        Timestamp valid_since) override {
    return call("find_idempotency_key", [&]() -> std::optional<IdempotencyRecord> {
      const auto result = txn_.exec_prepared(kFindIdempotencyKey.name, std::string(caller), std::string(key),
                                             format_timestamp(valid_since));
      if (result.empty()) return std::nullopt;
      const auto& row = result[0];
      return IdempotencyRecord{text(row[0]), text(row[1]), text(row[2]), text(row[3]), timestamp_field(row[4])};
    });
  }

  bool record_idempotency_key(const IdempotencyRecord& r, Timestamp valid_since) override {
    return call("record_idempotency_key", [&] {
      return !txn_.exec_prepared(kRecordIdempotencyKey.name, r.caller, r.key, r.request_sha256, r.document_id,
                                 format_timestamp(r.created_at), format_timestamp(valid_since))
                  .empty();
    });
  }

  std::size_t purge_idempotency_keys(Timestamp before, std::size_t limit) override {
    return call("purge_idempotency_keys", [&] {
      return static_cast<std::size_t>(
          txn_.exec_prepared(kPurgeIdempotencyKeys.name, format_timestamp(before), static_cast<long long>(limit))
              .affected_rows());
    });
  }

  bool record_rejected_message(const RejectedMessage& m) override {
    return call("record_rejected_message", [&] {
      const auto result = txn_.exec_prepared(kRecordRejectedMessage.name, uuid_v4(), m.message_id,
                                             pqxx::binarystring(m.body), m.reason, m.detail,
                                             m.receive_count, format_timestamp(m.rejected_at));
      return !result.empty();
    });
  }

  std::vector<RejectedMessage> rejected_messages(std::size_t limit) override {
    return call("rejected_messages", [&] {
      const auto result = txn_.exec_prepared(kRejectedMessages.name, static_cast<long long>(limit));
      std::vector<RejectedMessage> out;
      out.reserve(result.size());
      for (const auto& row : result) out.push_back(rejected_message(row));
      return out;
    });
  }

  std::vector<std::string> referenced_blobs(std::span<const std::string> sha256s) override {
    return call("referenced_blobs", [&] {
      constexpr std::size_t kBatch = 1000;
      std::vector<std::string> out;
      for (std::size_t start = 0; start < sha256s.size(); start += kBatch) {
        std::string array = "{";
        for (std::size_t i = start; i < std::min(sha256s.size(), start + kBatch); ++i) {
          const auto& sha = sha256s[i];
          // Only hex reaches the literal; anything else cannot be an address.
          if (sha.empty() || sha.find_first_not_of("0123456789abcdef") != std::string::npos) continue;
          if (array.size() > 1) array += ',';
          array += sha;
        }
        array += '}';
        if (array == "{}") continue;
        for (const auto& row : txn_.exec_prepared(kReferencedBlobs.name, array)) {
          out.push_back(row[0].as<std::string>());
        }
      }
      return out;
    });
  }

 private:
  // This transaction commits without waiting for its WAL to reach disk.
  void relax_commit() {
    if (relaxed_) return;
    txn_.exec_prepared(kRelaxedCommit.name);
    relaxed_ = true;
  }

  // A relay statement over outbox rows ($1 their seqs, $2 a time).
  void update_outbox_rows(std::string_view operation, const Statement& statement, std::span<const std::int64_t> seqs,
                          Timestamp at) {
    if (seqs.empty()) return;
    call(operation, [&] {
      relax_commit();
      TextArray ids(seqs.size() * 12);
      for (auto seq : seqs) ids.add(std::to_string(seq));
      txn_.exec_prepared(statement.name, std::move(ids).finish(), format_timestamp(at));
    });
  }

  // One of the entity-set UPDATEs ($1 ids, $2 types, $3 limit, $4 at, $5 reason when given).
  // Entities as two array parameters: ids, types.
  static std::pair<std::string, std::string> entity_arrays(std::span<const EntityRef> entities) {
    std::size_t id_bytes = 0;
    for (const auto& e : entities) id_bytes += e.id.size() + 3;
    TextArray ids(id_bytes), types(entities.size() * 12);
    for (const auto& e : entities) {
      ids.add(e.id);
      types.add(to_string(e.type));
    }
    return {std::move(ids).finish(), std::move(types).finish()};
  }

  std::vector<Document> update_entities(std::string_view operation, const Statement& statement,
                                        std::span<const EntityRef> entities, std::size_t limit, Timestamp at,
                                        std::optional<std::string> reason) {
    if (entities.empty()) return {};
    return call(operation, [&] {
      auto [ids, types] = entity_arrays(entities);
      const auto bound = static_cast<long long>(std::min<std::size_t>(limit, kNoLimit));
      if (reason) {
        return documents_from(txn_.exec_prepared(statement.name, ids, types, bound, format_timestamp(at), *reason));
      }
      return documents_from(txn_.exec_prepared(statement.name, ids, types, bound, format_timestamp(at)));
    });
  }

  void append_outbox_chunk(std::span<const OutboxMessage> chunk) {
    std::size_t payload_bytes = 0;
    std::size_t attribute_bytes = 0;
    std::size_t key_bytes = 0;
    for (const auto& m : chunk) {
      payload_bytes += m.payload.size() + m.payload.size() / 8 + 3;  // room for escapes
      attribute_bytes += m.attributes.size() + m.attributes.size() / 8 + 3;
      key_bytes += m.ordering_key.size() + 3;
    }
    TextArray ids(chunk.size() * 39);
    TextArray destinations(chunk.size() * 6);
    TextArray targets(chunk.size() * 20);
    TextArray keys(key_bytes);
    TextArray payloads(payload_bytes);
    TextArray attributes(attribute_bytes);
    TextArray created(chunk.size() * 27);
    for (const auto& m : chunk) {
      ids.add(m.event_id);
      destinations.add(to_string(m.destination));
      targets.add(m.target);
      keys.add(m.ordering_key);
      payloads.add(m.payload);
      attributes.add(m.attributes);
      created.add(format_timestamp(m.created_at));
    }
    txn_.exec_prepared(kAppendOutbox.name, std::move(ids).finish(),
                       std::move(destinations).finish(), std::move(targets).finish(),
                       std::move(keys).finish(), std::move(payloads).finish(),
                       std::move(attributes).finish(), std::move(created).finish());
  }

  // After a failed statement PostgreSQL ignores everything up to the end of
  // the transaction, and answers COMMIT with a silent ROLLBACK. A caller that
  // caught the error and carried on must not believe its work was committed.
  template <class F>
  auto call(std::string_view operation, F&& f) -> decltype(f()) {
    try {
      return guarded(lease_, operation, std::forward<F>(f));
    } catch (...) {
      failed_ = true;
      throw;
    }
  }

  pqxx::transaction_base& txn_;
  ConnectionPool::Lease& lease_;
  bool failed_ = false;
  bool appended_outbox_ = false;
  bool relaxed_ = false;
};

std::unique_ptr<pqxx::connection> open_connection(const std::string& url,
                                                  const std::string& redacted_url) {
  try {
    auto connection = std::make_unique<pqxx::connection>(url);
    // Migrations' "IF NOT EXISTS" notices would otherwise go to stderr.
    connection->set_variable("client_min_messages", "warning");
    for (const auto& statement : kPreparedStatements) {
      connection->prepare(statement.name, statement.sql);
    }
    return connection;
  } catch (const pqxx::broken_connection& e) {
    throw StoreUnavailable("cannot connect to PostgreSQL at " + redacted_url + ": " +
                           redact_database_error(e.what(), url));
  } catch (const pqxx::sql_error& e) {
    throw StoreUnavailable("cannot set up a PostgreSQL connection at " + redacted_url +
                           " (SQLSTATE " + e.sqlstate() + ")");
  } catch (const pqxx::failure& e) {
    throw StoreUnavailable("cannot connect to PostgreSQL at " + redacted_url + ": " +
                           redact_database_error(e.what(), url));
  }
}

std::set<int> applied_versions(pqxx::transaction_base& txn) {
  std::set<int> versions;
  if (txn.exec("SELECT to_regclass('schema_migrations') IS NOT NULL")[0][0].as<bool>()) {
    for (const auto& row : txn.exec("SELECT version FROM schema_migrations ORDER BY version")) {
      versions.insert(row[0].as<int>());
    }
  }
  return versions;
}

}  // namespace

PostgresStore::PostgresStore(std::string database_url, std::size_t pool_size,
                             std::chrono::milliseconds acquire_timeout)
    : database_url_(std::move(database_url)),
      redacted_url_(redact_database_url(database_url_)),
      migrations_(parse_migrations(postgres::kMigrationFiles)) {
  if (pool_size == 0) throw std::invalid_argument("PostgreSQL pool size must be at least 1");
  pool_ = std::make_unique<ConnectionPool>(
      [this] { return open_connection(database_url_, redacted_url_); }, pool_size,
      acquire_timeout);
}

PostgresStore::~PostgresStore() {
  if (listener_.joinable()) {
    listener_.request_stop();
    listener_.join();
  }
}

namespace {

// Turns NOTIFYs on the outbox channel into local wake-ups.
class OutboxReceiver final : public pqxx::notification_receiver {
 public:
  OutboxReceiver(pqxx::connection_base& connection, OutboxSignal& signal)
      : pqxx::notification_receiver(connection, kOutboxChannel), signal_(signal) {}
  void operator()(const std::string&, int) override { signal_.notify(); }

 private:
  OutboxSignal& signal_;
};

}  // namespace

void PostgresStore::listen_for_outbox(std::stop_token stop) {
  while (!stop.stop_requested()) {
    try {
      pqxx::connection connection(database_url_);
      OutboxReceiver receiver(connection, outbox_signal_);
      // Rows added while not listening would otherwise wait for the slow poll.
      outbox_signal_.notify();
      while (!stop.stop_requested()) connection.await_notification(0, 200'000);
    } catch (const std::exception& e) {
      log::warn("store", "outbox LISTEN connection failed; retrying",
                {{"error", redact_database_error(e.what(), database_url_)}});
      runtime::system_clock().sleep_for(std::chrono::seconds(1), stop);
    }
  }
}

std::uint64_t PostgresStore::wait_for_outbox(std::uint64_t seen, std::chrono::milliseconds timeout,
                                             std::stop_token stop) {
  std::call_once(listener_started_, [this] {
    listener_ = std::jthread([this](std::stop_token s) { listen_for_outbox(s); });
  });
  return outbox_signal_.wait(seen, timeout, std::move(stop));
}

void PostgresStore::migrate() {
  auto lease = pool_->acquire();
  try {
    guarded(lease, "migrate", [&] {
      pqxx::nontransaction session(lease.connection());
      // Session-level, so it spans the migration files' own BEGIN/COMMIT; a
      // second instance blocks here and then finds nothing left to apply.
      session.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
      const auto applied = applied_versions(session);
      for (const auto& migration : migrations_) {
        if (applied.contains(migration.version)) continue;
        session.exec(std::string(migration.sql));
        log::info("store", "applied migration",
                  {{"backend", "postgresql"}, {"version", migration.version}, {"name", migration.name}});
      }
      const auto now_applied = applied_versions(session);
      session.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
      session.commit();
      for (const auto& migration : migrations_) {
        if (!now_applied.contains(migration.version)) {
          throw StoreError("migration " + migration.name + " ran but did not record itself in schema_migrations");
        }
      }
    });
  } catch (...) {
    // Closing the session rolls back a half-applied file and releases the lock.
    lease.mark_broken();
    throw;
  }
}

std::vector<int> PostgresStore::applied_migrations() {
  auto lease = pool_->acquire();
  return guarded(lease, "applied_migrations", [&] {
    pqxx::read_transaction txn(lease.connection());
    const auto versions = applied_versions(txn);
    txn.commit();
    return std::vector<int>(versions.begin(), versions.end());
  });
}

std::vector<int> PostgresStore::known_migrations() const {
  std::vector<int> versions;
  for (const auto& migration : migrations_) versions.push_back(migration.version);
  return versions;
}

void PostgresStore::ping() {
  auto lease = pool_->acquire();
  try {
    guarded(lease, "ping", [&] {
      pqxx::nontransaction session(lease.connection());
      session.exec("SELECT 1");
      session.commit();
    });
  } catch (const StoreUnavailable&) {
    throw;
  } catch (const StoreError& e) {
    lease.mark_broken();
    throw StoreUnavailable(e.what());
  }
}

void PostgresStore::compact_outbox_queue() {
  auto lease = pool_->acquire();
  guarded(lease, "compact_outbox_queue", [&] {
    pqxx::nontransaction session(lease.connection());
    session.exec("VACUUM (SKIP_LOCKED) outbox_pending");
  });
}

PoolStats PostgresStore::pool_stats() const { return pool_->stats(); }

template <class PqxxTransaction>
void PostgresStore::run(const std::function<void(Transaction&)>& work, std::string_view kind) {
  // A connection that died while idle in the pool fails at BEGIN, before any
  // of the caller's work ran, so it is safe to retry on the next one (each
  // failure drops one dead connection; at most the whole pool, then a new one).
  for (std::size_t attempt = 0;; ++attempt) {
    auto lease = pool_->acquire();
    std::optional<PqxxTransaction> txn;
    try {
      guarded(lease, kind, [&] { txn.emplace(lease.connection()); });
    } catch (const StoreUnavailable&) {
      if (attempt < pool_->capacity()) continue;
      throw;
    }
    PostgresTransaction transaction(*txn, lease);
    // The caller's exceptions leave unchanged; txn's destructor rolls back.
    work(transaction);
    if (transaction.failed()) {
      throw StoreError(std::string(kind) +
                       ": a statement failed earlier in this transaction; rolled back");
    }
    guarded(lease, std::string(kind) + " commit", [&] { txn->commit(); });
    if (transaction.appended_outbox()) outbox_signal_.notify();
    return;
  }
}

void PostgresStore::read(const std::function<void(Transaction&)>& work) {
  run<pqxx::read_transaction>(work, "read transaction");
}

void PostgresStore::write(const std::function<void(Transaction&)>& work) {
  run<pqxx::work>(work, "write transaction");
}

}  // namespace docvault::store
