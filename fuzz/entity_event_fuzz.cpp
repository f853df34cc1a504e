// Fuzzes the entity-events parser with SQS message bodies: SNS envelopes and
// raw deliveries, as the consumer hands them to parse_entity_event.
//
// Beyond "no crash, leak or UB", it checks what the parser promises: an
// accepted event has five non-empty printable fields within their column
// widths and the SHA-256 of its canonical form, and the same event wrapped in
// an SNS envelope parses to the same canonical hash; a refusal names a field.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "domain/entity_event.h"
#include "fuzz_check.h"

using docvault::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto event = docvault::parse_entity_event(body);
  if (!event) {
    check(!event.error().field.empty() && !event.error().message.empty());
    return 0;
  }
  check(!event->event_id.empty() && event->event_id.size() <= 255);
  check(!event->source.empty() && event->source.size() <= 128);
  check(!event->action.empty() && event->action.size() <= 128);
  check(!event->entity_id.empty() && event->entity_id.size() <= 255);
  check(!event->entity_type.empty() && event->entity_type.size() <= 64);
  check(event->canonical_sha256.size() == 64);
  check(!event->supported_type || event->entity_type.size() <= 16);

  auto top = nlohmann::json::parse(body, nullptr, false);
  if (top.is_object() && !top.contains("Type")) {
    // A raw delivery: the same event in an envelope is the same event.
    nlohmann::json envelope = {{"Type", "Notification"},
                               {"MessageId", "fuzz"},
                               {"Message", std::string(body)}};
    auto wrapped = docvault::parse_entity_event(
        envelope.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    check(wrapped.ok());
    check(wrapped->canonical_sha256 == event->canonical_sha256);
    check(wrapped->event_id == event->event_id);
  }
  return 0;
}
