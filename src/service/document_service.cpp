#include "service/document_service.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <span>
#include <stdexcept>

#include "crypto/crypto.h"
#include "domain/uuid.h"

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
                                 std::vector<std::string> active_actions)
    : store_(store), blobs_(blobs), clock_(clock), active_actions_(std::move(active_actions)) {}

Validated<Document> DocumentService::create(const DocumentUpload& upload, std::string_view content,
                                            const Actor& actor) {
  auto validated = validate_upload(upload);
  if (!validated) return validated.error();
  // The blob goes first: a row must never point at missing content.
  return record_created(validated.value(), blobs_.put(content), actor);
}

std::unique_ptr<blob::BlobWriter> DocumentService::begin_content() { return blobs_.writer(); }

Validated<Document> DocumentService::create_streamed(const DocumentUpload& upload,
                                                     std::unique_ptr<blob::BlobWriter> content, const Actor& actor) {
  auto validated = validate_upload(upload);
  if (!validated) return validated.error();
  return record_created(validated.value(), content->commit(), actor);
}

Document DocumentService::record_created(const NewDocument& meta, const blob::BlobInfo& blob, const Actor& actor) {
  const Timestamp now = clock_.now();
  Document document{DocumentId::generate().str(), meta.entity, meta.document_type, meta.filename,
                    meta.content_type, blob.size, blob.sha256, DocumentStatus::active,
                    std::nullopt, std::nullopt, std::nullopt, now, now};
  auto events = document_change_events(
      document, DocumentChange{kActionDocumentCreated, kReasonUploaded, actor, now, document.entity, "api"});
  store::write(store_, [&](store::Transaction& tx) {
    tx.insert_document(document);
    tx.append_outbox(events);
  });
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
    std::size_t limit = 0;
    const auto& text = *query.limit;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > kMaxPageSize) {
      return FieldError{"limit", "must be a whole number from 1 to 200"};
    }
    filter.limit = limit;
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
        *archived, DocumentChange{kActionDocumentArchived, kReasonManual, actor, now, archived->entity, "api"}));
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
  auto archived = tx.archive_entity_documents(entity, reason, at);
  std::vector<OutboxMessage> events;
  add_events(archived, DocumentChange{kActionDocumentArchived, reason, actor, at, entity, std::string(cause)}, events);
  tx.append_outbox(events);
  return archived;
}

const std::vector<EntityAction>& entity_actions() {
  static const std::vector<EntityAction> kActions = {
      {kActionEntityDeleted, kActionDocumentArchived, kReasonEntityDeleted,
       [](store::Transaction& tx, std::span<const EntityRef> e, std::string_view reason, Timestamp at,
          std::size_t limit) { return tx.archive_entity_documents(e, reason, at, limit); }},
      {kActionEntitySuspended, kActionDocumentSuspended, kReasonEntitySuspended,
       [](store::Transaction& tx, std::span<const EntityRef> e, std::string_view, Timestamp at, std::size_t limit) {
         return tx.suspend_entity_documents(e, at, limit);
       }},
      {kActionEntityReinstated, kActionDocumentReinstated, kReasonEntityReinstated,
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

    // Applied in rounds in which each entity appears once (its first event
    // still pending), so two events of one entity apply one after the other.
    std::vector<OutboxMessage> outbox;
    while (!pending.empty()) {
      std::vector<std::size_t> round, later;
      std::set<std::pair<EntityType, std::string_view>> entities;
      for (std::size_t i : pending) {
        const bool first = entities.emplace(*events[i]->supported_type, events[i]->entity_id).second;
        (first ? round : later).push_back(i);
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
                                      events[members[m]]->event_id},
                       outbox);
            begin = end;
          }
          tx.append_outbox(outbox);
          outbox.clear();
        }
      }
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
