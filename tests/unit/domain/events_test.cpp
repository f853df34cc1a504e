#include "domain/events.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "event_schemas.h"

namespace docvault {
namespace {

Document sample_document() {
  Document d;
  d.id = "0b7e3c1e-2b8f-4d4a-9a57-1c2d3e4f5a6b";
  d.entity = EntityRef{"f47ac10b-58cc-4372-a567-0e02b2c3d479", EntityType::issuer};
  d.document_type = "prospectus";
  d.filename = "p.pdf";
  d.content_type = "application/pdf";
  d.size_bytes = 3;
  d.sha256 = std::string(64, 'a');
  d.created_at = *parse_timestamp("2025-10-23T12:00:00.000Z");
  d.updated_at = d.created_at;
  return d;
}

TEST(Events, CascadeArchiveProducesTheSpecShapes) {
  auto at = *parse_timestamp("2025-10-23T12:34:56.789Z");
  auto doc = sample_document();
  auto messages = document_change_events(
      doc, DocumentChange{kActionDocumentArchived, kReasonEntityDeleted, Actor::system(), at, doc.entity,
                          "a1b2c3d4-5678-90ab-cdef-1234567890ab"});
  ASSERT_EQ(messages.size(), 2u);

  const auto& audit = messages[0];
  EXPECT_EQ(audit.destination, Destination::sns);
  EXPECT_EQ(audit.target, "audit");
  EXPECT_EQ(audit.ordering_key, doc.entity.id);
  // Exactly the spec's audit event, key order included.
  EXPECT_EQ(audit.payload,
            R"({"event_id":")" + audit.event_id +
                R"(","source":"document-vault-service","action":"document.archived","actor_id":null,)"
                R"("actor_type":"system","entity_id":"0b7e3c1e-2b8f-4d4a-9a57-1c2d3e4f5a6b","entity_type":"document",)"
                R"("details":{"archived_at":"2025-10-23T12:34:56.789Z","reason":"entity_deleted",)"
                R"("source_entity_id":"f47ac10b-58cc-4372-a567-0e02b2c3d479","source_entity_type":"issuer"},)"
                R"("occurred_at":"2025-10-23T12:34:56.789Z"})");

  const auto& document_event = messages[1];
  EXPECT_EQ(document_event.destination, Destination::sqs);
  EXPECT_EQ(document_event.target, "document_events");
  EXPECT_EQ(document_event.payload,
            R"({"event_type":"document.archived","occurred_at":"2025-10-23T12:34:56.789Z",)"
            R"("payload":{"document_id":"0b7e3c1e-2b8f-4d4a-9a57-1c2d3e4f5a6b",)"
            R"("entity_id":"f47ac10b-58cc-4372-a567-0e02b2c3d479","entity_type":"issuer","reason":"entity_deleted"}})");

  auto attributes = nlohmann::json::parse(document_event.attributes);
  EXPECT_EQ(attributes["event_type"], "document.archived");
  EXPECT_EQ(attributes["entity_type"], "issuer");
  EXPECT_EQ(attributes["event_id"], document_event.event_id);
}

TEST(Events, IdsAreDeterministicPerCauseDocumentAndKind) {
  auto at = *parse_timestamp("2025-10-23T12:34:56.789Z");
  auto doc = sample_document();
  DocumentChange change{kActionDocumentArchived, kReasonEntityDeleted, Actor::system(), at, doc.entity, "evt-1"};
  auto first = document_change_events(doc, change);
  change.occurred_at = at + std::chrono::seconds(5);  // a redelivery, later
  auto again = document_change_events(doc, change);
  EXPECT_EQ(first[0].event_id, again[0].event_id);
  EXPECT_EQ(first[1].event_id, again[1].event_id);
  EXPECT_NE(first[0].event_id, first[1].event_id);

  change.cause = "evt-2";
  EXPECT_NE(document_change_events(doc, change)[0].event_id, first[0].event_id);
  doc.id = "1b7e3c1e-2b8f-4d4a-9a57-1c2d3e4f5a6b";
  change.cause = "evt-1";
  EXPECT_NE(document_change_events(doc, change)[0].event_id, first[0].event_id);
}

