#include "service/document_service.h"

#include <algorithm>

#include <set>
#include <span>
#include <stdexcept>
#include <variant>

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "domain/uuid.h"
#include "runtime/parse.h"

namespace docvault::service {
namespace {

// Appends the outgoing events of `documents` to `messages`.
void add_events(std::span<const Document> documents, const DocumentChange& change,
                std::vector<OutboxMessage>& messages) {
  messages.reserve(messages.size() + documents.size() * 2);
  for (const auto& d : documents) {
    for (auto& m : document_change_events(d, change)) messages.push_back(std::move(m));
  }
}

}  // namespace

std::string encode_cursor(const store::Cursor& cursor) {
  return crypto::base64url_encode(format_timestamp(cursor.created_at) + "|" + cursor.id);
}

std::optional<store::Cursor> decode_cursor(std::string_view text) {
  auto raw = crypto::base64url_decode(text);
  if (!raw) return std::nullopt;
  auto bar = raw->find('|');
  if (bar == std::string::npos) return std::nullopt;
  auto at = parse_timestamp(std::string_view(*raw).substr(0, bar));
  auto id = canonical_uuid(std::string_view(*raw).substr(bar + 1));
  if (!at || !id) return std::nullopt;
  return store::Cursor{*at, *id};
}

DocumentService::DocumentService(store::Store& store, blob::BlobStore& blobs, const Clock& clock,
                                 std::vector<std::string> active_actions, std::chrono::hours idempotency_retention)
    : store_(store),
      blobs_(blobs),
      clock_(clock),
      active_actions_(std::move(active_actions)),
      idempotency_retention_(idempotency_retention) {}

namespace {

constexpr std::string_view kIdempotencyKeyField = "Idempotency-Key";

FieldError refusal_error(UploadRefusal refusal) {
  switch (refusal) {
    case UploadRefusal::entity_deleted: return {"entity_id", "names an entity that was deleted"};
    case UploadRefusal::entity_suspended: return {"entity_id", "names an entity that is suspended"};
    case UploadRefusal::idempotency_key_reused:
      return {std::string(kIdempotencyKeyField), "was used before for a different request"};
  }
  return {};
}

// The key as sent, without the quotes of a structured-field string.
std::optional<std::string> parse_idempotency_key(std::string_view text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 255) return std::nullopt;
  for (char c : text) {
    if (c < 0x20 || c > 0x7e || c == '"') return std::nullopt;
  }
  return std::string(text);
}

// What makes two uploads the same request: the fields as stored and the content.
std::string request_fingerprint(const NewDocument& meta, std::string_view content_sha256) {
  const nlohmann::json parts = {meta.entity.id,   to_string(meta.entity.type), meta.document_type,
                                meta.filename,    meta.content_type,           content_sha256};
  return crypto::sha256_hex(parts.dump());
}

std::optional<UploadRefusal> refusal_for(store::EntityState state) {
  switch (state) {
    case store::EntityState::active: return std::nullopt;
    case store::EntityState::suspended: return UploadRefusal::entity_suspended;
    case store::EntityState::deleted: return UploadRefusal::entity_deleted;
  }
  return std::nullopt;
}

}  // namespace

CreateResult::CreateResult(UploadRefusal refusal) : Validated<Document>(refusal_error(refusal)), refusal_(refusal) {}

CreateResult CreateResult::replay(Document document) {
  CreateResult result(std::move(document));
  result.replayed_ = true;
  return result;
}

CreateResult DocumentService::create(const DocumentUpload& upload, std::string_view content, const Actor& actor,
                                     std::optional<std::string_view> idempotency_key) {
  return create_from(upload, actor, idempotency_key, [&] { return blobs_.put(content); });
}

std::unique_ptr<blob::BlobWriter> DocumentService::begin_content() { return blobs_.writer(); }

CreateResult DocumentService::create_streamed(const DocumentUpload& upload, std::unique_ptr<blob::BlobWriter> content,
                                              const Actor& actor, std::optional<std::string_view> idempotency_key) {
  // A refusal drops the writer: its temporary file goes, nothing is stored.
  return create_from(upload, actor, idempotency_key, [&] { return content->commit(); });
}

