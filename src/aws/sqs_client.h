// Amazon SQS over the AWS JSON 1.0 protocol: every call is a signed POST of a
// JSON document to the service endpoint, with `X-Amz-Target: AmazonSQS.<Action>`
// and the queue URL in the body (endpoint.h says where the request goes).
//
// What the consumer and the outbox relay need, and nothing more:
//   - receive_messages: long polling; every message's body is checked against
//     MD5OfBody, and a mismatch is reported on that message (integrity_error)
//     rather than thrown, so the caller treats it as a poison message while
//     the rest of the batch goes on;
//   - delete/change-visibility/send batches of at most ten entries, answered
//     per entry (see messaging.h): partial failures are normal results, only a
//     failure of the whole call throws; a SendMessageBatch entry whose
//     MD5OfMessageBody does not match what was sent is reported failed;
//   - get_queue_attributes; and create_queue / delete_queue for tests and
//     local set-up.
// Failures of a whole call throw AwsError: the code from the
// x-amzn-query-error header when present ("AWS.SimpleQueueService.NonExistentQueue"),
// else from `__type` without its "com.amazonaws.sqs#" prefix; the request id
// from x-amzn-RequestId. Retries happen inside (service_client.h).
//
// Thread-safety: an SqsClient is immutable after construction; any number of
// threads may call it at once. Every call takes a stop token; a stop request
// abandons the call (a long poll included) and throws RequestCancelled.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "aws/endpoint.h"
#include "aws/messaging.h"
#include "aws/service_client.h"

namespace docvault::aws {

struct ReceiveMessageRequest {
  std::string queue_url;
  int max_messages = 10;       // 1..10
  int wait_time_seconds = 20;  // 0..20; 0 is a short poll
  std::optional<int> visibility_timeout_seconds;
  std::vector<std::string> system_attribute_names = {
      "ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp",
      "MessageGroupId", "AWSTraceHeader"};
  std::vector<std::string> message_attribute_names = {"All"};
  // Unset: the long poll's own timeout (its wait time and some) and the
  // client's retries.
  CallLimits limits;
};

struct ReceivedMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  std::string md5_of_body;                        // as SQS sent it
  std::map<std::string, std::string> attributes;  // system attributes by name
  MessageAttributes message_attributes;
  // Set when the body does not match MD5OfBody (or SQS sent none): the
  // message was corrupted on the way and must not be trusted.
  std::optional<std::string> integrity_error;
};

struct VisibilityChange {
  std::string receipt_handle;
  int visibility_timeout_seconds = 0;  // 0..43200
};

// A FIFO queue's URL ends in .fifo (its name must); every message sent to one
// needs a MessageGroupId.
inline bool is_fifo_queue(std::string_view queue_url) { return queue_url.ends_with(".fifo"); }

// What SQS accepts as a MessageGroupId or MessageDeduplicationId: 1 to 128
// characters, letters, digits and ASCII punctuation.
inline bool is_valid_fifo_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

struct OutgoingSqsMessage {
  std::string body;
  MessageAttributes attributes;
  std::optional<int> delay_seconds;      // standard queues only
  std::string message_group_id;          // FIFO queues
  std::string message_deduplication_id;  // FIFO queues without content-based dedup
  std::string aws_trace_header;          // the AWSTraceHeader system attribute (X-Ray); empty: none
};

class SqsClient {
 public:
  explicit SqsClient(ServiceClientOptions options = {});

  // Throws std::invalid_argument when counts or wait time are out of range.
  std::vector<ReceivedMessage> receive_messages(const ReceiveMessageRequest& request,
                                                std::stop_token stop = {}) const;

  // At most ten entries each (std::invalid_argument otherwise); an empty span
  // returns an empty result without a call.
  BatchResult delete_message_batch(std::string_view queue_url,
                                   std::span<const std::string> receipt_handles,
                                   std::stop_token stop = {}, const CallLimits& limits = {}) const;
  BatchResult change_message_visibility_batch(std::string_view queue_url,
                                              std::span<const VisibilityChange> changes,
                                              std::stop_token stop = {}, const CallLimits& limits = {}) const;
  // Also std::invalid_argument for a DelaySeconds outside 0..900, before
  // anything is sent.
  SendBatchResult send_message_batch(std::string_view queue_url,
                                     std::span<const OutgoingSqsMessage> messages,
                                     std::stop_token stop = {}, const CallLimits& limits = {}) const;
  // The call send_message_batch makes (1 to 10 messages), for a caller that
  // runs it among others through ServiceCalls over service(), and reads the
  // answer with parse_send_message_batch_response.
  ServiceRequest send_message_batch_request(std::string_view queue_url,
                                            std::span<const OutgoingSqsMessage> messages,
                                            const CallLimits& limits = {}) const;
  const ServiceClient& service() const { return client_; }

  // Attribute names such as "ApproximateNumberOfMessages", or "All".
  std::map<std::string, std::string> get_queue_attributes(
      std::string_view queue_url, std::span<const std::string> names,
      std::stop_token stop = {}) const;

  // Returns the queue URL. Attributes as SQS names them ("FifoQueue", "VisibilityTimeout").
  std::string create_queue(std::string_view name,
                           const std::map<std::string, std::string>& attributes = {},
                           std::stop_token stop = {}) const;
  void delete_queue(std::string_view queue_url, std::stop_token stop = {}) const;

 private:
  // The request of `action` with a serialized JSON object about `queue_url`
  // (empty for queue-less actions). `timeout` is the action's own (zero: the
  // transport's); `limits` override it.
  ServiceRequest request(std::string_view action, std::string_view queue_url, std::string body,
                         std::chrono::milliseconds timeout, const CallLimits& limits) const;
  // Sends it and returns the 2xx response.
  HttpResponse post(std::string_view action, std::string_view queue_url, std::string body,
                   std::chrono::milliseconds timeout, std::stop_token stop, const CallLimits& limits = {}) const;

  EndpointResolver endpoints_;
  ServiceClient client_;
};

// The AwsError an SQS JSON error response stands for. Exposed for tests.
AwsError parse_sqs_error(const HttpResponse& response);

// The messages of a 2xx ReceiveMessage response, each checked against its
// MD5OfBody; AwsError("InvalidResponse") when the body is not a JSON object.
// What receive_messages does with the answer, exposed for tests and fuzzing.
std::vector<ReceivedMessage> parse_receive_message_response(const HttpResponse& response);

// The per-entry outcome of a 2xx DeleteMessageBatch or
// ChangeMessageVisibilityBatch response for `count` entries sent; exposed for
// tests and fuzzing.
BatchResult parse_batch_response(const HttpResponse& response, std::size_t count);

// The per-entry outcome of a 2xx SendMessageBatch response to `messages`
// (each stored body's MD5 checked against the one sent).
SendBatchResult parse_send_message_batch_response(const HttpResponse& response,
                                                  std::span<const OutgoingSqsMessage> messages);

}  // namespace docvault::aws
