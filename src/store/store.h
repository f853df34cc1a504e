// The store: everything the service may ask of the database.
//
// Two backends implement it and pass the same contract tests: SQLite (the
// embedded default: one file, WAL mode) and PostgreSQL (production, a
// connection pool over libpqxx). A caller does all its work for one use case
// inside one `write` or `read` call, which is one database transaction:
// committed when the callback returns, rolled back when it throws. The
// transaction boundary of each use case is therefore visible in the service.
//
// Thread-safety: a Store may be used from any number of threads at once; a
// Transaction belongs to the thread running the callback and must not escape
// it. Infrastructure failures throw StoreError (StoreUnavailable when the
// database cannot be reached); nothing is half-written when they do.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "domain/clock.h"
#include "domain/document.h"
#include "domain/events.h"

namespace docvault::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The database could not be reached or the connection was lost; worth retrying.
class StoreUnavailable : public StoreError {
 public:
  using StoreError::StoreError;
};

// What kind of database failure `e` is, as a stable name for answers that must
// not carry the driver's text (it names hosts, users, databases):
// "unreachable" (StoreUnavailable), "database_error" (another StoreError),
// "other".
std::string_view error_category(const std::exception& e);

// Keyset position in a listing: the last (created_at, id) seen.
struct Cursor {
  Timestamp created_at;
  std::string id;
  bool operator==(const Cursor&) const = default;
};

struct DocumentFilter {
  EntityRef entity;
  std::optional<DocumentStatus> status;
  std::size_t limit = 50;
  std::optional<Cursor> after;
};

// One row of processed_events: an incoming event handled once.
struct ProcessedEvent {
  std::string event_id;
  std::string source;
  std::string action;
  std::optional<std::string> entity_id;
  std::optional<std::string> entity_type;
  Timestamp processed_at;
  // SHA-256 of the event's canonical body; tells a redelivery (same body)
  // from an event_id reused for another event.
  std::optional<std::string> payload_sha256;
};

// Which processed events to list: newest first, optionally one entity's,
// recorded in [since, until).
struct ProcessedEventFilter {
  std::optional<std::string> entity_id;
  std::optional<std::string> entity_type;
  std::optional<Timestamp> since;
  std::optional<Timestamp> until;
  std::size_t limit = 100;
};

enum class RecordOutcome {
  recorded,         // first time this event_id is seen
  duplicate,        // seen before with the same body (or before bodies were hashed)
  event_id_reused,  // seen before with a different body
};

// The outcome for an event_id already recorded with body hash `stored`. Rows
// from before bodies were hashed count as the same event.
RecordOutcome existing_event_outcome(const std::optional<std::string>& stored,
                                     const std::optional<std::string>& incoming);

// A queue message the consumer could not accept, kept before it leaves the
// queue. The body is kept byte for byte, whatever its encoding.
struct RejectedMessage {
  std::string message_id;
  std::string body;
  std::string reason;  // invalid_message, unknown_action, integrity_error, ...
  std::string detail;
  int receive_count = 0;
  Timestamp rejected_at;
  bool operator==(const RejectedMessage&) const = default;
};

// Where an entity's lifecycle stands, as the entity events left it.
enum class EntityState { active, suspended, deleted };

// What one applied entity event did to its entity's lifecycle.
struct EntityTransition {
  EntityRef entity;
  EntityState state;  // deleted: a tombstone; suspended; active: the suspension lifted
  std::string event_id;
  Timestamp at;
};

// An upload's Idempotency-Key: which caller sent it, a fingerprint of the
// request (fields and content), and the document it created.
struct IdempotencyRecord {
  std::string caller;
  std::string key;
  std::string request_sha256;
  std::string document_id;
  Timestamp created_at;
  bool operator==(const IdempotencyRecord&) const = default;
};

// One outbox row as the relay handles it.
struct OutboxRecord {
  std::int64_t seq = 0;
  OutboxMessage message;
  int attempts = 0;
};

