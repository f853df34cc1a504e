// The relay's publishers over AWS, through a fake transport: what an outbox
// row's attributes become on the wire. On SQS a row's traceparent also goes
// as the AWSTraceHeader system attribute, which X-Ray reads (the local
// emulator keeps no system attributes, so this is checked here, on the
// request).
#include "outbox/aws_publisher.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fake_transport.h"

namespace docvault::outbox {
namespace {

using aws::testing::fake_options;
using aws::testing::FakeTransport;
using nlohmann::json;

constexpr const char* kQueueUrl = "http://sqs.us-east-1.localhost:4566/000000000000/document-events";

PublishEntry entry(aws::MessageAttributes attributes) {
  return PublishEntry{R"({"event_type":"document.archived"})", std::move(attributes), "issuer-1", "event-1"};
}

// One call to the queue, answered without an error.
void publish(Publisher& publisher, std::vector<PublishEntry>& entries) {
  auto calls = publisher.concurrent();
  calls->start(0, kQueueUrl, entries, {});
  auto done = calls->wait();
  ASSERT_EQ(done.size(), 1u);
  ASSERT_FALSE(done.front().error);
}

TEST(SqsPublisher, ARowsTraceparentAlsoGoesAsTheAwsTraceHeader) {
  auto transport = std::make_shared<FakeTransport>();
  transport->respond(200, R"({"Successful":[{"Id":"0","MessageId":"m","MD5OfMessageBody":"x"}],"Failed":[]})");
  aws::SqsClient sqs(fake_options(transport));
  SqsPublisher publisher(sqs);
  aws::MessageAttributes attributes;
  attributes["traceparent"] = {"String", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""};
  std::vector<PublishEntry> entries{entry(attributes)};
  publish(publisher, entries);

  ASSERT_EQ(transport->requests.size(), 1u);
  const auto sent = json::parse(transport->requests[0].body)["Entries"][0];
  EXPECT_EQ(sent["MessageAttributes"]["traceparent"]["StringValue"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(sent["MessageSystemAttributes"]["AWSTraceHeader"]["DataType"], "String");
  EXPECT_EQ(sent["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"],
            "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1");
}

TEST(SqsPublisher, ARowWithoutATraceSendsNoSystemAttribute) {
  auto transport = std::make_shared<FakeTransport>();
  transport->respond(200, R"({"Successful":[{"Id":"0","MessageId":"m","MD5OfMessageBody":"x"}],"Failed":[]})");
  aws::SqsClient sqs(fake_options(transport));
  SqsPublisher publisher(sqs);
  aws::MessageAttributes malformed;
  malformed["traceparent"] = {"String", "not-a-traceparent", ""};
  std::vector<PublishEntry> entries{entry({}), entry(malformed)};
  publish(publisher, entries);
  for (const auto& sent : json::parse(transport->requests[0].body)["Entries"]) {
    EXPECT_FALSE(sent.contains("MessageSystemAttributes")) << sent.dump();
  }
}

}  // namespace
}  // namespace docvault::outbox
