// The events docvault emits, in the exact shapes of the spec.
//
// Every change to a document produces two messages: an audit event for the
// audit SNS topic and a document event for the document-events SQS queue. They
// are not sent here: the service writes them to the outbox in the transaction
// that made the change, and the relay publishes them afterwards.
//
// Event ids are name-based (UUIDv5) over the cause of the change, the document
// and the kind of message, so a redelivered message or a replay produces the
// same ids and downstream consumers can deduplicate.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.h"
#include "domain/document.h"
#include "domain/trace.h"

namespace docvault {

inline constexpr std::string_view kEventSource = "document-vault-service";
// The version of the outgoing events' schemas (docs/schemas/), sent as the
// schema_version message attribute. Additive changes keep it; anything else
// bumps it.
inline constexpr std::string_view kEventSchemaVersion = "1";
inline constexpr std::string_view kActionDocumentCreated = "document.created";
inline constexpr std::string_view kActionDocumentArchived = "document.archived";
inline constexpr std::string_view kActionDocumentSuspended = "document.suspended";
inline constexpr std::string_view kActionDocumentReinstated = "document.reinstated";
inline constexpr std::string_view kReasonUploaded = "uploaded";

// Logical destinations; the relay maps them to the configured topic and queue,
// so a row written before a reconfiguration still reaches the current target.
inline constexpr std::string_view kAuditTarget = "audit";
inline constexpr std::string_view kDocumentEventsTarget = "document_events";

enum class Destination { sns, sqs };
std::string_view to_string(Destination destination);

// Who caused a change. The consumer acts as {null, "system"}; API callers
// appear as {sub, "user"|"service"} once authentication is on, and as
// {null, "anonymous"} while it is disabled.
struct Actor {
  std::optional<std::string> id;
  std::string type;
  static Actor system() { return {std::nullopt, "system"}; }
  static Actor anonymous() { return {std::nullopt, "anonymous"}; }
};

// One change to one document, as the events describe it.
struct DocumentChange {
  std::string_view action;       // kActionDocumentCreated / kActionDocumentArchived
  std::string_view reason;       // entity_deleted, manual, uploaded
  Actor actor;
  Timestamp occurred_at;
  EntityRef source_entity;       // the entity whose event or request caused it
  std::string cause;             // incoming event_id, or "api" for API requests
  // The work's trace (domain/trace.h): its traceparent and tracestate go out
  // as message attributes of both events. Unset: none.
  const Trace* trace = nullptr;
};

struct OutboxMessage {
  std::string event_id;
  Destination destination;
  std::string target;
  std::string ordering_key;      // the document's entity id: per-entity order
  std::string payload;           // JSON text, published byte for byte
  std::string attributes;        // JSON object of string message attributes
  Timestamp created_at;
  bool operator==(const OutboxMessage&) const = default;
};

// The audit event and the document event for one change, in that order.
std::vector<OutboxMessage> document_change_events(const Document& document,
                                                  const DocumentChange& change);

// The deterministic id of one outgoing message.
std::string outgoing_event_id(std::string_view cause, std::string_view document_id,
                              std::string_view action, Destination destination);

}  // namespace docvault