// A row the relay could not publish (or chose not to publish yet).
struct PublishFailure {
  std::int64_t seq = 0;
  std::string error;
  Timestamp next_attempt_at;
  bool attempted = true;  // false: held back behind an earlier failure, not tried
};

struct OutboxBacklog {
  std::size_t pending = 0;
  std::optional<Timestamp> oldest_pending_created_at;
};

// No limit on the rows a statement may touch.
inline constexpr std::size_t kNoLimit = static_cast<std::size_t>(INT64_MAX);

// What a Transaction can do, grouped into roles, one interface per part of
// the schema. The roles are virtual bases of Transaction, so a class may take
// one role from one base and the others from others: a decorator or fake
// (tests/support/forwarding_store.h) replaces one role and forwards the rest.

// The documents and their entities' lifecycle.
class DocumentsRole {
 public:
  virtual ~DocumentsRole() = default;

  virtual void insert_document(const Document& document) = 0;
  virtual std::optional<Document> find_document(const DocumentId& id) = 0;
  // At most filter.limit documents of the entity, in (created_at, id) order,
  // strictly after filter.after; suspended documents are not listed.
  virtual std::vector<Document> list_documents(const DocumentFilter& filter) = 0;
  // Archives one active document and returns it; nothing when it does not
  // exist or is archived already.
  virtual std::optional<Document> archive_document(const DocumentId& id, std::string_view reason,
                                                   Timestamp at) = 0;
  // Archives the active documents of these entities in one statement, at
  // most `limit` of them, and returns them grouped by entity in the order
  // given, each entity's in (created_at, id) order; documents archived before
  // are left alone, so calling again with the same arguments archives the
  // next ones (a caller bounds its memory that way). The entities must be
  // distinct.
  virtual std::vector<Document> archive_entity_documents(std::span<const EntityRef> entities,
                                                         std::string_view reason, Timestamp at,
                                                         std::size_t limit) = 0;
  std::vector<Document> archive_entity_documents(const EntityRef& entity, std::string_view reason, Timestamp at) {
    return archive_entity_documents(std::span(&entity, 1), reason, at, kNoLimit);
  }

  // Suspends not yet suspended documents of these entities (whatever their
  // status), and lifts the suspension of suspended ones: as above.
  virtual std::vector<Document> suspend_entity_documents(std::span<const EntityRef> entities, Timestamp at,
                                                         std::size_t limit) = 0;
  virtual std::vector<Document> reinstate_entity_documents(std::span<const EntityRef> entities, Timestamp at,
                                                           std::size_t limit) = 0;

  // Of these blob addresses (lowercase hex SHA-256), the ones at least one
  // document row points at, whatever its status; for the blob sweeper. Any
  // number of addresses: the backend batches them.
  virtual std::vector<std::string> referenced_blobs(std::span<const std::string> sha256s) = 0;

  // The entities' lifecycle: tombstones and suspensions, kept forever (no
  // retention: a deleted entity stays deleted).
  //
  // Takes, until this transaction ends, a lock per entity that every
  // transaction changing an entity's documents or lifecycle takes before it
  // reads that lifecycle: an upload and its entity's deletion never
  // interleave, so no upload commits an active document after the cascade
  // ran. PostgreSQL: transaction-scoped advisory locks, taken in one fixed
  // order (two lockers never deadlock); SQLite: nothing to do (one writer).
  virtual void lock_entities(std::span<const EntityRef> entities) = 0;
  // The state of each entity, in order.
  virtual std::vector<EntityState> entity_states(std::span<const EntityRef> entities) = 0;
  // Records what applied entity events did: a deletion adds a tombstone (an
  // entity's first stays) and drops its suspension; a suspension is recorded
  // (the first stays); a reinstatement removes it.
  virtual void record_entity_transitions(std::span<const EntityTransition> transitions) = 0;
};

// What came in before: incoming events recorded once (processed_events) and
// uploads' Idempotency-Keys.
class InboxRole {
 public:
  virtual ~InboxRole() = default;

