// The SQS and SNS clients against the local emulator (scripts/local-aws):
// every call, batch partial failure, MD5 checks, long-poll cancellation, and
// a message published with the AWS CLI arriving through SNS -> SQS.
//
// Each test makes its own queues and topics with unique names and deletes
// them afterwards, so tests neither see each other's messages nor touch the
// shared topology.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <set>
#include <thread>

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "crypto/crypto.h"
#include "test_env.h"

namespace docvault::aws {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string unique_name(std::string_view prefix) {
  std::array<std::uint8_t, 6> bytes{};
  crypto::random_bytes(bytes);
  return std::string(prefix) + "-" + crypto::hex(bytes);
}

// The output of a shell command, or nullopt when it failed.
std::optional<std::string> run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), &pclose);
  if (!pipe) return std::nullopt;
  std::string out;
  std::array<char, 512> buffer{};
  while (auto n = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) out.append(buffer.data(), n);
  if (pclose(pipe.release()) != 0) return std::nullopt;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

class EmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
    endpoint_ = endpoint;
    ServiceClientOptions options;
    options.transport = std::make_shared<CurlTransport>();
    sqs_ = std::make_unique<SqsClient>(options);
    sns_ = std::make_unique<SnsClient>(options);
  }

  void TearDown() override {
    for (const auto& url : queues_) {
      try {
        sqs_->delete_queue(url);
      } catch (const AwsError&) {
        // The test may have deleted it already.
      }
    }
    for (const auto& arn : topics_) {
      try {
        sns_->delete_topic(arn);
      } catch (const AwsError&) {
      }
    }
  }

  std::string make_queue(std::map<std::string, std::string> attributes = {}) {
    auto url = sqs_->create_queue(unique_name("dv-it"), attributes);
    queues_.push_back(url);
    return url;
  }

  std::string make_topic() {
    auto arn = sns_->create_topic(unique_name("dv-it"));
    topics_.push_back(arn);
    return arn;
  }

  std::string queue_arn(const std::string& url) {
    std::vector<std::string> names{"QueueArn"};
    return sqs_->get_queue_attributes(url, names).at("QueueArn");
  }

  // Receives until `count` messages arrived or `timeout` passed.
  std::vector<ReceivedMessage> receive(const std::string& url, std::size_t count,
                                       std::chrono::seconds timeout = 10s) {
    std::vector<ReceivedMessage> all;
    auto deadline = Clock::now() + timeout;
    while (all.size() < count && Clock::now() < deadline) {
      ReceiveMessageRequest request;
      request.queue_url = url;
      request.wait_time_seconds = 1;
      for (auto& message : sqs_->receive_messages(request)) all.push_back(std::move(message));
    }
    return all;
  }

  bool queue_is_empty(const std::string& url) {
    ReceiveMessageRequest request;
    request.queue_url = url;
    request.wait_time_seconds = 1;
    if (!sqs_->receive_messages(request).empty()) return false;
    std::vector<std::string> names{"ApproximateNumberOfMessages",
                                   "ApproximateNumberOfMessagesNotVisible"};
    auto attributes = sqs_->get_queue_attributes(url, names);
    return attributes.at("ApproximateNumberOfMessages") == "0" &&
           attributes.at("ApproximateNumberOfMessagesNotVisible") == "0";
  }

  static std::vector<std::string> handles(const std::vector<ReceivedMessage>& messages) {
    std::vector<std::string> out;
    for (const auto& message : messages) out.push_back(message.receipt_handle);
    return out;
  }

  std::string endpoint_;
  std::unique_ptr<SqsClient> sqs_;
  std::unique_ptr<SnsClient> sns_;
  std::vector<std::string> queues_;
  std::vector<std::string> topics_;
};

