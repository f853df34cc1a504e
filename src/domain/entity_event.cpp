#include "domain/entity_event.h"

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"

namespace docvault {
namespace {

using nlohmann::json;

struct FieldRule {
  const char* name;
  std::size_t max_length;  // the processed_events column width
  std::string EntityEvent::*member;
};

constexpr FieldRule kFields[] = {
    {"event_id", 255, &EntityEvent::event_id},   {"source", 128, &EntityEvent::source},
    {"action", 128, &EntityEvent::action},       {"entity_id", 255, &EntityEvent::entity_id},
    {"entity_type", 64, &EntityEvent::entity_type},
};

// An event is flat; nothing legitimate nests deeper than this. Found while
// writing the fuzz target: json::dump() (the canonical hash) recurses once
// per level, so a body of SQS's largest size made of "[[[[..." overflowed the
// worker's stack and crashed the process on every redelivery. Deeper input
// is refused as not an object.
constexpr int kMaxNesting = 64;

std::optional<json> parse_object(std::string_view text) {
  bool too_deep = false;
  auto value = json::parse(
      text.begin(), text.end(),
      [&too_deep](int depth, json::parse_event_t, json&) {
        too_deep = too_deep || depth > kMaxNesting;
        return !too_deep;
      },
      /*allow_exceptions=*/false);
  if (too_deep || value.is_discarded() || !value.is_object()) return std::nullopt;
  return value;
}

std::optional<std::string> optional_string(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

Validated<EntityEvent> parse_entity_event(std::string_view body) {
  auto outer = parse_object(body);
  if (!outer) return FieldError{"body", "is not a JSON object nested at most 64 levels deep"};

  EntityEvent event;
  json inner;
  if (outer->contains("Type")) {
    auto type = optional_string(*outer, "Type");
    if (type != "Notification") return FieldError{"Type", "is not an SNS Notification"};
    auto message = optional_string(*outer, "Message");
    if (!message) return FieldError{"Message", "is missing or not a string"};
    auto parsed = parse_object(*message);
    if (!parsed) return FieldError{"Message", "is not a JSON object nested at most 64 levels deep"};
    inner = std::move(*parsed);
    event.topic_arn = optional_string(*outer, "TopicArn");
    event.sns_message_id = optional_string(*outer, "MessageId");
    // {"MessageAttributes": {"traceparent": {"Type": "String", "Value": "00-…"}}}
    if (auto attributes = outer->find("MessageAttributes"); attributes != outer->end() && attributes->is_object()) {
      auto attribute = [&](const char* name) -> std::optional<std::string> {
        auto it = attributes->find(name);
        if (it == attributes->end() || !it->is_object()) return std::nullopt;
        return optional_string(*it, "Value");
      };
      event.envelope_traceparent = attribute("traceparent");
      event.envelope_tracestate = attribute("tracestate");
    }
  } else {
    inner = std::move(*outer);
  }

  for (const auto& rule : kFields) {
    auto it = inner.find(rule.name);
    if (it == inner.end()) return FieldError{rule.name, "is required"};
    if (!it->is_string()) return FieldError{rule.name, "must be a string"};
    auto value = it->get<std::string>();
    if (value.empty()) return FieldError{rule.name, "must not be empty"};
    if (value.size() > rule.max_length) {
      return FieldError{rule.name, "must be at most " + std::to_string(rule.max_length) + " bytes"};
    }
    if (!is_printable_utf8(value)) return FieldError{rule.name, "must not contain control characters"};
    event.*rule.member = std::move(value);
  }
  event.supported_type = parse_entity_type(event.entity_type);
  // nlohmann::json keeps object keys sorted, so dump() is canonical.
  event.canonical_sha256 = crypto::sha256_hex(inner.dump());
  return event;
}

}  // namespace docvault