  // Records incoming events, in one statement, and returns the outcome of
  // each in order. An event whose event_id was recorded before, including by
  // a concurrent transaction that committed first or earlier in `events`,
  // writes nothing, and the stored body hash says whether it is the same event.
  virtual std::vector<RecordOutcome> record_processed_events(std::span<const ProcessedEvent> events) = 0;
  RecordOutcome record_processed_event(const ProcessedEvent& event) {
    return record_processed_events(std::span(&event, 1)).front();
  }

  virtual std::vector<ProcessedEvent> list_processed_events(const ProcessedEventFilter& filter) = 0;
  virtual std::optional<ProcessedEvent> find_processed_event(std::string_view event_id) = 0;
  // Deletes at most `limit` processed events recorded before `before`.
  virtual std::size_t purge_processed_events(Timestamp before, std::size_t limit) = 0;

  // Upload idempotency keys. The record of (caller, key) created at or after
  // `valid_since`; older ones count as absent.
  virtual std::optional<IdempotencyRecord> find_idempotency_key(std::string_view caller, std::string_view key,
                                                                Timestamp valid_since) = 0;
  // Records the key unless a record of it created at or after `valid_since`
  // exists (an older one is replaced); false then. On PostgreSQL a concurrent
  // transaction inserting the same key makes this one wait for its outcome.
  virtual bool record_idempotency_key(const IdempotencyRecord& record, Timestamp valid_since) = 0;
  // Deletes at most `limit` records created before `before`.
  virtual std::size_t purge_idempotency_keys(Timestamp before, std::size_t limit) = 0;
};

// The outbox: what the writers append and the relay's bookkeeping.
class OutboxRole {
 public:
  virtual ~OutboxRole() = default;

  // Appends to the outbox in one statement; a message whose event_id is there
  // already is left as it is.
  virtual void append_outbox(std::span<const OutboxMessage> messages) = 0;
  // Every outbox message of one ordering key (an entity id), oldest first.
  virtual std::vector<OutboxMessage> outbox_messages(std::string_view ordering_key) = 0;

  // The relay's bookkeeping below (claim_outbox, mark_published, mark_failed,
  // release_outbox, purge_published) need not survive a crash of the database: losing it
  // only means publishing some events again, with their own ids, which the
  // relay's at-least-once contract allows. On PostgreSQL a transaction that
  // runs one of them commits without waiting for the WAL flush
  // (synchronous_commit off for that transaction only).

  // Claims up to `limit` rows to publish, oldest first, and leases them until
  // `lease_until` so no other relay takes them meanwhile. A row is claimable
  // when unpublished, due (no lease or retry time in the future), and no
  // earlier unpublished row of its ordering key is leased or waiting for a
  // retry: events of one entity go out in order. Claims are serialised across
  // instances, so two relays never claim one row.
  virtual std::vector<OutboxRecord> claim_outbox(std::size_t limit, Timestamp now, Timestamp lease_until) = 0;
  // Records the rows as published at `at`. A row no longer pending (marked
  // already, by a relay whose lease had run out) is left as it is.
  virtual void mark_published(std::span<const std::int64_t> seqs, Timestamp at) = 0;
  virtual void mark_failed(std::span<const PublishFailure> failures) = 0;
  // Makes rows claimed until `lease_until` and not published due again, as if
  // never claimed; a row whose lease changed since (it ran out and another
  // relay claimed it) is left alone.
  virtual void release_outbox(std::span<const std::int64_t> seqs, Timestamp lease_until) = 0;
  // Deletes at most `limit` rows published before `before` and not pending
  // again (requeued); returns how many. Serialised with requeue_outbox.
  virtual std::size_t purge_published(Timestamp before, std::size_t limit) = 0;
  virtual OutboxBacklog outbox_backlog() = 0;

  // Makes the outbox rows of `ordering_key` (only those about `document_id`,
  // when given) unpublished again, so the relay publishes them again with
  // their own ids and payloads. Returns how many.
  virtual std::size_t requeue_outbox(std::string_view ordering_key, std::optional<std::string> document_id) = 0;
};

// Queue messages the consumer could not accept (rejected_messages).
class RejectionsRole {
 public:
  virtual ~RejectionsRole() = default;

