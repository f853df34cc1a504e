#include "domain/events.h"

#include <cstdint>
#include <optional>
#include <string>

#include "domain/uuid.h"
#include "json/json_writer.h"

namespace docvault {

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

// The outgoing payloads are written directly (json/json_writer.h), in the
// exact form nlohmann::ordered_json::dump() gives (keys in this order): one
// string per payload, no JSON tree.
std::vector<OutboxMessage> document_change_events(const Document& document,
                                                  const DocumentChange& change) {
  const std::string at = format_timestamp(change.occurred_at);
  const std::string_view source_type = to_string(change.source_entity.type);
  const std::string_view entity_type = to_string(document.entity.type);
  // "document.archived" -> "archived_at", as the spec names the archive's time.
  const std::string time_key = std::string(change.action.substr(change.action.find('.') + 1)) + "_at";

  const std::string audit_id = outgoing_event_id(change.cause, document.id, change.action, Destination::sns);
  json::JsonWriter audit(512);
  audit.open()
      .string("event_id", audit_id)
      .string("source", kEventSource)
      .string("action", change.action)
      .optional_string("actor_id", change.actor.id)
      .string("actor_type", change.actor.type)
      .string("entity_id", document.id)
      .string("entity_type", "document")
      .key("details")
      .open()
      .string(time_key, at)
      .string("reason", change.reason)
      .string("source_entity_id", change.source_entity.id)
      .string("source_entity_type", source_type);
  if (change.action == kActionDocumentCreated) {
    audit.string("document_type", document.document_type)
        .string("content_type", document.content_type)
        .number("size_bytes", document.size_bytes)
        .string("sha256", document.sha256);
  }
  audit.close().string("occurred_at", at).close();

  const std::string document_event_id =
      outgoing_event_id(change.cause, document.id, change.action, Destination::sqs);
  json::JsonWriter document_event(256);
  document_event.open()
      .string("event_type", change.action)
      .string("occurred_at", at)
      .key("payload")
      .open()
      .string("document_id", document.id)
      .string("entity_id", document.entity.id)
      .string("entity_type", entity_type)
      .string("reason", change.reason)
      .close()
      .close();

  // The trace goes on as W3C Trace Context attributes (the relay adds
  // AWSTraceHeader where SQS reads it).
  auto add_trace = [&](json::JsonWriter& attributes) {
    if (!change.trace) return;
    attributes.string("traceparent", change.trace->traceparent());
    if (!change.trace->tracestate.empty()) attributes.string("tracestate", change.trace->tracestate);
  };
  json::JsonWriter audit_attributes(256);
  audit_attributes.open()
      .string("action", change.action)
      .string("entity_type", source_type)
      .string("event_id", audit_id)
      .string("schema_version", kEventSchemaVersion);
  add_trace(audit_attributes);
  audit_attributes.close();
  json::JsonWriter document_attributes(256);
  document_attributes.open()
      .string("event_type", change.action)
      .string("entity_type", entity_type)
      .string("event_id", document_event_id)
      .string("schema_version", kEventSchemaVersion);
  add_trace(document_attributes);
  document_attributes.close();

  std::vector<OutboxMessage> out;
  out.reserve(2);
  out.push_back(OutboxMessage{audit_id, Destination::sns, std::string(kAuditTarget), document.entity.id,
                              std::move(audit).finish(), std::move(audit_attributes).finish(), change.occurred_at});
  out.push_back(OutboxMessage{document_event_id, Destination::sqs, std::string(kDocumentEventsTarget),
                              document.entity.id, std::move(document_event).finish(),
                              std::move(document_attributes).finish(), change.occurred_at});
  return out;
}

}  // namespace docvault
