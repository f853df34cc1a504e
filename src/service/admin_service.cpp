#include "service/admin_service.h"



#include "domain/entity_event.h"
#include "domain/uuid.h"
#include "runtime/parse.h"

namespace docvault::service {
namespace {

constexpr std::size_t kPurgeBatch = 1000;

std::optional<FieldError> parse_time(const std::optional<std::string>& text, const char* field,
                                     std::optional<Timestamp>& out) {
  if (!text) return std::nullopt;
  out = parse_timestamp(*text);
  if (!out) return FieldError{field, "must be a timestamp like 2025-10-23T12:34:56.789Z"};
  return std::nullopt;
}

}  // namespace

AdminService::AdminService(store::Store& store, DocumentService& documents, const Clock& clock,
                           MessageRedriver* redriver)
    : store_(store), documents_(documents), clock_(clock), redriver_(redriver) {}

Validated<std::vector<store::ProcessedEvent>> AdminService::processed_events(const ProcessedEventQuery& q) {
  store::ProcessedEventFilter filter{q.entity_id, q.entity_type, std::nullopt, std::nullopt, 100};
  if (q.entity_id) {
    if (auto error = check_entity_id(*q.entity_id)) return *error;
  }
  if (auto error = parse_time(q.since, "since", filter.since)) return *error;
  if (auto error = parse_time(q.until, "until", filter.until)) return *error;
  if (q.limit) {
    auto limit = runtime::parse_integer<std::size_t>(*q.limit, 1, 1000);
    if (!limit) return FieldError{"limit", "must be a whole number from 1 to 1000"};
    filter.limit = *limit;
  }
  return store::read(store_, [&](store::Transaction& tx) { return tx.list_processed_events(filter); });
}

std::optional<ReplayResult> AdminService::replay(const std::string& event_id) {
  const Timestamp now = clock_.now();
  return store::write(store_, [&](store::Transaction& tx) -> std::optional<ReplayResult> {
    auto event = tx.find_processed_event(event_id);
    if (!event) return std::nullopt;
    ReplayResult result{*event, false, 0};
    auto type = event->entity_type ? parse_entity_type(*event->entity_type) : std::nullopt;
    if (event->action != kActionEntityDeleted || !type || !event->entity_id) return result;
    auto archived = documents_.cascade_archive_by_entity(tx, EntityRef{*event->entity_id, *type},
                                                         kReasonEntityDeleted, event->event_id, Actor::system(), now);
    result.replayed = true;
    result.documents_archived = archived.size();
    return result;
  });
}

Validated<std::optional<std::size_t>> AdminService::republish(const std::optional<std::string>& entity_id,
                                                              const std::optional<std::string>& document_id) {
  if (entity_id.has_value() == document_id.has_value()) {
    return FieldError{entity_id ? "document_id" : "entity_id", "give exactly one of entity_id and document_id"};
  }
  if (entity_id) {
    if (auto error = check_entity_id(*entity_id)) return *error;
    return std::optional<std::size_t>(
        store::write(store_, [&](store::Transaction& tx) { return tx.requeue_outbox(*entity_id, std::nullopt); }));
  }
  auto id = DocumentId::parse(*document_id);
  if (!id) return FieldError{"document_id", "must be a UUID"};
  return store::write(store_, [&](store::Transaction& tx) -> std::optional<std::size_t> {
    auto document = tx.find_document(*id);
    if (!document) return std::nullopt;
    return tx.requeue_outbox(document->entity.id, id->str());
  });
}

std::vector<store::RejectedMessage> AdminService::rejected_messages(std::size_t limit) {
  return store::read(store_, [&](store::Transaction& tx) { return tx.rejected_messages(limit); });
}

RedriveOutcome AdminService::redrive(const std::string& message_id) {
  auto message = store::read(store_, [&](store::Transaction& tx) { return tx.find_rejected_message(message_id); });
  if (!message) return RedriveOutcome::not_found;
  if (!redriver_) return RedriveOutcome::no_queue;
  // Sent first, then forgotten: a crash in between leaves the record, and a
  // second redrive sends a copy the consumer deduplicates by event_id.
  redriver_->redrive(*message);
  store::write(store_, [&](store::Transaction& tx) { tx.delete_rejected_message(message_id); });
  return RedriveOutcome::redriven;
}

AdminService::Purged AdminService::purge_expired(const Retention& retention) {
  const Timestamp now = clock_.now();
  // Small transactions: retention never holds locks the consumer needs.
  auto purge_all = [&](auto purge_batch) {
    std::size_t total = 0;
    while (true) {
      auto n = store::write(store_, [&](store::Transaction& tx) { return purge_batch(tx); });
      total += n;
      if (n < kPurgeBatch) return total;
    }
  };
  Purged purged;
  purged.processed_events = purge_all([&](store::Transaction& tx) {
    return tx.purge_processed_events(now - retention.processed_events, kPurgeBatch);
  });
  purged.rejected_messages = purge_all([&](store::Transaction& tx) {
    return tx.purge_rejected_messages(now - retention.rejected_messages, kPurgeBatch);
  });
  purged.idempotency_keys = purge_all([&](store::Transaction& tx) {
    return tx.purge_idempotency_keys(now - retention.idempotency_keys, kPurgeBatch);
  });
  return purged;
}

}  // namespace docvault::service