CreateResult DocumentService::create_from(const DocumentUpload& upload, const Actor& actor,
                                          std::optional<std::string_view> idempotency_key,
                                          const std::function<blob::BlobInfo()>& store_content) {
  auto validated = validate_upload(upload);
  if (!validated) return validated.error();
  const NewDocument& meta = validated.value();
  const std::span<const EntityRef> entity(&meta.entity, 1);
  std::optional<std::string> key;
  if (idempotency_key) {
    key = parse_idempotency_key(*idempotency_key);
    if (!key) return FieldError{std::string(kIdempotencyKeyField), "must be 1 to 255 printable ASCII characters"};
  }
  const std::string caller = actor.type + ":" + actor.id.value_or("");
  const Timestamp now = clock_.now();
  const Timestamp keys_valid_since = now - idempotency_retention_;

  // Refused before anything is stored when the entity says so already (unless
  // the key names an earlier request, which is decided below).
  auto [state, known_key] = store::read(store_, [&](store::Transaction& tx) {
    return std::pair(tx.entity_states(entity).front(),
                     key ? tx.find_idempotency_key(caller, *key, keys_valid_since) : std::nullopt);
  });
  if (auto refused = refusal_for(state); refused && !known_key) return CreateResult(*refused);

  // The blob goes first: a row must never point at missing content.
  const blob::BlobInfo blob = store_content();
  const std::string fingerprint = key ? request_fingerprint(meta, blob.sha256) : std::string();
  Document document{DocumentId::generate().str(), meta.entity, meta.document_type, meta.filename,
                    meta.content_type, blob.size, blob.sha256, DocumentStatus::active,
                    std::nullopt, std::nullopt, std::nullopt, now, now};
  auto events = document_change_events(
      document,
      DocumentChange{kActionDocumentCreated, kReasonUploaded, actor, now, document.entity, "api", current_trace()});
  // Read again under the entity's lock: a deletion committed since the check
  // above is seen here, and one not yet committed waits for this row, then
  // archives it. The lock also makes a retry of this upload (same entity)
  // wait for it and find its key.
  using Outcome = std::variant<std::monostate, UploadRefusal, std::string>;  // created, refused, replay of an id
  auto outcome = store::write(store_, [&](store::Transaction& tx) -> Outcome {
    tx.lock_entities(entity);
    auto earlier = [&]() -> Outcome {
      auto record = tx.find_idempotency_key(caller, *key, keys_valid_since);
      if (!record || record->request_sha256 != fingerprint) return UploadRefusal::idempotency_key_reused;
      return record->document_id;
    };
    if (key && tx.find_idempotency_key(caller, *key, keys_valid_since)) return earlier();
    if (auto refusal = refusal_for(tx.entity_states(entity).front())) return *refusal;
    // Another entity's request with this key may have committed meanwhile.
    if (key && !tx.record_idempotency_key({caller, *key, fingerprint, document.id, now}, keys_valid_since)) {
      return earlier();
    }
    tx.insert_document(document);
    tx.append_outbox(events);
    return std::monostate{};
  });
  if (auto* refusal = std::get_if<UploadRefusal>(&outcome)) return CreateResult(*refusal);
  if (auto* id = std::get_if<std::string>(&outcome)) {
    auto original = store::read(store_, [&](store::Transaction& tx) { return tx.find_document(*DocumentId::parse(*id)); });
    if (!original) throw store::StoreError("idempotency key names a document that does not exist: " + *id);
    return CreateResult::replay(std::move(*original));
  }
  return document;
}

std::optional<Document> DocumentService::get(const DocumentId& id) {
  return store::read(store_, [&](store::Transaction& tx) { return tx.find_document(id); });
}

Validated<DocumentPage> DocumentService::list(const ListQuery& query) {
  auto entity = parse_entity_ref(query.entity_id, query.entity_type);
  if (!entity) return entity.error();

  store::DocumentFilter filter{std::move(entity).value(), std::nullopt, kDefaultPageSize, std::nullopt};
  if (query.status) {
    filter.status = parse_document_status(*query.status);
    if (!filter.status) return FieldError{"status", "must be active or archived"};
  }
  if (query.limit) {
    auto limit = runtime::parse_integer<std::size_t>(*query.limit, 1, kMaxPageSize);
    if (!limit) return FieldError{"limit", "must be a whole number from 1 to 200"};
    filter.limit = *limit;
  }
  if (query.cursor) {
    filter.after = decode_cursor(*query.cursor);
    if (!filter.after) return FieldError{"cursor", "is not a cursor returned by this API"};
  }

  // One row more than asked tells whether another page exists.
  const std::size_t page_size = filter.limit;
  filter.limit = page_size + 1;
  auto rows = store::read(store_, [&](store::Transaction& tx) { return tx.list_documents(filter); });
  DocumentPage page;
  if (rows.size() > page_size) {
    rows.resize(page_size);
    page.next_cursor = encode_cursor(store::Cursor{rows.back().created_at, rows.back().id});
  }
  page.items = std::move(rows);
  return page;
}