TEST_F(EmulatorTest, SqsSendReceiveVerifyAndDeleteBatch) {
  auto url = make_queue();
  std::vector<OutgoingSqsMessage> outgoing(3);
  for (std::size_t i = 0; i < outgoing.size(); ++i) {
    outgoing[i].body = R"({"n":)" + std::to_string(i) + R"(,"text":"héllo & ünïcode"})";
    outgoing[i].attributes["event_type"] = {"String", "test.sent", ""};
  }
  auto sent = sqs_->send_message_batch(url, outgoing);
  ASSERT_TRUE(sent.all_succeeded()) << sent.failed[0].code << ": " << sent.failed[0].message;
  ASSERT_EQ(sent.successful.size(), 3u);

  auto received = receive(url, 3);
  ASSERT_EQ(received.size(), 3u);
  std::set<std::string> bodies;
  for (const auto& message : received) {
    EXPECT_FALSE(message.integrity_error.has_value()) << *message.integrity_error;
    EXPECT_EQ(message.md5_of_body, crypto::md5_hex(message.body));
    EXPECT_EQ(message.attributes.at("ApproximateReceiveCount"), "1");
    EXPECT_FALSE(message.attributes.at("SentTimestamp").empty());
    EXPECT_EQ(message.message_attributes.at("event_type").string_value, "test.sent");
    bodies.insert(message.body);
  }
  for (const auto& message : outgoing) EXPECT_TRUE(bodies.contains(message.body));

  auto deleted = sqs_->delete_message_batch(url, handles(received));
  EXPECT_TRUE(deleted.all_succeeded());
  EXPECT_EQ(deleted.successful.size(), 3u);
  EXPECT_TRUE(queue_is_empty(url));
}

TEST_F(EmulatorTest, WithoutAnOverrideTheQueueUrlIsTheEndpoint) {
  auto url = make_queue();
  std::vector<OutgoingSqsMessage> outgoing(1);
  outgoing[0].body = "via the queue URL's host";
  ASSERT_TRUE(sqs_->send_message_batch(url, outgoing).all_succeeded());

  // The process environment minus the endpoint overrides.
  auto process = process_environment();
  ServiceClientOptions options;
  options.environment = [process](std::string_view name) -> std::optional<std::string> {
    if (name.starts_with("AWS_ENDPOINT_URL")) return std::nullopt;
    return process(name);
  };
  SqsClient direct(options);
  ReceiveMessageRequest request;
  request.queue_url = url;
  request.wait_time_seconds = 2;
  auto received = direct.receive_messages(request);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].body, "via the queue URL's host");
  EXPECT_TRUE(direct.delete_message_batch(url, handles(received)).all_succeeded());
}

TEST_F(EmulatorTest, ChangeVisibilityBatchReportsABogusHandleAndKeepsTheOthers) {
  auto url = make_queue();
  std::vector<OutgoingSqsMessage> outgoing(2);
  outgoing[0].body = "first";
  outgoing[1].body = "second";
  ASSERT_TRUE(sqs_->send_message_batch(url, outgoing).all_succeeded());
  auto received = receive(url, 2);
  ASSERT_EQ(received.size(), 2u);

  std::vector<VisibilityChange> changes{{received[0].receipt_handle, 0},
                                        {"bogus-receipt-handle", 0},
                                        {received[1].receipt_handle, 0}};
  auto result = sqs_->change_message_visibility_batch(url, changes);
  EXPECT_EQ(result.successful, (std::vector<std::size_t>{0, 2}));
  ASSERT_EQ(result.failed.size(), 1u);
  EXPECT_EQ(result.failed[0].index, 1u);
  EXPECT_FALSE(result.failed[0].code.empty());
  std::printf("bogus receipt handle: %s (%s)\n", result.failed[0].code.c_str(),
              result.failed[0].message.c_str());

  // Visibility 0: both are back at once, received a second time.
  auto again = receive(url, 2);
  ASSERT_EQ(again.size(), 2u);
  for (const auto& message : again) EXPECT_EQ(message.attributes.at("ApproximateReceiveCount"), "2");
  EXPECT_TRUE(sqs_->delete_message_batch(url, handles(again)).all_succeeded());
}

TEST_F(EmulatorTest, QueueAttributesAndErrors) {
  auto url = make_queue({{"VisibilityTimeout", "45"}});
  std::vector<std::string> all{"All"};
  auto attributes = sqs_->get_queue_attributes(url, all);
  EXPECT_EQ(attributes.at("VisibilityTimeout"), "45");
  EXPECT_TRUE(attributes.contains("QueueArn"));

  sqs_->delete_queue(url);
  try {
    sqs_->get_queue_attributes(url, all);
    FAIL() << "a deleted queue still answers";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.http_status(), 400);
    EXPECT_EQ(error.code(), "AWS.SimpleQueueService.NonExistentQueue");
    EXPECT_FALSE(error.message().empty());
  }

  try {
    sns_->publish("arn:aws:sns:us-east-1:000000000000:" + unique_name("missing"), {"x", "", {}, "", ""});
    FAIL() << "a missing topic took a message";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.http_status(), 404);
    EXPECT_EQ(error.code(), "NotFound");
  }
}

