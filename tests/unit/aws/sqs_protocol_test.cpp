// SQS JSON 1.0 protocol: request formatting, response parsing, MD5 checks,
// batch partial failures and error mapping, through a fake transport.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "aws/sqs_client.h"
#include "crypto/crypto.h"
#include "fake_transport.h"

namespace docvault::aws {
namespace {

using nlohmann::json;
using testing::fake_options;
using testing::FakeTransport;
using testing::header_of;

constexpr const char* kQueueUrl = "http://sqs.us-east-1.localhost:4566/000000000000/orders";

class SqsProtocolTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  SqsClient client{fake_options(transport)};

  json sent_body(std::size_t i = 0) const { return json::parse(transport->requests.at(i).body); }
};

TEST_F(SqsProtocolTest, ReceiveMessageIsASignedJsonPostToTheQueuesEndpoint) {
  transport->respond(200, "{}");
  ReceiveMessageRequest request;
  request.queue_url = kQueueUrl;
  request.max_messages = 5;
  request.wait_time_seconds = 20;
  request.visibility_timeout_seconds = 30;
  EXPECT_TRUE(client.receive_messages(request).empty());

  ASSERT_EQ(transport->requests.size(), 1u);
  const auto& sent = transport->requests[0];
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "http://sqs.us-east-1.localhost:4566/");
  EXPECT_EQ(header_of(sent, "Host"), "sqs.us-east-1.localhost:4566");
  EXPECT_EQ(header_of(sent, "Content-Type"), "application/x-amz-json-1.0");
  EXPECT_EQ(header_of(sent, "X-Amz-Target"), "AmazonSQS.ReceiveMessage");
  EXPECT_NE(header_of(sent, "Authorization").find("/us-east-1/sqs/aws4_request"), std::string::npos);
  EXPECT_FALSE(header_of(sent, "X-Amz-Date").empty());
  // The poll must not be cut short by the transport's default timeout.
  EXPECT_GT(sent.timeout, std::chrono::seconds(20));

  auto body = sent_body();
  EXPECT_EQ(body["QueueUrl"], kQueueUrl);
  EXPECT_EQ(body["MaxNumberOfMessages"], 5);
  EXPECT_EQ(body["WaitTimeSeconds"], 20);
  EXPECT_EQ(body["VisibilityTimeout"], 30);
  EXPECT_EQ(body["MessageAttributeNames"], json::array({"All"}));
  auto names = body["MessageSystemAttributeNames"];
  for (const char* name : {"ApproximateReceiveCount", "SentTimestamp",
                           "ApproximateFirstReceiveTimestamp", "MessageGroupId"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

TEST_F(SqsProtocolTest, AnEndpointOverrideReceivesTheRequestAndTheQueueUrlStaysInTheBody) {
  auto overridden = std::make_shared<FakeTransport>();
  SqsClient local{fake_options(overridden, "http://127.0.0.1:4566")};
  ReceiveMessageRequest request;
  request.queue_url = kQueueUrl;
  local.receive_messages(request);
  ASSERT_EQ(overridden->requests.size(), 1u);
  EXPECT_EQ(overridden->requests[0].url, "http://127.0.0.1:4566/");
  EXPECT_EQ(header_of(overridden->requests[0], "Host"), "127.0.0.1:4566");
  EXPECT_EQ(json::parse(overridden->requests[0].body)["QueueUrl"], kQueueUrl);
}

TEST_F(SqsProtocolTest, ReceivedMessagesAreParsedAndEachBodyIsCheckedAgainstItsMd5) {
  json response = {
      {"Messages",
       json::array({
           {{"MessageId", "m1"},
            {"ReceiptHandle", "rh1"},
            {"Body", "hello"},
            {"MD5OfBody", crypto::md5_hex("hello")},
            {"Attributes", {{"ApproximateReceiveCount", "3"}, {"SentTimestamp", "1700000000000"}}},
            {"MessageAttributes",
             {{"event_type", {{"DataType", "String"}, {"StringValue", "entity.deleted"}}},
              {"blob", {{"DataType", "Binary"}, {"BinaryValue", "AAE="}}}}}},
           {{"MessageId", "m2"},
            {"ReceiptHandle", "rh2"},
            {"Body", "tampered"},
            {"MD5OfBody", crypto::md5_hex("original")}},
           {{"MessageId", "m3"}, {"ReceiptHandle", "rh3"}, {"Body", "no digest"}},
       })}};
  transport->respond(200, response.dump());
  ReceiveMessageRequest request;
  request.queue_url = kQueueUrl;
  auto messages = client.receive_messages(request);

  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].message_id, "m1");
  EXPECT_EQ(messages[0].receipt_handle, "rh1");
  EXPECT_EQ(messages[0].body, "hello");
  EXPECT_FALSE(messages[0].integrity_error.has_value());
  EXPECT_EQ(messages[0].attributes.at("ApproximateReceiveCount"), "3");
  EXPECT_EQ(messages[0].message_attributes.at("event_type").string_value, "entity.deleted");
  EXPECT_EQ(messages[0].message_attributes.at("blob").data_type, "Binary");
  EXPECT_EQ(messages[0].message_attributes.at("blob").binary_value, "AAE=");
  // A corrupt message is reported on itself; its neighbours are unaffected.
  ASSERT_TRUE(messages[1].integrity_error.has_value());
  EXPECT_NE(messages[1].integrity_error->find("MD5"), std::string::npos);
  EXPECT_EQ(messages[1].receipt_handle, "rh2");
  EXPECT_TRUE(messages[2].integrity_error.has_value());
}

TEST_F(SqsProtocolTest, ReceiveRejectsOutOfRangeArgumentsWithoutACall) {
  ReceiveMessageRequest request;
  request.queue_url = kQueueUrl;
  request.wait_time_seconds = 21;
  EXPECT_THROW(client.receive_messages(request), std::invalid_argument);
  request.wait_time_seconds = 0;
  request.max_messages = 11;
  EXPECT_THROW(client.receive_messages(request), std::invalid_argument);
  EXPECT_TRUE(transport->requests.empty());
}

TEST_F(SqsProtocolTest, SendBatchRejectsAnOutOfRangeDelayWithoutACall) {
  for (int delay : {-1, 901}) {
    std::vector<OutgoingSqsMessage> messages{OutgoingSqsMessage{"body", {}, delay, "", "", ""}};
    EXPECT_THROW(client.send_message_batch(kQueueUrl, messages), std::invalid_argument) << delay;
  }
  EXPECT_TRUE(transport->requests.empty());
}

TEST_F(SqsProtocolTest, DeleteBatchUsesPositionalIdsAndReportsEveryEntry) {
  transport->respond(200, R"({"Successful":[{"Id":"0"}],
    "Failed":[{"Id":"1","SenderFault":true,"Code":"ReceiptHandleIsInvalid","Message":"bad"}]})");
  std::vector<std::string> handles{"rh-a", "rh-b", "rh-c"};
  auto result = client.delete_message_batch(kQueueUrl, handles);