std::optional<Document> DocumentService::archive(const DocumentId& id, const Actor& actor) {
  const Timestamp now = clock_.now();
  return store::write(store_, [&](store::Transaction& tx) -> std::optional<Document> {
    auto archived = tx.archive_document(id, kReasonManual, now);
    if (!archived) return tx.find_document(id);  // absent, or archived before: no new events
    tx.append_outbox(document_change_events(
        *archived,
        DocumentChange{kActionDocumentArchived, kReasonManual, actor, now, archived->entity, "api", current_trace()}));
    return archived;
  });
}

std::vector<std::string> DocumentService::cascade_archive_by_entity(const EntityRef& entity,
                                                                    std::string_view reason,
                                                                    std::string_view cause) {
  const Timestamp now = clock_.now();
  auto archived = store::write(store_, [&](store::Transaction& tx) {
    return cascade_archive_by_entity(tx, entity, reason, cause, Actor::system(), now);
  });
  std::vector<std::string> ids;
  ids.reserve(archived.size());
  for (auto& d : archived) ids.push_back(std::move(d.id));
  return ids;
}

std::vector<Document> DocumentService::cascade_archive_by_entity(store::Transaction& tx,
                                                                 const EntityRef& entity,
                                                                 std::string_view reason,
                                                                 std::string_view cause,
                                                                 const Actor& actor, Timestamp at) {
  tx.lock_entities(std::span(&entity, 1));
  auto archived = tx.archive_entity_documents(entity, reason, at);
  const store::EntityTransition tombstone{entity, store::EntityState::deleted, std::string(cause), at};
  tx.record_entity_transitions(std::span(&tombstone, 1));
  std::vector<OutboxMessage> events;
  add_events(archived,
             DocumentChange{kActionDocumentArchived, reason, actor, at, entity, std::string(cause), current_trace()},
             events);
  tx.append_outbox(events);
  return archived;
}

const std::vector<EntityAction>& entity_actions() {
  static const std::vector<EntityAction> kActions = {
      {kActionEntityDeleted, kActionDocumentArchived, kReasonEntityDeleted, store::EntityState::deleted,
       [](store::Transaction& tx, std::span<const EntityRef> e, std::string_view reason, Timestamp at,
          std::size_t limit) { return tx.archive_entity_documents(e, reason, at, limit); }},
      {kActionEntitySuspended, kActionDocumentSuspended, kReasonEntitySuspended, store::EntityState::suspended,
       [](store::Transaction& tx, std::span<const EntityRef> e, std::string_view, Timestamp at, std::size_t limit) {
         return tx.suspend_entity_documents(e, at, limit);
       }},
      {kActionEntityReinstated, kActionDocumentReinstated, kReasonEntityReinstated, store::EntityState::active,
       [](store::Transaction& tx, std::span<const EntityRef> e, std::string_view, Timestamp at, std::size_t limit) {
         return tx.reinstate_entity_documents(e, at, limit);
       }},
  };
  return kActions;
}

const EntityAction* find_entity_action(std::string_view action) {
  for (const auto& a : entity_actions()) {
    if (a.action == action) return &a;
  }
  return nullptr;
}

bool DocumentService::handles(std::string_view action) const {
  if (!find_entity_action(action)) return false;
  return active_actions_.empty() ||
         std::find(active_actions_.begin(), active_actions_.end(), action) != active_actions_.end();
}

EventResult DocumentService::handle_entity_event(const EntityEvent& event) {
  const EntityEvent* one = &event;
  return handle_entity_events(std::span(&one, 1)).front();
}

