// Amazon SNS over the query protocol: every call is a signed POST of an
// application/x-www-form-urlencoded body (Action=..., Version=2010-03-31,
// parameters percent-encoded per RFC 3986) to the service endpoint, answered
// in XML.
//
// What the outbox relay needs: publish (one message, its id back) and
// publish_batch (at most ten, answered per entry as in messaging.h: partial
// failures are results, an entry missing from the answer is reported failed).
// create_topic, delete_topic and subscribe serve tests and local set-up.
// A failed call throws AwsError with the ErrorResponse's Code, Message and
// RequestId; retries happen inside (service_client.h).
//
// Thread-safety: an SnsClient is immutable after construction; any number of
// threads may call it at once. Every call takes a stop token; a stop request
// abandons the call and throws RequestCancelled.
#pragma once

#include <initializer_list>
#include <map>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/endpoint.h"
#include "aws/messaging.h"
#include "aws/service_client.h"

namespace docvault::aws {

struct SnsMessage {
  std::string message;
  std::string subject;  // optional; email subscribers see it
  MessageAttributes attributes;
  std::string message_group_id;          // FIFO topics
  std::string message_deduplication_id;  // FIFO topics without content-based dedup
};

// The form body of a query-protocol call: "Action=…&Version=…&k=v&…", keys
// and values percent-encoded per RFC 3986 (space as %20) as they are added.
// A key may be given in parts, joined as they are: an entry's key
// ("PublishBatchRequestEntries.member.3.Message") needs no string of its own.
class FormBody {
 public:
  // `reserve`: the bytes expected, to grow the text once.
  explicit FormBody(std::string_view action, std::size_t reserve = 0);
  FormBody& add(std::initializer_list<std::string_view> key, std::string_view value);
  FormBody& add(std::string_view key, std::string_view value) { return add({key}, value); }
  const std::string& text() const { return text_; }
  std::string take() && { return std::move(text_); }

 private:
  std::string text_;
};

class SnsClient {
 public:
  explicit SnsClient(ServiceClientOptions options = {});

  // Returns the message id.
  std::string publish(std::string_view topic_arn, const SnsMessage& message,
                      std::stop_token stop = {}) const;

  // At most ten entries (std::invalid_argument otherwise); an empty span
  // returns an empty result without a call.
  SendBatchResult publish_batch(std::string_view topic_arn, std::span<const SnsMessage> messages,
                                std::stop_token stop = {}, const CallLimits& limits = {}) const;
  // The call publish_batch makes (1 to 10 messages), for a caller that runs
  // it among others through ServiceCalls over service(), and reads the
  // answer with parse_publish_batch_response.
  ServiceRequest publish_batch_request(std::string_view topic_arn, std::span<const SnsMessage> messages,
                                       const CallLimits& limits = {}) const;
  const ServiceClient& service() const { return client_; }

  // Returns the topic ARN. Attributes as SNS names them ("FifoTopic", ...).
  std::string create_topic(std::string_view name,
                           const std::map<std::string, std::string>& attributes = {},
                           std::stop_token stop = {}) const;
  void delete_topic(std::string_view topic_arn, std::stop_token stop = {}) const;

  // Returns the subscription ARN. protocol "sqs" with a queue ARN as endpoint;
  // attributes such as {"RawMessageDelivery", "true"}.
  std::string subscribe(std::string_view topic_arn, std::string_view protocol,
                        std::string_view endpoint,
                        const std::map<std::string, std::string>& attributes = {},
                        std::stop_token stop = {}) const;

 private:
  // The request posting the form (its action and parameters) about
  // `resource` (an ARN, or empty).
  ServiceRequest request(std::string_view resource, FormBody form, const CallLimits& limits) const;
  // Sends it and returns the 2xx response.
  HttpResponse post(std::string_view resource, FormBody form, std::stop_token stop,
                    const CallLimits& limits = {}) const;

  EndpointResolver endpoints_;
  ServiceClient client_;
};

// The AwsError an SNS ErrorResponse stands for. Exposed for tests.
AwsError parse_sns_error(const HttpResponse& response);

// The per-entry outcome of a 2xx PublishBatch response for `count` entries
// sent; AwsError("InvalidResponse") when the body is not XML. What
// publish_batch does with the answer, exposed for tests and fuzzing.
SendBatchResult parse_publish_batch_response(const HttpResponse& response, std::size_t count);

}  // namespace docvault::aws
