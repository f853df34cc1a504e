#include "domain/events.h"

#include <nlohmann/json.hpp>

#include "domain/uuid.h"

namespace docvault {

using OrderedJson = nlohmann::ordered_json;

std::string_view to_string(Destination destination) {
  return destination == Destination::sns ? "sns" : "sqs";
}

std::string outgoing_event_id(std::string_view cause, std::string_view document_id,
                              std::string_view action, Destination destination) {
  std::string name;
  name.reserve(cause.size() + document_id.size() + action.size() + 8);
  name.append(cause).append("|").append(document_id).append("|").append(action).append("|");
  name.append(to_string(destination));
  return uuid_v5(kDocvaultUuidNamespace, name);
}

std::vector<OutboxMessage> document_change_events(const Document& document,
                                                  const DocumentChange& change) {
  const std::string at = format_timestamp(change.occurred_at);
  const std::string source_type(to_string(change.source_entity.type));

  OrderedJson details = OrderedJson::object();
  // "document.archived" -> "archived_at", as the spec names the archive's time.
  const auto verb = change.action.substr(change.action.find('.') + 1);
  details[std::string(verb) + "_at"] = at;
  details["reason"] = change.reason;
  details["source_entity_id"] = change.source_entity.id;
  details["source_entity_type"] = source_type;
  if (change.action == kActionDocumentCreated) {
    details["document_type"] = document.document_type;
    details["content_type"] = document.content_type;
    details["size_bytes"] = document.size_bytes;
    details["sha256"] = document.sha256;
  }

  const std::string audit_id =
      outgoing_event_id(change.cause, document.id, change.action, Destination::sns);
  OrderedJson audit = {
      {"event_id", audit_id},
      {"source", kEventSource},
      {"action", change.action},
      {"actor_id", change.actor.id ? OrderedJson(*change.actor.id) : OrderedJson(nullptr)},
      {"actor_type", change.actor.type},
      {"entity_id", document.id},
      {"entity_type", "document"},
      {"details", std::move(details)},
      {"occurred_at", at},
  };

  OrderedJson document_event = {
      {"event_type", change.action},
      {"occurred_at", at},
      {"payload",
       {{"document_id", document.id},
        {"entity_id", document.entity.id},
        {"entity_type", to_string(document.entity.type)},
        {"reason", change.reason}}},
  };

  const std::string document_event_id =
      outgoing_event_id(change.cause, document.id, change.action, Destination::sqs);
  std::vector<OutboxMessage> out;
  out.reserve(2);
  out.push_back(OutboxMessage{
      audit_id, Destination::sns, std::string(kAuditTarget), document.entity.id, audit.dump(),
      OrderedJson{{"action", change.action}, {"entity_type", source_type}, {"event_id", audit_id}}
          .dump(),
      change.occurred_at});
  out.push_back(OutboxMessage{
      document_event_id, Destination::sqs, std::string(kDocumentEventsTarget), document.entity.id,
      document_event.dump(),
      OrderedJson{{"event_type", change.action},
                  {"entity_type", to_string(document.entity.type)},
                  {"event_id", document_event_id}}
          .dump(),
      change.occurred_at});
  return out;
}

}  // namespace docvault