TEST_F(EmulatorTest, SnsPublishAndPublishBatchReachARawSubscription) {
  auto topic = make_topic();
  auto url = make_queue();
  auto subscription = sns_->subscribe(topic, "sqs", queue_arn(url), {{"RawMessageDelivery", "true"}});
  EXPECT_FALSE(subscription.empty());

  SnsMessage single{R"({"kind":"single"})", "a subject", {}, "", ""};
  single.attributes["event_type"] = {"String", "document.archived", ""};
  auto message_id = sns_->publish(topic, single);
  EXPECT_FALSE(message_id.empty());

  std::vector<SnsMessage> batch;
  for (int i = 0; i < 3; ++i) batch.push_back({"batch " + std::to_string(i), "", {}, "", ""});
  auto published = sns_->publish_batch(topic, batch);
  EXPECT_TRUE(published.all_succeeded());
  ASSERT_EQ(published.successful.size(), 3u);
  for (const auto& entry : published.successful) EXPECT_FALSE(entry.message_id.empty());

  auto received = receive(url, 4);
  ASSERT_EQ(received.size(), 4u);
  std::set<std::string> bodies;
  for (const auto& message : received) {
    EXPECT_FALSE(message.integrity_error.has_value());
    bodies.insert(message.body);
    if (message.body == single.message) {
      EXPECT_EQ(message.message_attributes.at("event_type").string_value, "document.archived");
    }
  }
  EXPECT_EQ(bodies, (std::set<std::string>{single.message, "batch 0", "batch 1", "batch 2"}));
  EXPECT_TRUE(sqs_->delete_message_batch(url, handles(received)).all_succeeded());
  EXPECT_TRUE(queue_is_empty(url));
}

TEST_F(EmulatorTest, ALongPollOnAnEmptyQueueIsCancelledPromptly) {
  auto url = make_queue();
  std::stop_source stop;
  Clock::time_point returned;
  bool cancelled = false;
  std::atomic<bool> done{false};
  std::jthread poller([&] {
    ReceiveMessageRequest request;
    request.queue_url = url;
    request.wait_time_seconds = 20;
    try {
      sqs_->receive_messages(request, stop.get_token());
    } catch (const RequestCancelled&) {
      cancelled = true;
    }
    returned = Clock::now();
    done = true;
  });
  // The emulator holds the empty poll: still waiting half a second later
  // (that is the behaviour under test, not a pause).
  EXPECT_FALSE(docvault::testing::wait_until([&] { return done.load(); }, 500ms));
  auto requested = Clock::now();
  stop.request_stop();
  poller.join();
  auto latency = std::chrono::duration_cast<std::chrono::microseconds>(returned - requested);
  std::printf("emulator long-poll cancellation latency: %.3f ms\n",
              static_cast<double>(latency.count()) / 1000.0);
  EXPECT_TRUE(cancelled);
  EXPECT_LT(latency, 500ms);
}

// Done when: a message published to SNS by an independent client (the AWS
// CLI) arrives through the SNS -> SQS subscription, is verified and deleted
// through docvault's client, and the queue is then empty.
TEST_F(EmulatorTest, AMessagePublishedWithTheAwsCliIsReceivedVerifiedAndDeleted) {
  auto topic = make_topic();
  auto url = make_queue();
  sns_->subscribe(topic, "sqs", queue_arn(url));

  auto event_id = unique_name("event");
  auto payload = R"({"event_id":")" + event_id + R"(","event_type":"entity.deleted"})";
  auto cli_message_id = run("aws sns publish --endpoint-url '" + endpoint_ + "' --topic-arn '" + topic +
                            "' --message '" + payload + "' --output text --query MessageId");
  ASSERT_TRUE(cli_message_id.has_value()) << "aws sns publish failed";

  auto received = receive(url, 1);
  ASSERT_EQ(received.size(), 1u);
  const auto& message = received[0];
  EXPECT_FALSE(message.integrity_error.has_value());
  auto envelope = json::parse(message.body);
  EXPECT_EQ(envelope.at("Type"), "Notification");
  EXPECT_EQ(envelope.at("TopicArn"), topic);
  EXPECT_EQ(envelope.at("MessageId"), *cli_message_id);
  EXPECT_EQ(envelope.at("Message"), payload);

  std::vector<std::string> receipt{message.receipt_handle};
  auto deleted = sqs_->delete_message_batch(url, receipt);
  EXPECT_TRUE(deleted.all_succeeded());
  EXPECT_TRUE(queue_is_empty(url));
}

}  // namespace
}  // namespace docvault::aws
