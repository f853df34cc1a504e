// The PostgreSQL store's Transaction: every role of store.h over one libpqxx
// transaction on one leased connection.
//
// Each operation runs prepared statements (statements.h) with its values
// bound, sets of values as array parameters (rows.h), and translates libpqxx's
// errors (errors.h). After a failed statement PostgreSQL ignores everything up
// to the end of the transaction and answers COMMIT with a silent ROLLBACK, so
// the transaction remembers the failure (failed()) and the store refuses to
// commit it. Appending to the outbox also sends NOTIFY docvault_outbox,
// delivered to every listening instance on commit (appended_outbox() tells the
// store to wake this process's relay too). The relay's bookkeeping commits
// with synchronous_commit off (store.h says why).
//
// Internal to store/postgres; made by PostgresStore::run for the caller's
// callback and used on that thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/postgres/connection_pool.h"
#include "store/postgres/errors.h"
#include "store/store.h"

namespace docvault::store::postgres {

struct Statement;

class PostgresTransaction final : public Transaction {
 public:
  PostgresTransaction(pqxx::transaction_base& txn, ConnectionPool::Lease& lease) : txn_(txn), lease_(lease) {}

  // A statement failed: the transaction cannot commit.
  bool failed() const { return failed_; }
  bool appended_outbox() const { return appended_outbox_; }

  // DocumentsRole
  void insert_document(const Document& d) override;
  std::optional<Document> find_document(const DocumentId& id) override;
  std::vector<Document> list_documents(const DocumentFilter& filter) override;
  std::optional<Document> archive_document(const DocumentId& id, std::string_view reason,
                                           Timestamp at) override;
  std::vector<Document> archive_entity_documents(std::span<const EntityRef> entities, std::string_view reason,
                                                 Timestamp at, std::size_t limit) override;
  std::vector<Document> suspend_entity_documents(std::span<const EntityRef> entities, Timestamp at,
                                                 std::size_t limit) override;
  std::vector<Document> reinstate_entity_documents(std::span<const EntityRef> entities, Timestamp at,
                                                   std::size_t limit) override;
  std::vector<std::string> referenced_blobs(std::span<const std::string> sha256s) override;
  void lock_entities(std::span<const EntityRef> entities) override;
  std::vector<EntityState> entity_states(std::span<const EntityRef> entities) override;
  void record_entity_transitions(std::span<const EntityTransition> transitions) override;

  // InboxRole
  std::vector<RecordOutcome> record_processed_events(std::span<const ProcessedEvent> events) override;
  std::vector<ProcessedEvent> list_processed_events(const ProcessedEventFilter& f) override;
  std::optional<ProcessedEvent> find_processed_event(std::string_view event_id) override;
  std::size_t purge_processed_events(Timestamp before, std::size_t limit) override;
  std::optional<IdempotencyRecord> find_idempotency_key(std::string_view caller, std::string_view key,
                                                        Timestamp valid_since) override;
  bool record_idempotency_key(const IdempotencyRecord& r, Timestamp valid_since) override;
  std::size_t purge_idempotency_keys(Timestamp before, std::size_t limit) override;

  // OutboxRole
  void append_outbox(std::span<const OutboxMessage> messages) override;
  std::vector<OutboxMessage> outbox_messages(std::string_view ordering_key) override;
  std::vector<OutboxRecord> claim_outbox(std::size_t limit, Timestamp now, Timestamp lease_until) override;
  void mark_published(std::span<const std::int64_t> seqs, Timestamp at) override;
  void mark_failed(std::span<const PublishFailure> failures) override;
  void release_outbox(std::span<const std::int64_t> seqs, Timestamp lease_until) override;
  std::size_t purge_published(Timestamp before, std::size_t limit) override;
  OutboxBacklog outbox_backlog() override;
  std::size_t requeue_outbox(std::string_view ordering_key, std::optional<std::string> document_id) override;

  // RejectionsRole
  bool record_rejected_message(const RejectedMessage& m) override;
  std::vector<RejectedMessage> rejected_messages(std::size_t limit) override;
  std::optional<RejectedMessage> find_rejected_message(std::string_view message_id) override;
  bool delete_rejected_message(std::string_view message_id) override;
  std::size_t purge_rejected_messages(Timestamp before, std::size_t limit) override;

 private:
  // This transaction commits without waiting for its WAL to reach disk.
  void relax_commit();
  // A relay statement over outbox rows ($1 their seqs, $2 a time).
  void update_outbox_rows(std::string_view operation, const Statement& statement,
                          std::span<const std::int64_t> seqs, Timestamp at);
  // One of the entity-set UPDATEs ($1 ids, $2 types, $3 limit, $4 at, $5 reason when given).
  std::vector<Document> update_entities(std::string_view operation, const Statement& statement,
                                        std::span<const EntityRef> entities, std::size_t limit, Timestamp at,
                                        std::optional<std::string> reason);
  void append_outbox_chunk(std::span<const OutboxMessage> chunk);

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

}  // namespace docvault::store::postgres