  EXPECT_EQ(header_of(transport->requests[0], "X-Amz-Target"), "AmazonSQS.DeleteMessageBatch");
  auto body = sent_body();
  EXPECT_EQ(body["QueueUrl"], kQueueUrl);
  ASSERT_EQ(body["Entries"].size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(body["Entries"][i]["Id"], std::to_string(i));
    EXPECT_EQ(body["Entries"][i]["ReceiptHandle"], handles[i]);
  }
  EXPECT_EQ(result.successful, std::vector<std::size_t>{0});
  ASSERT_EQ(result.failed.size(), 2u);
  EXPECT_EQ(result.failed[0].index, 1u);
  EXPECT_EQ(result.failed[0].code, "ReceiptHandleIsInvalid");
  EXPECT_TRUE(result.failed[0].sender_fault);
  // The service forgot entry 2: it is a failure, never silently dropped.
  EXPECT_EQ(result.failed[1].index, 2u);
  EXPECT_EQ(result.failed[1].code, "MissingFromResponse");
  EXPECT_FALSE(result.all_succeeded());
}

TEST_F(SqsProtocolTest, ChangeVisibilityBatchSendsTimeoutsPerEntry) {
  transport->respond(200, R"({"Successful":[{"Id":"0"},{"Id":"1"}],"Failed":[]})");
  std::vector<VisibilityChange> changes{{"rh-a", 0}, {"rh-b", 120}};
  auto result = client.change_message_visibility_batch(kQueueUrl, changes);
  EXPECT_EQ(header_of(transport->requests[0], "X-Amz-Target"),
            "AmazonSQS.ChangeMessageVisibilityBatch");
  auto body = sent_body();
  EXPECT_EQ(body["Entries"][0], json({{"Id", "0"}, {"ReceiptHandle", "rh-a"}, {"VisibilityTimeout", 0}}));
  EXPECT_EQ(body["Entries"][1]["VisibilityTimeout"], 120);
  EXPECT_TRUE(result.all_succeeded());
  EXPECT_EQ(result.successful.size(), 2u);
}

