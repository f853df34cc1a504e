// What the black-box suites set up on the local AWS emulator and send through
// it: per-test names, a queue subscribed to a topic (as docvault's entity
// events arrive), the entity event the entity-permissions service publishes,
// and an upload over docvault's REST API. Header-only (suites that use it
// link docvault_aws, nlohmann_json and cpp-httplib).
#pragma once

#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "event_schemas.h"

namespace docvault::testing {

// A name no other test (or earlier run) uses: prefix + a random number.
inline std::string unique_name(std::string_view prefix) {
  std::random_device random;
  return std::string(prefix) + "-" + std::to_string(random());
}

// An entity event as the entity-permissions service publishes it.
inline std::string entity_event_json(const std::string& event_id, const std::string& entity_id,
                                     const std::string& entity_type = "issuer",
                                     const std::string& action = "entity.deleted") {
  auto event = nlohmann::json{{"event_id", event_id},
                              {"source", "entity_permissions_core"},
                              {"action", action},
                              {"entity_id", entity_id},
                              {"entity_type", entity_type}}
                   .dump();
  // Every well-formed event the suites send keeps to the published contract.
  EXPECT_MATCHES_SCHEMA(EventSchema::entity_event, event);
  return event;
}

// A topic and a queue subscribed to it (SNS envelopes, unless the
// subscription attributes ask for raw delivery).
struct SubscribedQueue {
  std::string topic_arn;
  std::string queue_url;
};

inline SubscribedQueue subscribed_queue(const aws::SqsClient& sqs, const aws::SnsClient& sns, const std::string& name,
                                        const std::map<std::string, std::string>& queue_attributes = {},
                                        const std::map<std::string, std::string>& subscription_attributes = {}) {
  const std::vector<std::string> arn{"QueueArn"};
  SubscribedQueue out;
  out.topic_arn = sns.create_topic(name);
  out.queue_url = sqs.create_queue(name, queue_attributes);
  sns.subscribe(out.topic_arn, "sqs", sqs.get_queue_attributes(out.queue_url, arn).at("QueueArn"),
                subscription_attributes);
  return out;
}

// Uploads `content` as a document of the entity over the REST API; returns
// its id (empty, with a test failure, when the upload is refused).
inline std::string upload_document(httplib::Client& http, const std::string& entity_id,
                                   const std::string& entity_type, const std::string& content) {
  httplib::MultipartFormDataItems items{{"file", content, "f.txt", "text/plain"},
                                        {"entity_id", entity_id, "", ""},
                                        {"entity_type", entity_type, "", ""}};
  auto res = http.Post("/v1/documents", items);
  EXPECT_TRUE(res && res->status == 201) << (res ? res->body : "no response");
  if (!res || res->status != 201) return {};
  return nlohmann::json::parse(res->body)["id"].get<std::string>();
}

}  // namespace docvault::testing
