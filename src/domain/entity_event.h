// The incoming event contract: what the EPR service announces when an entity
// changes, as it arrives from SQS.
//
// A message body is either an SNS notification envelope ({"Type":
// "Notification", "Message": "<event JSON>", ...}) or, with raw message
// delivery, the event JSON itself. The event has five string fields, each
// present, non-empty and within the width of its processed_events column.
// An entity_type outside the five supported ones is NOT a validation error:
// the spec has such events logged and marked processed, so the parsed event
// carries the type as text and, when supported, as an EntityType.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "domain/entity.h"
#include "domain/result.h"
#include "domain/trace.h"

namespace docvault {

inline constexpr std::string_view kActionEntityDeleted = "entity.deleted";
inline constexpr std::string_view kActionEntitySuspended = "entity.suspended";
inline constexpr std::string_view kActionEntityReinstated = "entity.reinstated";

struct EntityEvent {
  std::string event_id;
  std::string source;
  std::string action;
  std::string entity_id;
  std::string entity_type;
  std::optional<EntityType> supported_type;  // set when entity_type is one of the five
  // SHA-256 (hex) of the event object in canonical form (keys sorted, no
  // whitespace): equal for redeliveries, whatever envelope carried them.
  std::string canonical_sha256;

  // From the SNS envelope, when there was one.
  std::optional<std::string> topic_arn;
  std::optional<std::string> sns_message_id;
  // The envelope's String MessageAttributes traceparent and tracestate (what
  // the publisher sent to SNS, when the subscription is not raw).
  std::optional<std::string> envelope_traceparent;
  std::optional<std::string> envelope_tracestate;

  // The trace the work on this event belongs to (domain/trace.h): set by the
  // consumer from the message, or a new one. Not part of the event's contract.
  std::optional<Trace> trace;
};

// Parses and validates a message body. The error's field is "body" for text
// that is not a JSON object, "Message"/"Type" for a broken envelope, or the
// name of the event field at fault.
Validated<EntityEvent> parse_entity_event(std::string_view body);

}  // namespace docvault
