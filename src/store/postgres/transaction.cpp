#include "store/postgres/transaction.h"

#include <algorithm>
#include <map>
#include <set>

#include "domain/uuid.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"
#include "store/postgres/statements.h"

namespace docvault::store::postgres {
namespace {

// Entities as two array parameters: ids, types.
std::pair<std::string, std::string> entity_arrays(std::span<const EntityRef> entities) {
  std::size_t id_bytes = 0;
  for (const auto& e : entities) id_bytes += e.id.size() + 3;
  TextArray ids(id_bytes), types(entities.size() * 12);
  for (const auto& e : entities) {
    ids.add(e.id);
    types.add(to_string(e.type));
  }
  return {std::move(ids).finish(), std::move(types).finish()};
}

}  // namespace

// --- documents ---------------------------------------------------------------

void PostgresTransaction::insert_document(const Document& d) {
  call("insert_document", [&] {
    txn_.exec_prepared(kInsertDocument.name, d.id, d.entity.id, std::string(to_string(d.entity.type)),
                       d.document_type, d.filename, d.content_type, static_cast<std::int64_t>(d.size_bytes),
                       d.sha256, std::string(to_string(d.status)), optional_timestamp(d.archived_at),
                       d.archive_reason, format_timestamp(d.created_at), format_timestamp(d.updated_at),
                       optional_timestamp(d.suspended_at));
  });
}

std::optional<Document> PostgresTransaction::find_document(const DocumentId& id) {
  return call("find_document", [&]() -> std::optional<Document> {
    const auto result = txn_.exec_prepared(kFindDocument.name, id.str());
    if (result.empty()) return std::nullopt;
    return document_from_row(result[0]);
  });
}

std::vector<Document> PostgresTransaction::list_documents(const DocumentFilter& filter) {
  return call("list_documents", [&] {
    const std::string entity_id = filter.entity.id;
    const std::string entity_type(to_string(filter.entity.type));
    const auto limit = static_cast<std::int64_t>(filter.limit);
    pqxx::result result;
    if (filter.status && filter.after) {
      result = txn_.exec_prepared(kListDocumentsByStatusAfter.name, entity_id, entity_type,
                                  std::string(to_string(*filter.status)),
                                  format_timestamp(filter.after->created_at), filter.after->id, limit);
    } else if (filter.status) {
      result = txn_.exec_prepared(kListDocumentsByStatus.name, entity_id, entity_type,
                                  std::string(to_string(*filter.status)), limit);
    } else if (filter.after) {
      result = txn_.exec_prepared(kListDocumentsAfter.name, entity_id, entity_type,
                                  format_timestamp(filter.after->created_at), filter.after->id, limit);
    } else {
      result = txn_.exec_prepared(kListDocuments.name, entity_id, entity_type, limit);
    }
    return documents_from(result);
  });
}

std::optional<Document> PostgresTransaction::archive_document(const DocumentId& id, std::string_view reason,
                                                              Timestamp at) {
  return call("archive_document", [&]() -> std::optional<Document> {
    const auto result =
        txn_.exec_prepared(kArchiveDocument.name, id.str(), format_timestamp(at), std::string(reason));
    if (result.empty()) return std::nullopt;
    return document_from_row(result[0]);
  });
}

std::vector<Document> PostgresTransaction::archive_entity_documents(std::span<const EntityRef> entities,
                                                                    std::string_view reason, Timestamp at,
                                                                    std::size_t limit) {
  return update_entities("archive_entity_documents", kArchiveEntityDocuments, entities, limit, at,
                         std::string(reason));
}

std::vector<Document> PostgresTransaction::suspend_entity_documents(std::span<const EntityRef> entities,
                                                                    Timestamp at, std::size_t limit) {
  return update_entities("suspend_entity_documents", kSuspendEntityDocuments, entities, limit, at,
                         std::nullopt);
}

std::vector<Document> PostgresTransaction::reinstate_entity_documents(std::span<const EntityRef> entities,
                                                                      Timestamp at, std::size_t limit) {
  return update_entities("reinstate_entity_documents", kReinstateEntityDocuments, entities, limit, at,
                         std::nullopt);
}

std::vector<std::string> PostgresTransaction::referenced_blobs(std::span<const std::string> sha256s) {
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

void PostgresTransaction::lock_entities(std::span<const EntityRef> entities) {
  if (entities.empty()) return;
  call("lock_entities", [&] {
    auto [ids, types] = entity_arrays(entities);
    txn_.exec_prepared(kLockEntities.name, ids, types);
  });
}

std::vector<EntityState> PostgresTransaction::entity_states(std::span<const EntityRef> entities) {
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

void PostgresTransaction::record_entity_transitions(std::span<const EntityTransition> transitions) {
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

// --- inbox -------------------------------------------------------------------

std::vector<RecordOutcome> PostgresTransaction::record_processed_events(
    std::span<const ProcessedEvent> events) {
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
      outcomes[i] =
          existing_event_outcome(it == stored.end() ? std::nullopt : it->second, events[i].payload_sha256);
    }
    return outcomes;
  });
}

std::vector<ProcessedEvent> PostgresTransaction::list_processed_events(const ProcessedEventFilter& f) {
  return call("list_processed_events", [&] {
    const auto result =
        txn_.exec_prepared(kListProcessedEvents.name, f.entity_id, f.entity_type, optional_timestamp(f.since),
                           optional_timestamp(f.until), static_cast<long long>(f.limit));
    std::vector<ProcessedEvent> out;
    for (const auto& row : result) out.push_back(processed_event(row));
    return out;
  });
}

std::optional<ProcessedEvent> PostgresTransaction::find_processed_event(std::string_view event_id) {
  return call("find_processed_event", [&]() -> std::optional<ProcessedEvent> {
    const auto result = txn_.exec_prepared(kFindProcessedEvent.name, std::string(event_id));
    if (result.empty()) return std::nullopt;
    return processed_event(result[0]);
  });
}

std::size_t PostgresTransaction::purge_processed_events(Timestamp before, std::size_t limit) {
  return call("purge_processed_events", [&] {
    return static_cast<std::size_t>(txn_.exec_prepared(kPurgeProcessedEvents.name, format_timestamp(before),
                                                       static_cast<long long>(limit))
                                        .affected_rows());
  });
}

std::optional<IdempotencyRecord> PostgresTransaction::find_idempotency_key(std::string_view caller,
                                                                           std::string_view key,
                                                                           Timestamp valid_since) {
  return call("find_idempotency_key", [&]() -> std::optional<IdempotencyRecord> {
    const auto result = txn_.exec_prepared(kFindIdempotencyKey.name, std::string(caller), std::string(key),
                                           format_timestamp(valid_since));
    if (result.empty()) return std::nullopt;
    const auto& row = result[0];
    return IdempotencyRecord{text(row[0]), text(row[1]), text(row[2]), text(row[3]), timestamp_field(row[4])};
  });
}

bool PostgresTransaction::record_idempotency_key(const IdempotencyRecord& r, Timestamp valid_since) {
  return call("record_idempotency_key", [&] {
    return !txn_.exec_prepared(kRecordIdempotencyKey.name, r.caller, r.key, r.request_sha256, r.document_id,
                               format_timestamp(r.created_at), format_timestamp(valid_since))
                .empty();
  });
}

std::size_t PostgresTransaction::purge_idempotency_keys(Timestamp before, std::size_t limit) {
  return call("purge_idempotency_keys", [&] {
    return static_cast<std::size_t>(txn_.exec_prepared(kPurgeIdempotencyKeys.name, format_timestamp(before),
                                                       static_cast<long long>(limit))
                                        .affected_rows());
  });
}

// --- outbox ------------------------------------------------------------------

void PostgresTransaction::append_outbox(std::span<const OutboxMessage> messages) {
  if (messages.empty()) return;
  call("append_outbox", [&] {
    // Delivered to every listening instance when this transaction commits.
    if (!appended_outbox_) txn_.exec_prepared(kNotifyOutbox.name);
    appended_outbox_ = true;
    for (std::size_t begin = 0; begin < messages.size(); begin += PostgresStore::kOutboxChunkRows) {
      append_outbox_chunk(
          messages.subspan(begin, std::min(PostgresStore::kOutboxChunkRows, messages.size() - begin)));
    }
  });
}

std::vector<OutboxMessage> PostgresTransaction::outbox_messages(std::string_view ordering_key) {
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

std::vector<OutboxRecord> PostgresTransaction::claim_outbox(std::size_t limit, Timestamp now,
                                                            Timestamp lease_until) {
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

void PostgresTransaction::mark_published(std::span<const std::int64_t> seqs, Timestamp at) {
  update_outbox_rows("mark_published", kMarkPublished, seqs, at);
}

void PostgresTransaction::mark_failed(std::span<const PublishFailure> failures) {
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

void PostgresTransaction::release_outbox(std::span<const std::int64_t> seqs, Timestamp lease_until) {
  update_outbox_rows("release_outbox", kReleaseOutbox, seqs, lease_until);
}

std::size_t PostgresTransaction::purge_published(Timestamp before, std::size_t limit) {
  return call("purge_published", [&] {
    relax_commit();
    txn_.exec_prepared(kLockOutbox.name, kOutboxRetentionLockKey);
    const auto result =
        txn_.exec_prepared(kPurgePublished.name, format_timestamp(before), static_cast<long long>(limit));
    return static_cast<std::size_t>(result.affected_rows());
  });
}

OutboxBacklog PostgresTransaction::outbox_backlog() {
  return call("outbox_backlog", [&] {
    const auto result = txn_.exec_prepared(kOutboxBacklog.name);
    const auto row = result[0];
    OutboxBacklog backlog{row[0].as<std::size_t>(), std::nullopt};
    if (!row[1].is_null()) backlog.oldest_pending_created_at = timestamp_field(row[1]);
    return backlog;
  });
}

std::size_t PostgresTransaction::requeue_outbox(std::string_view ordering_key,
                                                std::optional<std::string> document_id) {
  return call("requeue_outbox", [&] {
    txn_.exec_prepared(kLockOutbox.name, kOutboxRetentionLockKey);  // see kPurgePublished
    return static_cast<std::size_t>(
        txn_.exec_prepared(kRequeueOutbox.name, std::string(ordering_key), document_id).affected_rows());
  });
}

// --- rejections --------------------------------------------------------------

bool PostgresTransaction::record_rejected_message(const RejectedMessage& m) {
  return call("record_rejected_message", [&] {
    const auto result =
        txn_.exec_prepared(kRecordRejectedMessage.name, uuid_v4(), m.message_id, pqxx::binarystring(m.body),
                           m.reason, m.detail, m.receive_count, format_timestamp(m.rejected_at));
    return !result.empty();
  });
}

std::vector<RejectedMessage> PostgresTransaction::rejected_messages(std::size_t limit) {
  return call("rejected_messages", [&] {
    const auto result = txn_.exec_prepared(kRejectedMessages.name, static_cast<long long>(limit));
    std::vector<RejectedMessage> out;
    out.reserve(result.size());
    for (const auto& row : result) out.push_back(rejected_message(row));
    return out;
  });
}

std::optional<RejectedMessage> PostgresTransaction::find_rejected_message(std::string_view message_id) {
  return call("find_rejected_message", [&]() -> std::optional<RejectedMessage> {
    const auto result = txn_.exec_prepared(kFindRejectedMessage.name, std::string(message_id));
    if (result.empty()) return std::nullopt;
    return rejected_message(result[0]);
  });
}

bool PostgresTransaction::delete_rejected_message(std::string_view message_id) {
  return call("delete_rejected_message", [&] {
    return txn_.exec_prepared(kDeleteRejectedMessage.name, std::string(message_id)).affected_rows() > 0;
  });
}

std::size_t PostgresTransaction::purge_rejected_messages(Timestamp before, std::size_t limit) {
  return call("purge_rejected_messages", [&] {
    return static_cast<std::size_t>(txn_.exec_prepared(kPurgeRejectedMessages.name, format_timestamp(before),
                                                       static_cast<long long>(limit))
                                        .affected_rows());
  });
}

// --- helpers -----------------------------------------------------------------

void PostgresTransaction::relax_commit() {
  if (relaxed_) return;
  txn_.exec_prepared(kRelaxedCommit.name);
  relaxed_ = true;
}

void PostgresTransaction::update_outbox_rows(std::string_view operation, const Statement& statement,
                                             std::span<const std::int64_t> seqs, Timestamp at) {
  if (seqs.empty()) return;
  call(operation, [&] {
    relax_commit();
    TextArray ids(seqs.size() * 12);
    for (auto seq : seqs) ids.add(std::to_string(seq));
    txn_.exec_prepared(statement.name, std::move(ids).finish(), format_timestamp(at));
  });
}

std::vector<Document> PostgresTransaction::update_entities(std::string_view operation,
                                                           const Statement& statement,
                                                           std::span<const EntityRef> entities,
                                                           std::size_t limit, Timestamp at,
                                                           std::optional<std::string> reason) {
  if (entities.empty()) return {};
  return call(operation, [&] {
    auto [ids, types] = entity_arrays(entities);
    const auto bound = static_cast<long long>(std::min<std::size_t>(limit, kNoLimit));
    if (reason) {
      return documents_from(
          txn_.exec_prepared(statement.name, ids, types, bound, format_timestamp(at), *reason));
    }
    return documents_from(txn_.exec_prepared(statement.name, ids, types, bound, format_timestamp(at)));
  });
}

void PostgresTransaction::append_outbox_chunk(std::span<const OutboxMessage> chunk) {
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
  txn_.exec_prepared(kAppendOutbox.name, std::move(ids).finish(), std::move(destinations).finish(),
                     std::move(targets).finish(), std::move(keys).finish(), std::move(payloads).finish(),
                     std::move(attributes).finish(), std::move(created).finish());
}

}  // namespace docvault::store::postgres