std::vector<EventResult> DocumentService::handle_entity_events(std::span<const EntityEvent* const> events) {
  const Timestamp now = clock_.now();
  return store::write(store_, [&](store::Transaction& tx) {
    std::vector<store::ProcessedEvent> records;
    records.reserve(events.size());
    for (const EntityEvent* e : events) {
      records.push_back({e->event_id, e->source, e->action, e->entity_id, e->entity_type, now, e->canonical_sha256});
    }
    const auto outcomes = tx.record_processed_events(records);

    std::vector<EventResult> results(events.size(), EventResult{EventOutcome::processed, 0});
    std::vector<std::size_t> pending;  // recorded, to apply
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (outcomes[i] == store::RecordOutcome::duplicate) {
        results[i].outcome = EventOutcome::duplicate;
      } else if (outcomes[i] == store::RecordOutcome::event_id_reused) {
        results[i].outcome = EventOutcome::event_id_reused;
      } else if (!events[i]->supported_type) {
        results[i].outcome = EventOutcome::unsupported_entity_type;
      } else if (!find_entity_action(events[i]->action)) {
        throw std::logic_error("handle_entity_events: unhandled action " + events[i]->action);
      } else {
        pending.push_back(i);
      }
    }

    // The entities are locked (an upload for one waits, or is seen by the
    // cascade) and their lifecycle read: a deleted entity stays deleted.
    std::set<std::pair<EntityType, std::string_view>> deleted;
    {
      std::vector<EntityRef> refs;
      std::vector<std::size_t> first_event;  // of each ref
      std::set<std::pair<EntityType, std::string_view>> seen;
      for (std::size_t i : pending) {
        if (seen.emplace(*events[i]->supported_type, events[i]->entity_id).second) {
          refs.push_back(EntityRef{events[i]->entity_id, *events[i]->supported_type});
          first_event.push_back(i);
        }
      }
      tx.lock_entities(refs);
      const auto states = tx.entity_states(refs);
      for (std::size_t r = 0; r < refs.size(); ++r) {
        if (states[r] == store::EntityState::deleted) {
          deleted.emplace(refs[r].type, std::string_view(events[first_event[r]]->entity_id));
        }
      }
    }

    // Applied in rounds in which each entity appears once (its first event
    // still pending), so two events of one entity apply one after the other.
    std::vector<OutboxMessage> outbox;
    std::vector<store::EntityTransition> transitions;
    while (!pending.empty()) {
      std::vector<std::size_t> round, later;
      std::set<std::pair<EntityType, std::string_view>> entities;
      for (std::size_t i : pending) {
        const std::pair<EntityType, std::string_view> key(*events[i]->supported_type, events[i]->entity_id);
        const bool first = entities.emplace(key).second;
        if (first && events[i]->action != kActionEntityDeleted && deleted.contains(key)) {
          results[i].outcome = EventOutcome::entity_deleted;  // final: nothing changes
          continue;
        }
        (first ? round : later).push_back(i);
      }
      for (std::size_t i : round) {
        const auto* action = find_entity_action(events[i]->action);
        const EntityRef ref{events[i]->entity_id, *events[i]->supported_type};
        transitions.push_back({ref, action->leaves, events[i]->event_id, now});
        if (action->leaves == store::EntityState::deleted) deleted.emplace(ref.type, events[i]->entity_id);
      }
      // One set-based statement per action.
      for (const auto& action : entity_actions()) {
        std::vector<std::size_t> members;
        std::vector<EntityRef> refs;
        for (std::size_t i : round) {
          if (events[i]->action != action.action) continue;
          members.push_back(i);
          refs.push_back(EntityRef{events[i]->entity_id, *events[i]->supported_type});
        }
        if (members.empty()) continue;
        // In slices of kCascadeSlice documents, each with its outbox rows, so
        // a huge entity never sits in memory whole.
        for (bool more = true; more;) {
          const auto changed = action.apply(tx, refs, action.reason, now, kCascadeSlice);
          more = changed.size() == kCascadeSlice;
          // Grouped by entity in the order given: each member takes its run.
          auto begin = changed.begin();
          for (std::size_t m = 0; m < members.size() && begin != changed.end(); ++m) {
            auto end = std::find_if(begin, changed.end(), [&](const Document& d) { return !(d.entity == refs[m]); });
            results[members[m]].documents_changed += static_cast<std::size_t>(end - begin);
            add_events(std::span(begin, end),
                       DocumentChange{action.emits, action.reason, Actor::system(), now, refs[m],
                                      events[members[m]]->event_id,
                                      events[members[m]]->trace ? &*events[members[m]]->trace : nullptr},
                       outbox);
            begin = end;
          }
          tx.append_outbox(outbox);
          outbox.clear();
        }
      }
      tx.record_entity_transitions(transitions);
      transitions.clear();
      pending = std::move(later);
    }
    return results;
  });
}

void DocumentService::check_database() { store_.ping(); }

bool DocumentService::record_rejected_message(const store::RejectedMessage& message) {
  return store::write(store_, [&](store::Transaction& tx) { return tx.record_rejected_message(message); });
}

void DocumentService::read_content(const Document& document, std::uint64_t offset, std::uint64_t length,
                                   const std::function<bool(std::string_view)>& sink) {
  blobs_.read(document.sha256, offset, length, sink);
}

std::optional<std::string> DocumentService::content_url(const Document& document, std::chrono::seconds expires,
                                                        std::string_view content_disposition) {
  return blobs_.download_url(document.sha256, {expires, document.content_type, std::string(content_disposition)});
}

}  // namespace docvault::service