  // Records a rejected message; false when its message_id was recorded before
  // (a redelivery of the same message).
  virtual bool record_rejected_message(const RejectedMessage& message) = 0;
  // The most recent rejections first.
  virtual std::vector<RejectedMessage> rejected_messages(std::size_t limit) = 0;
  virtual std::optional<RejectedMessage> find_rejected_message(std::string_view message_id) = 0;
  virtual bool delete_rejected_message(std::string_view message_id) = 0;
  virtual std::size_t purge_rejected_messages(Timestamp before, std::size_t limit) = 0;
};

// One database transaction: every role. A backend implements it whole.
class Transaction : public virtual DocumentsRole,
                    public virtual InboxRole,
                    public virtual OutboxRole,
                    public virtual RejectionsRole {};

// The connection pool, for metrics.
struct PoolStats {
  std::size_t capacity = 0;
  std::size_t open = 0;
  std::size_t in_use = 0;
  std::uint64_t waits = 0;  // acquisitions that had to wait for a free connection
};

class Store {
 public:
  virtual ~Store() = default;

  virtual std::string_view backend() const = 0;  // "sqlite" or "postgresql"

  // Applies the migrations not yet recorded in schema_migrations, each in its
  // own transaction. Safe when several instances start at once.
  virtual void migrate() = 0;
  // Versions recorded in schema_migrations, ascending.
  virtual std::vector<int> applied_migrations() = 0;
  // Versions compiled into this binary, ascending.
  virtual std::vector<int> known_migrations() const = 0;

  // Throws StoreUnavailable unless the database answers a trivial query.
  virtual void ping() = 0;
  virtual PoolStats pool_stats() const = 0;

  virtual void read(const std::function<void(Transaction&)>& work) = 0;
  virtual void write(const std::function<void(Transaction&)>& work) = 0;

  // Removes what published rows left behind in the relay's queue of pending
  // rows, outside any transaction. On PostgreSQL a row deleted from
  // outbox_pending leaves index entries that every claim walks until they
  // are vacuumed (autovacuum visits each database about once a minute), so
  // the relay calls this after marking a few thousand rows: VACUUM
  // (SKIP_LOCKED) of that narrow table. SQLite reuses the space at once:
  // nothing to do.
  virtual void compact_outbox_queue() = 0;

  // Blocks until outbox rows may have been added since generation `seen` (a
  // transaction of this process that appended some committed, or, on
  // PostgreSQL, another instance's did), `timeout` passes or `stop` is
  // requested. Returns the generation to pass next time; start with 0.
  virtual std::uint64_t wait_for_outbox(std::uint64_t seen, std::chrono::milliseconds timeout,
                                        std::stop_token stop) = 0;
};

struct StoreOptions {
  // postgresql://… ; empty selects SQLite at sqlite_path. Log it only through
  // redact_database_url (database_url.h).
  std::string database_url;
  std::filesystem::path sqlite_path;
  std::size_t pool_size = 8;
};

std::unique_ptr<Store> open_store(const StoreOptions& options);

// Runs `work` in a write transaction and returns what it returns.
template <class Work>
auto write(Store& store, Work&& work) -> std::invoke_result_t<Work&, Transaction&> {
  using Result = std::invoke_result_t<Work&, Transaction&>;
  if constexpr (std::is_void_v<Result>) {
    store.write(work);
  } else {
    std::optional<Result> out;
    store.write([&](Transaction& tx) { out.emplace(work(tx)); });
    return std::move(*out);
  }
}

// Runs `work` in a read transaction and returns what it returns.
template <class Work>
auto read(Store& store, Work&& work) -> std::invoke_result_t<Work&, Transaction&> {
  using Result = std::invoke_result_t<Work&, Transaction&>;
  if constexpr (std::is_void_v<Result>) {
    store.read(work);
  } else {
    std::optional<Result> out;
    store.read([&](Transaction& tx) { out.emplace(work(tx)); });
    return std::move(*out);
  }
}

}  // namespace docvault::store