TEST(Events, CreatedEventCarriesContentFacts) {
  auto doc = sample_document();
  auto messages = document_change_events(
      doc, DocumentChange{kActionDocumentCreated, kReasonUploaded, Actor::anonymous(), doc.created_at, doc.entity, "api"});
  auto audit = nlohmann::json::parse(messages[0].payload);
  EXPECT_EQ(audit["action"], "document.created");
  EXPECT_EQ(audit["actor_type"], "anonymous");
  EXPECT_EQ(audit["details"]["created_at"], "2025-10-23T12:00:00.000Z");
  EXPECT_EQ(audit["details"]["sha256"], doc.sha256);
  EXPECT_EQ(audit["details"]["size_bytes"], 3);
  auto event = nlohmann::json::parse(messages[1].payload);
  EXPECT_EQ(event["event_type"], "document.created");
  EXPECT_EQ(event["payload"]["reason"], "uploaded");
}

TEST(Events, PayloadsAreExactlyWhatAJsonLibraryWouldWrite) {
  // Written directly, not through a JSON tree: they must still be byte for
  // byte what nlohmann::ordered_json::dump() makes of the same values,
  // escapes included, for every string an upload or an event may carry.
  auto doc = sample_document();
  std::string hostile = "q\"b\\s/\b\f\n\r\t";
  for (char c = 1; c < 0x20; ++c) hostile += c;
  hostile += "\x7f caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x84 '%_";
  doc.document_type = hostile;
  doc.content_type = hostile;
  doc.entity.id = "entity " + hostile;
  doc.size_bytes = 18446744073709551615ull;
  for (const auto& actor : {Actor::system(), Actor{std::string("user ") + hostile, "user"}}) {
    for (auto action : {kActionDocumentCreated, kActionDocumentArchived, kActionDocumentSuspended}) {
      auto messages = document_change_events(
          doc, DocumentChange{action, hostile, actor, doc.created_at, doc.entity, "cause " + hostile});
      for (const auto& m : messages) {
        EXPECT_EQ(nlohmann::ordered_json::parse(m.payload).dump(), m.payload);
        EXPECT_EQ(nlohmann::ordered_json::parse(m.attributes).dump(), m.attributes);
      }
      EXPECT_EQ(nlohmann::json::parse(messages[0].payload)["details"]["reason"], hostile);
      EXPECT_EQ(nlohmann::json::parse(messages[1].payload)["payload"]["entity_id"], doc.entity.id);
    }
  }
}

// Every kind of change, from the system and from API callers, gives events
// that satisfy the published schemas (docs/schemas), and both carry the
// schema version as a message attribute.
TEST(Events, EveryKindOfEventSatisfiesItsPublishedSchema) {
  auto doc = sample_document();
  const std::pair<std::string_view, std::string_view> changes[] = {
      {kActionDocumentCreated, kReasonUploaded},          {kActionDocumentArchived, kReasonManual},
      {kActionDocumentArchived, kReasonEntityDeleted},    {kActionDocumentSuspended, kReasonEntitySuspended},
      {kActionDocumentReinstated, kReasonEntityReinstated}};
  for (const auto& actor : {Actor::system(), Actor::anonymous(), Actor{std::string("user-1"), "user"},
                            Actor{std::string("svc-1"), "service"}}) {
    for (auto [action, reason] : changes) {
      auto messages = document_change_events(doc, DocumentChange{action, reason, actor, doc.created_at, doc.entity, "c"});
      EXPECT_MATCHES_SCHEMA(testing::EventSchema::audit_event, messages[0].payload);
      EXPECT_MATCHES_SCHEMA(testing::EventSchema::document_event, messages[1].payload);
      for (const auto& m : messages) EXPECT_EQ(nlohmann::json::parse(m.attributes)["schema_version"], "1");
    }
  }
  // The schemas are not vacuous: a payload missing a field or with a wrong
  // value fails.
  auto messages = document_change_events(
      doc, DocumentChange{kActionDocumentArchived, kReasonManual, Actor::system(), doc.created_at, doc.entity, "c"});
  auto audit = nlohmann::json::parse(messages[0].payload);
  audit.erase("occurred_at");
  EXPECT_NE(testing::schema_violations(testing::EventSchema::audit_event, audit.dump()), "");
  auto event = nlohmann::json::parse(messages[1].payload);
  event["payload"]["entity_type"] = "fund";
  EXPECT_NE(testing::schema_violations(testing::EventSchema::document_event, event.dump()), "");
  EXPECT_NE(testing::schema_violations(testing::EventSchema::entity_event, R"({"event_id":"e"})"), "");
}

}  // namespace
}  // namespace docvault