TEST_F(SqsProtocolTest, SendBatchFormatsEntriesAndChecksTheStoredBodyMd5) {
  json response = {
      {"Successful",
       json::array({{{"Id", "0"}, {"MessageId", "id-0"}, {"MD5OfMessageBody", crypto::md5_hex("a")}},
                    {{"Id", "1"}, {"MessageId", "id-1"}, {"MD5OfMessageBody", crypto::md5_hex("x")}}})},
      {"Failed", json::array()}};
  transport->respond(200, response.dump());
  std::vector<OutgoingSqsMessage> messages(2);
  messages[0].body = "a";
  messages[0].attributes["event_type"] = {"String", "document.archived", ""};
  messages[0].delay_seconds = 5;
  messages[1].body = "b";
  messages[1].message_group_id = "g";
  messages[1].message_deduplication_id = "d";
  auto result = client.send_message_batch(kQueueUrl, messages);

  auto body = sent_body();
  EXPECT_EQ(body["Entries"][0]["MessageBody"], "a");
  EXPECT_EQ(body["Entries"][0]["DelaySeconds"], 5);
  EXPECT_EQ(body["Entries"][0]["MessageAttributes"]["event_type"],
            json({{"DataType", "String"}, {"StringValue", "document.archived"}}));
  EXPECT_EQ(body["Entries"][1]["MessageGroupId"], "g");
  EXPECT_EQ(body["Entries"][1]["MessageDeduplicationId"], "d");
  EXPECT_FALSE(body["Entries"][1].contains("MessageAttributes"));

  ASSERT_EQ(result.successful.size(), 1u);
  EXPECT_EQ(result.successful[0].index, 0u);
  EXPECT_EQ(result.successful[0].message_id, "id-0");
  ASSERT_EQ(result.failed.size(), 1u);
  EXPECT_EQ(result.failed[0].index, 1u);
  EXPECT_EQ(result.failed[0].code, "MD5OfMessageBodyMismatch");
}

TEST_F(SqsProtocolTest, BatchesOfMoreThanTenAreRejectedAndEmptyOnesSendNothing) {
  std::vector<std::string> eleven(11, "rh");
  EXPECT_THROW(client.delete_message_batch(kQueueUrl, eleven), std::invalid_argument);
  EXPECT_TRUE(client.delete_message_batch(kQueueUrl, {}).successful.empty());
  EXPECT_TRUE(client.send_message_batch(kQueueUrl, {}).failed.empty());
  EXPECT_TRUE(transport->requests.empty());
}

TEST_F(SqsProtocolTest, QueueAttributesAndQueueLifecycle) {
  transport->respond(200, R"({"Attributes":{"ApproximateNumberOfMessages":"4"}})");
  std::vector<std::string> names{"ApproximateNumberOfMessages"};
  auto attributes = client.get_queue_attributes(kQueueUrl, names);
  EXPECT_EQ(attributes.at("ApproximateNumberOfMessages"), "4");
  EXPECT_EQ(sent_body(0)["AttributeNames"], json::array({"ApproximateNumberOfMessages"}));

  auto create = std::make_shared<FakeTransport>();
  create->respond(200, R"({"QueueUrl":"https://sqs.us-east-1.amazonaws.com/1/q"})");
  SqsClient creator{fake_options(create)};
  EXPECT_EQ(creator.create_queue("q", {{"VisibilityTimeout", "5"}}),
            "https://sqs.us-east-1.amazonaws.com/1/q");
  // No queue URL yet: the regional endpoint.
  EXPECT_EQ(create->requests[0].url, "https://sqs.us-east-1.amazonaws.com/");
  EXPECT_EQ(json::parse(create->requests[0].body)["Attributes"]["VisibilityTimeout"], "5");
}

TEST_F(SqsProtocolTest, ErrorsCarryTheQueryCodeMessageAndRequestIdAndAreNotRetried) {
  transport->respond(400,
                     R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."})",
                     {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"},
                      {"x-amzn-RequestId", "req-123"}});
  try {
    client.get_queue_attributes(kQueueUrl, std::vector<std::string>{"All"});
    FAIL() << "no error";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.http_status(), 400);
    EXPECT_EQ(error.code(), "AWS.SimpleQueueService.NonExistentQueue");
    EXPECT_EQ(error.message(), "The specified queue does not exist.");
    EXPECT_EQ(error.request_id(), "req-123");
  }
  EXPECT_EQ(transport->requests.size(), 1u);
}

TEST(SqsErrorParsing, TheTypeIsUsedWithoutItsNamespaceWhenThereIsNoQueryHeader) {
  HttpResponse response{400, {}, R"({"__type":"com.amazonaws.sqs#InvalidParameterValue","Message":"bad"})"};
  auto error = parse_sqs_error(response);
  EXPECT_EQ(error.code(), "InvalidParameterValue");
  EXPECT_EQ(error.message(), "bad");

  auto opaque = parse_sqs_error({502, {}, "<html>bad gateway</html>"});
  EXPECT_EQ(opaque.http_status(), 502);
  EXPECT_EQ(opaque.code(), "UnknownError");
}

TEST_F(SqsProtocolTest, ThrottlingIsRetriedAndEachAttemptIsSignedAfresh) {
  transport->respond(400, R"({"__type":"com.amazonaws.sqs#ThrottlingException","message":"slow down"})");
  transport->respond(200, R"({"Attributes":{}})");
  client.get_queue_attributes(kQueueUrl, std::vector<std::string>{"All"});
  ASSERT_EQ(transport->requests.size(), 2u);
  EXPECT_FALSE(header_of(transport->requests[1], "Authorization").empty());
}

}  // namespace
}  // namespace docvault::aws
