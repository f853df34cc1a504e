// SNS query protocol: form encoding, XML parsing of success, batch partial
// failure and error responses, through a fake transport.
#include <gtest/gtest.h>

#include <algorithm>

#include "aws/sns_client.h"
#include "fake_transport.h"

namespace docvault::aws {
namespace {

using testing::fake_options;
using testing::FakeTransport;
using testing::header_of;

constexpr const char* kTopicArn = "arn:aws:sns:eu-west-1:123456789012:audit";

// The decoded form of a body, for order-independent assertions.
std::map<std::string, std::string> decode_form(const std::string& body) {
  auto decode = [](std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size()) {
        out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += text[i];
      }
    }
    return out;
  };
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= body.size()) {
    auto end = std::min(body.find('&', start), body.size());
    auto pair = std::string_view(body).substr(start, end - start);
    auto equals = pair.find('=');
    out[decode(pair.substr(0, equals))] = decode(pair.substr(equals + 1));
    start = end + 1;
  }
  return out;
}

TEST(FormEncoding, IsRfc3986PercentEncoding) {
  FormBody form("Publish");
  form.add("Message", "a b+c/d~e_f.g-h*i").add({"Sub", "ject"}, "é&=");
  EXPECT_EQ(form.text(), "Action=Publish&Version=2010-03-31&Message=a%20b%2Bc%2Fd~e_f.g-h%2Ai&Subject=%C3%A9%26%3D");
}

SnsMessage text(std::string message) {
  SnsMessage out;
  out.message = std::move(message);
  return out;
}

class SnsProtocolTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  SnsClient client{fake_options(transport)};
};

TEST_F(SnsProtocolTest, PublishIsASignedFormPostAndReturnsTheMessageId) {
  transport->respond(200, R"(<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult>
  <ResponseMetadata><RequestId>f187a3c1</RequestId></ResponseMetadata></PublishResponse>)");
  SnsMessage message;
  message.message = R"({"event_id":"e 1"})";
  message.subject = "archived";
  message.attributes["event_type"] = {"String", "document.archived", ""};
  message.attributes["priority"] = {"Number", "5", ""};
  message.message_group_id = "entity-7";
  message.message_deduplication_id = "e1";
  EXPECT_EQ(client.publish(kTopicArn, message), "94f20ce6-13c5-43a0-9a9e-ca52d816e90b");

  ASSERT_EQ(transport->requests.size(), 1u);
  const auto& sent = transport->requests[0];
  // The region comes from AWS_REGION; the regional endpoint is used.
  EXPECT_EQ(sent.url, "https://sns.us-east-1.amazonaws.com/");
  EXPECT_EQ(header_of(sent, "Content-Type").rfind("application/x-www-form-urlencoded", 0), 0u);
  EXPECT_NE(header_of(sent, "Authorization").find("/us-east-1/sns/aws4_request"), std::string::npos);
  EXPECT_TRUE(sent.body.starts_with("Action=Publish&Version=2010-03-31&"));
  auto form = decode_form(sent.body);
  EXPECT_EQ(form["TopicArn"], kTopicArn);
  EXPECT_EQ(form["Message"], R"({"event_id":"e 1"})");
  EXPECT_EQ(form["Subject"], "archived");
  EXPECT_EQ(form["MessageAttributes.entry.1.Name"], "event_type");
  EXPECT_EQ(form["MessageAttributes.entry.1.Value.DataType"], "String");
  EXPECT_EQ(form["MessageAttributes.entry.1.Value.StringValue"], "document.archived");
  EXPECT_EQ(form["MessageAttributes.entry.2.Name"], "priority");
  EXPECT_EQ(form["MessageAttributes.entry.2.Value.DataType"], "Number");
  EXPECT_EQ(form["MessageGroupId"], "entity-7");
  EXPECT_EQ(form["MessageDeduplicationId"], "e1");
}

