// Every shape an AWS error answer arrives in gives a code and a message a log
// line can use (issue 17: "HTTP 403 with no error message" told an operator
// nothing).
#include "aws/error_response.h"

#include <gtest/gtest.h>

#include "aws/s3_client.h"
#include "aws/sns_client.h"
#include "aws/sqs_client.h"

namespace docvault::aws {
namespace {

TEST(AwsErrorShapes, JsonWithTheQueryHeaderTakesTheHeadersCode) {
  HttpResponse response{400,
                        {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"},
                         {"x-amzn-RequestId", "rid-1"}},
                        R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."})"};
  auto error = parse_sqs_error(response);
  EXPECT_EQ(error.http_status(), 400);
  EXPECT_EQ(error.code(), "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(error.message(), "The specified queue does not exist.");
  EXPECT_EQ(error.request_id(), "rid-1");
}

TEST(AwsErrorShapes, JsonWithoutTheQueryHeaderUsesTheBareType) {
  auto error = parse_sqs_error({403, {}, R"({"__type":"com.amazon.coral.service#AccessDeniedException:http://x","Message":"not allowed"})"});
  EXPECT_EQ(error.code(), "AccessDeniedException");
  EXPECT_EQ(error.message(), "not allowed");
  auto lower = parse_sqs_error({400, {}, R"({"code":"InvalidAddress","message":"no such host"})"});
  EXPECT_EQ(lower.code(), "InvalidAddress");
  EXPECT_EQ(lower.message(), "no such host");
}

TEST(AwsErrorShapes, XmlErrorAtTheRootAsS3AndSomeProxiesSendIt) {
  const char* body =
      "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
      "<RequestId>rid-2</RequestId></Error>";
  for (const auto& error : {parse_sqs_error({403, {}, body}), parse_sns_error({403, {}, body}),
                            parse_s3_error({403, {}, body})}) {
    EXPECT_EQ(error.code(), "AccessDenied");
    EXPECT_EQ(error.message(), "Access Denied");
    EXPECT_EQ(error.request_id(), "rid-2");
  }
}

TEST(AwsErrorShapes, XmlErrorResponseWithErrorOrErrorsError) {
  auto single = parse_sns_error(
      {403, {},
       "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type>"
       "<Code>AuthorizationError</Code><Message>not authorized to perform: SNS:Publish</Message></Error>"
       "<RequestId>rid-3</RequestId></ErrorResponse>"});
  EXPECT_EQ(single.code(), "AuthorizationError");
  EXPECT_EQ(single.message(), "not authorized to perform: SNS:Publish");
  EXPECT_EQ(single.request_id(), "rid-3");

  auto nested = parse_sns_error(
      {400, {},
       "<ErrorResponse><Errors><Error><Code>InvalidParameter</Code><Message>bad topic</Message></Error>"
       "</Errors><RequestID>rid-4</RequestID></ErrorResponse>"});
  EXPECT_EQ(nested.code(), "InvalidParameter");
  EXPECT_EQ(nested.message(), "bad topic");
  EXPECT_EQ(nested.request_id(), "rid-4");

  auto ec2_style = parse_sqs_error(
      {401, {}, "<Response><Errors><Error><Code>AuthFailure</Code><Message>no</Message></Error></Errors></Response>"});
  EXPECT_EQ(ec2_style.code(), "AuthFailure");
  EXPECT_EQ(ec2_style.message(), "no");
}

TEST(AwsErrorShapes, HtmlIsQuotedUpToTwoHundredBytes) {
  std::string page = "<html><body><h1>502 Bad Gateway</h1>" + std::string(400, 'x') + "</body></html>";
  auto error = parse_sqs_error({502, {{"x-amz-request-id", "rid-5"}}, page});
  EXPECT_EQ(error.code(), "UnknownError");
  EXPECT_EQ(error.request_id(), "rid-5");
  EXPECT_EQ(error.message().rfind("HTTP 502: \"<html><body><h1>502 Bad Gateway</h1>", 0), 0u) << error.message();
  EXPECT_NE(error.message().find("(" + std::to_string(page.size()) + " bytes, first 200 shown)"), std::string::npos);
  EXPECT_LT(error.message().size(), 300u);
}

TEST(AwsErrorShapes, ControlBytesInABodyAreEscaped) {
  auto error = parse_sns_error({500, {}, std::string("oops\r\nInjected: \"line\"\x01\x00", 24)});
  EXPECT_EQ(error.message(), R"(HTTP 500: "oops\x0d\x0aInjected: \"line\"\x01\x00")");
}

TEST(AwsErrorShapes, AnEmptyBodySaysSo) {
  auto error = parse_sns_error({403, {{"x-amzn-RequestId", "rid-6"}}, ""});
  EXPECT_EQ(error.code(), "UnknownError");
  EXPECT_EQ(error.message(), "HTTP 403 with an empty body");
  EXPECT_EQ(error.request_id(), "rid-6");
  EXPECT_EQ(parse_s3_error({404, {}, ""}).code(), "NotFound");
}

TEST(AwsErrorShapes, AnErrorDocumentWithoutAMessageQuotesTheBody) {
  auto error = parse_sqs_error({400, {}, R"({"__type":"Throttling"})"});
  EXPECT_EQ(error.code(), "Throttling");
  EXPECT_EQ(error.message(), R"(HTTP 400 with no error message: "{\"__type\":\"Throttling\"}")");
}

}  // namespace
}  // namespace docvault::aws
