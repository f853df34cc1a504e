// Decorators that forward every call to a real store, so a test can override
// just the one operation it wants to break ("fail the outbox append") while
// everything else runs against the real database. There is one forwarder per
// role of store::Transaction (store.h), and ForwardingTransaction is all four:
// a new Transaction method is forwarded in its role's forwarder, and a fake
// of one whole role derives from store::Transaction and the other roles'
// forwarders and implements its own. Header-only (suites that use it link
// docvault_store).
#pragma once

#include "store/store.h"

namespace docvault::testing {

class ForwardingDocuments : public virtual store::DocumentsRole {
 public:
  explicit ForwardingDocuments(store::DocumentsRole& inner) : inner_(inner) {}

  void insert_document(const Document& d) override { inner_.insert_document(d); }
  std::optional<Document> find_document(const DocumentId& id) override { return inner_.find_document(id); }
  std::vector<Document> list_documents(const store::DocumentFilter& f) override { return inner_.list_documents(f); }
  std::optional<Document> archive_document(const DocumentId& id, std::string_view reason, Timestamp at) override {
    return inner_.archive_document(id, reason, at);
  }
  std::vector<Document> archive_entity_documents(std::span<const EntityRef> e, std::string_view reason, Timestamp at,
                                                 std::size_t limit) override {
    return inner_.archive_entity_documents(e, reason, at, limit);
  }
  std::vector<Document> suspend_entity_documents(std::span<const EntityRef> e, Timestamp at,
                                                 std::size_t limit) override {
    return inner_.suspend_entity_documents(e, at, limit);
  }
  std::vector<Document> reinstate_entity_documents(std::span<const EntityRef> e, Timestamp at,
                                                   std::size_t limit) override {
    return inner_.reinstate_entity_documents(e, at, limit);
  }
  std::vector<std::string> referenced_blobs(std::span<const std::string> sha256s) override {
    return inner_.referenced_blobs(sha256s);
  }
  void lock_entities(std::span<const EntityRef> e) override { inner_.lock_entities(e); }
  std::vector<store::EntityState> entity_states(std::span<const EntityRef> e) override {
    return inner_.entity_states(e);
  }
  void record_entity_transitions(std::span<const store::EntityTransition> t) override {
    inner_.record_entity_transitions(t);
  }

 private:
  store::DocumentsRole& inner_;
};

class ForwardingInbox : public virtual store::InboxRole {
 public:
  explicit ForwardingInbox(store::InboxRole& inner) : inner_(inner) {}

  std::vector<store::RecordOutcome> record_processed_events(std::span<const store::ProcessedEvent> e) override {
    return inner_.record_processed_events(e);
  }
  std::vector<store::ProcessedEvent> list_processed_events(const store::ProcessedEventFilter& f) override {
    return inner_.list_processed_events(f);
  }
  std::optional<store::ProcessedEvent> find_processed_event(std::string_view event_id) override {
    return inner_.find_processed_event(event_id);
  }
  std::size_t purge_processed_events(Timestamp before, std::size_t limit) override {
    return inner_.purge_processed_events(before, limit);
  }
  std::optional<store::IdempotencyRecord> find_idempotency_key(std::string_view caller, std::string_view key,
                                                               Timestamp valid_since) override {
    return inner_.find_idempotency_key(caller, key, valid_since);
  }
  bool record_idempotency_key(const store::IdempotencyRecord& r, Timestamp valid_since) override {
    return inner_.record_idempotency_key(r, valid_since);
  }
  std::size_t purge_idempotency_keys(Timestamp before, std::size_t limit) override {
    return inner_.purge_idempotency_keys(before, limit);
  }

 private:
  store::InboxRole& inner_;
};

class ForwardingOutbox : public virtual store::OutboxRole {
 public:
  explicit ForwardingOutbox(store::OutboxRole& inner) : inner_(inner) {}