TEST_F(SnsProtocolTest, PublishBatchReportsSuccessfulFailedAndMissingEntries) {
  transport->respond(200, R"(<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishBatchResult>
    <Successful><member><Id>0</Id><MessageId>m-0</MessageId></member></Successful>
    <Failed><member><Id>1</Id><Code>InvalidParameter</Code><Message>too big</Message>
      <SenderFault>true</SenderFault></member></Failed>
  </PublishBatchResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishBatchResponse>)");
  std::vector<SnsMessage> messages(3);
  messages[0].message = "zero";
  messages[1].message = "one";
  messages[1].attributes["k"] = {"String", "v", ""};
  messages[2].message = "two";
  auto result = client.publish_batch(kTopicArn, messages);

  auto form = decode_form(transport->requests[0].body);
  EXPECT_EQ(form["Action"], "PublishBatch");
  EXPECT_EQ(form["PublishBatchRequestEntries.member.1.Id"], "0");
  EXPECT_EQ(form["PublishBatchRequestEntries.member.1.Message"], "zero");
  EXPECT_EQ(form["PublishBatchRequestEntries.member.2.Id"], "1");
  EXPECT_EQ(form["PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Name"], "k");
  EXPECT_EQ(form["PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Value.StringValue"], "v");
  EXPECT_EQ(form["PublishBatchRequestEntries.member.3.Message"], "two");

  ASSERT_EQ(result.successful.size(), 1u);
  EXPECT_EQ(result.successful[0].index, 0u);
  EXPECT_EQ(result.successful[0].message_id, "m-0");
  ASSERT_EQ(result.failed.size(), 2u);
  EXPECT_EQ(result.failed[0].index, 1u);
  EXPECT_EQ(result.failed[0].code, "InvalidParameter");
  EXPECT_EQ(result.failed[0].message, "too big");
  EXPECT_TRUE(result.failed[0].sender_fault);
  EXPECT_EQ(result.failed[1].index, 2u);
  EXPECT_EQ(result.failed[1].code, "MissingFromResponse");
}

TEST_F(SnsProtocolTest, PublishBatchLimitsAndEmptyBatches) {
  std::vector<SnsMessage> eleven(11);
  EXPECT_THROW(client.publish_batch(kTopicArn, eleven), std::invalid_argument);
  EXPECT_TRUE(client.publish_batch(kTopicArn, {}).successful.empty());
  EXPECT_TRUE(transport->requests.empty());
}

TEST_F(SnsProtocolTest, AnErrorResponseBecomesAnAwsErrorAndA4xxIsNotRetried) {
  transport->respond(404, R"(<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error>
  <RequestId>9dd01905-5012-5f99-8663-4b3ecd0dfaef</RequestId></ErrorResponse>)");
  try {
    client.publish(kTopicArn, text("x"));
    FAIL() << "no error";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.http_status(), 404);
    EXPECT_EQ(error.code(), "NotFound");
    EXPECT_EQ(error.message(), "Topic does not exist");
    EXPECT_EQ(error.request_id(), "9dd01905-5012-5f99-8663-4b3ecd0dfaef");
  }
  EXPECT_EQ(transport->requests.size(), 1u);
}

TEST_F(SnsProtocolTest, ThrottlingAndServerErrorsAreRetriedUpToTheAttemptLimit) {
  transport->respond(400, "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>");
  transport->respond(503, "Service Unavailable");
  EXPECT_THROW(client.publish(kTopicArn, text("x")), AwsError);
  EXPECT_EQ(transport->requests.size(), 3u);
}

TEST_F(SnsProtocolTest, TopicAndSubscriptionSetUp) {
  transport->respond(200, "<CreateTopicResponse><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:0:t.fifo</TopicArn></CreateTopicResult></CreateTopicResponse>");
  EXPECT_EQ(client.create_topic("t.fifo", {{"FifoTopic", "true"}}), "arn:aws:sns:us-east-1:0:t.fifo");
  auto form = decode_form(transport->requests[0].body);
  EXPECT_EQ(form["Name"], "t.fifo");
  EXPECT_EQ(form["Attributes.entry.1.key"], "FifoTopic");
  EXPECT_EQ(form["Attributes.entry.1.value"], "true");

  auto subscribing = std::make_shared<FakeTransport>();
  subscribing->respond(200, "<SubscribeResponse><SubscribeResult><SubscriptionArn>arn:sub</SubscriptionArn></SubscribeResult></SubscribeResponse>");
  SnsClient subscriber{fake_options(subscribing)};
  EXPECT_EQ(subscriber.subscribe(kTopicArn, "sqs", "arn:aws:sqs:us-east-1:0:q",
                                 {{"RawMessageDelivery", "true"}}),
            "arn:sub");
  form = decode_form(subscribing->requests[0].body);
  EXPECT_EQ(form["Protocol"], "sqs");
  EXPECT_EQ(form["Endpoint"], "arn:aws:sqs:us-east-1:0:q");
  EXPECT_EQ(form["Attributes.entry.1.key"], "RawMessageDelivery");
}

TEST(SnsErrorParsing, AResponseThatIsNotXmlStillGivesStatusAndRequestId) {
  auto error = parse_sns_error({500, {{"x-amzn-RequestId", "rid"}}, "oops"});
  EXPECT_EQ(error.http_status(), 500);
  EXPECT_EQ(error.code(), "UnknownError");
  EXPECT_EQ(error.request_id(), "rid");
}

}  // namespace
}  // namespace docvault::aws
