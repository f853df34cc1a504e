#include "domain/entity_event.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace docvault {
namespace {

const std::string kSpecEvent =
    R"({"event_id":"a1b2c3d4-5678-90ab-cdef-1234567890ab","source":"entity_permissions_core",)"
    R"("action":"entity.deleted","entity_id":"f47ac10b-58cc-4372-a567-0e02b2c3d479","entity_type":"issuer"})";

std::string envelope(const std::string& message) {
  return nlohmann::json{{"Type", "Notification"},
                        {"MessageId", "9ae4996a"},
                        {"TopicArn", "arn:aws:sns:us-east-1:000000000000:epr-document-events"},
                        {"Message", message},
                        {"Timestamp", "2026-11-29T11:37:14.809Z"}}
      .dump();
}

TEST(EntityEvent, ParsesRawDelivery) {
  auto event = parse_entity_event(kSpecEvent);
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(event->event_id, "a1b2c3d4-5678-90ab-cdef-1234567890ab");
  EXPECT_EQ(event->source, "entity_permissions_core");
  EXPECT_EQ(event->action, kActionEntityDeleted);
  EXPECT_EQ(event->entity_id, "f47ac10b-58cc-4372-a567-0e02b2c3d479");
  EXPECT_EQ(event->supported_type, EntityType::issuer);
  EXPECT_FALSE(event->topic_arn);
}

TEST(EntityEvent, UnwrapsSnsEnvelope) {
  auto event = parse_entity_event(envelope(kSpecEvent));
  ASSERT_TRUE(event) << event.error().message;
  EXPECT_EQ(event->entity_type, "issuer");
  EXPECT_EQ(event->topic_arn, "arn:aws:sns:us-east-1:000000000000:epr-document-events");
  EXPECT_EQ(event->sns_message_id, "9ae4996a");
}

TEST(EntityEvent, UnsupportedEntityTypeIsNotAnError) {
  auto body = nlohmann::json::parse(kSpecEvent);
  body["entity_type"] = "fund";
  auto event = parse_entity_event(body.dump());
  ASSERT_TRUE(event);
  EXPECT_EQ(event->entity_type, "fund");
  EXPECT_FALSE(event->supported_type);
}

TEST(EntityEvent, PoisonMessagesNameWhatIsWrong) {
  auto with = [](const char* key, nlohmann::json value) {
    auto body = nlohmann::json::parse(kSpecEvent);
    if (value.is_discarded()) {
      body.erase(key);
    } else {
      body[key] = std::move(value);
    }
    return body.dump();
  };
  const std::pair<std::string, std::string> cases[] = {
      {"", "body"},
      {"not json", "body"},
      {"[1,2]", "body"},
      {std::string("{\"event_id\":\"\xff\"}"), "body"},  // invalid UTF-8
      {R"({"Type":"SubscriptionConfirmation","Message":"{}"})", "Type"},
      {R"({"Type":"Notification"})", "Message"},
      {R"({"Type":"Notification","Message":"not json"})", "Message"},
      {with("event_id", nlohmann::json::value_t::discarded), "event_id"},
      {with("event_id", 42), "event_id"},
      {with("source", ""), "source"},
      {with("action", nullptr), "action"},
      {with("entity_id", std::string(256, 'x')), "entity_id"},
      {with("entity_type", std::string(65, 'x')), "entity_type"},
      {with("entity_id", "a\nb"), "entity_id"},
      {envelope(with("entity_type", nlohmann::json::value_t::discarded)), "entity_type"},
  };
  for (const auto& [body, field] : cases) {
    auto event = parse_entity_event(body);
    ASSERT_FALSE(event) << body;
    EXPECT_EQ(event.error().field, field) << body;
  }
}

TEST(EntityEvent, CanonicalHashIgnoresEnvelopeAndKeyOrder) {
  auto raw = parse_entity_event(kSpecEvent);
  auto wrapped = parse_entity_event(envelope(kSpecEvent));
  auto reordered = parse_entity_event(
      R"({"entity_type":"issuer","entity_id":"f47ac10b-58cc-4372-a567-0e02b2c3d479","action":"entity.deleted",)"
      R"( "source":"entity_permissions_core","event_id":"a1b2c3d4-5678-90ab-cdef-1234567890ab"})");
  ASSERT_TRUE(raw && wrapped && reordered);
  EXPECT_EQ(raw->canonical_sha256.size(), 64u);
  EXPECT_EQ(raw->canonical_sha256, wrapped->canonical_sha256);
  EXPECT_EQ(raw->canonical_sha256, reordered->canonical_sha256);
  auto other = nlohmann::json::parse(kSpecEvent);
  other["entity_id"] = "someone-else";
  EXPECT_NE(parse_entity_event(other.dump())->canonical_sha256, raw->canonical_sha256);
}

TEST(EntityEvent, AcceptsMaximumWidths) {
  auto body = nlohmann::json::parse(kSpecEvent);
  body["event_id"] = std::string(255, 'e');
  body["entity_id"] = std::string(255, 'i');
  body["source"] = std::string(128, 's');
  EXPECT_TRUE(parse_entity_event(body.dump()));
}

// Found while writing the fuzz target: the canonical hash dumps the event recursively, so a
// message of an SQS body's size nested "[[[[..." overflowed the stack.
TEST(EntityEvent, RefusesDeepNestingInsteadOfOverflowingTheStack) {
  auto nested = [](int depth) {
    std::string body = kSpecEvent;
    body.pop_back();
    return body + R"(,"extra":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  EXPECT_TRUE(parse_entity_event(nested(40)));
  auto raw = parse_entity_event(nested(130'000));  // 260 KB, under SQS's 256 KiB limit
  ASSERT_FALSE(raw);
  EXPECT_EQ(raw.error().field, "body");
  auto wrapped = parse_entity_event(envelope(nested(100'000)));
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().field, "Message");
}

}  // namespace
}  // namespace docvault
