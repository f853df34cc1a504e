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
};

// Parses and validates a message body. The error's field is "body" for text
// that is not a JSON object, "Message"/"Type" for a broken envelope, or the
// name of the event field at fault.
Validated<EntityEvent> parse_entity_event(std::string_view body);

}  // namespace docvault