  void append_outbox(std::span<const OutboxMessage> m) override { inner_.append_outbox(m); }
  std::vector<OutboxMessage> outbox_messages(std::string_view key) override { return inner_.outbox_messages(key); }
  std::vector<store::OutboxRecord> claim_outbox(std::size_t limit, Timestamp now, Timestamp lease_until) override {
    return inner_.claim_outbox(limit, now, lease_until);
  }
  void mark_published(std::span<const std::int64_t> seqs, Timestamp at) override { inner_.mark_published(seqs, at); }
  void mark_failed(std::span<const store::PublishFailure> failures) override { inner_.mark_failed(failures); }
  void release_outbox(std::span<const std::int64_t> seqs, Timestamp lease_until) override {
    inner_.release_outbox(seqs, lease_until);
  }
  std::size_t purge_published(Timestamp before, std::size_t limit) override {
    return inner_.purge_published(before, limit);
  }
  store::OutboxBacklog outbox_backlog() override { return inner_.outbox_backlog(); }
  std::size_t requeue_outbox(std::string_view key, std::optional<std::string> document_id) override {
    return inner_.requeue_outbox(key, std::move(document_id));
  }

 private:
  store::OutboxRole& inner_;
};

class ForwardingRejections : public virtual store::RejectionsRole {
 public:
  explicit ForwardingRejections(store::RejectionsRole& inner) : inner_(inner) {}

  bool record_rejected_message(const store::RejectedMessage& m) override { return inner_.record_rejected_message(m); }
  std::vector<store::RejectedMessage> rejected_messages(std::size_t limit) override {
    return inner_.rejected_messages(limit);
  }
  std::optional<store::RejectedMessage> find_rejected_message(std::string_view message_id) override {
    return inner_.find_rejected_message(message_id);
  }
  bool delete_rejected_message(std::string_view message_id) override { return inner_.delete_rejected_message(message_id); }
  std::size_t purge_rejected_messages(Timestamp before, std::size_t limit) override {
    return inner_.purge_rejected_messages(before, limit);
  }

 private:
  store::RejectionsRole& inner_;
};

// Every role forwarded to one real transaction. A test overrides the method
// it breaks and calls ForwardingTransaction::method for the rest.
class ForwardingTransaction : public store::Transaction,
                              public ForwardingDocuments,
                              public ForwardingInbox,
                              public ForwardingOutbox,
                              public ForwardingRejections {
 public:
  explicit ForwardingTransaction(store::Transaction& inner)
      : ForwardingDocuments(inner), ForwardingInbox(inner), ForwardingOutbox(inner), ForwardingRejections(inner) {}
};

// Forwards to `inner`; write() hands the work a transaction made by
// wrap_transaction(), which a subclass overrides to inject its faults.
class ForwardingStore : public store::Store {
 public:
  explicit ForwardingStore(store::Store& inner) : inner_(inner) {}

  std::string_view backend() const override { return inner_.backend(); }
  void migrate() override { inner_.migrate(); }
  std::vector<int> applied_migrations() override { return inner_.applied_migrations(); }
  std::vector<int> known_migrations() const override { return inner_.known_migrations(); }
  void ping() override { inner_.ping(); }
  void compact_outbox_queue() override { inner_.compact_outbox_queue(); }
  store::PoolStats pool_stats() const override { return inner_.pool_stats(); }
  void read(const std::function<void(store::Transaction&)>& work) override { inner_.read(work); }
  void write(const std::function<void(store::Transaction&)>& work) override {
    inner_.write([&](store::Transaction& tx) {
      auto wrapped = wrap_transaction(tx);
      work(*wrapped);
    });
  }
  std::uint64_t wait_for_outbox(std::uint64_t seen, std::chrono::milliseconds timeout,
                                std::stop_token stop) override {
    return inner_.wait_for_outbox(seen, timeout, std::move(stop));
  }

 protected:
  virtual std::unique_ptr<store::Transaction> wrap_transaction(store::Transaction& tx) {
    return std::make_unique<ForwardingTransaction>(tx);
  }

 private:
  store::Store& inner_;
};

}  // namespace docvault::testing
