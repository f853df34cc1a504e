// MessageSource: what the consumer needs of a queue, and nothing more.
//
// Receive a batch (long poll, cancelled by the stop token), delete messages
// whose work committed, change their visibility (heartbeats; 0 releases
// them), send one to the dead-letter queue, and read the queue's attributes
// (its visibility timeout, its depth). `SqsMessageSource`
// (sqs_message_source.h) is the one over SQS; tests hand the consumer
// tests/support/fake_message_source.h, so consumer and acknowledger are
// tested without the emulator, on a fake clock.
//
// Values are the aws layer's (ReceivedMessage, BatchResult, ...): the
// consumer reads SQS's system attributes by their SQS names.
//
// Thread-safety: implementations may be called from any number of threads
// at once (the poller receives while workers dead-letter and the
// acknowledger deletes).
#pragma once

#include <map>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "aws/sqs_client.h"

namespace docvault::consumer {

struct ReceiveOptions {
  int max_messages = 10;                          // 1..10
  int wait_time_seconds = 20;                     // long poll, 0..20
  std::optional<int> visibility_timeout_seconds;  // unset: the queue's own
  // Unset: the long poll's own timeout and the client's retries. A probe
  // after an outage sets one short attempt.
  aws::CallLimits limits;
};

class MessageSource {
 public:
  virtual ~MessageSource() = default;

  // Up to max_messages messages, with their system attributes
  // (ApproximateReceiveCount, SentTimestamp, MessageGroupId). Throws
  // aws::RequestCancelled when `stop` ends the poll, another exception when
  // the queue cannot be reached.
  virtual std::vector<aws::ReceivedMessage> receive(const ReceiveOptions& options, std::stop_token stop) = 0;
  // Up to ten each; per-entry failures in the result, a failed call throws.
  // `limits` bound the call (the acknowledger retries on its own schedule).
  virtual aws::BatchResult delete_messages(std::span<const std::string> receipt_handles, std::stop_token stop,
                                           const aws::CallLimits& limits) = 0;
  virtual aws::BatchResult change_visibility(std::span<const aws::VisibilityChange> changes, std::stop_token stop,
                                             const aws::CallLimits& limits) = 0;
  // Sends the message's body and attributes, with `reason` as the String
  // attribute docvault_rejection_reason, to the dead-letter queue; throws
  // when it was not accepted. Only called when has_dead_letter_queue().
  virtual void dead_letter(const aws::ReceivedMessage& message, std::string_view reason) = 0;
  virtual bool has_dead_letter_queue() const = 0;
  // Queue attributes by SQS name ("VisibilityTimeout",
  // "ApproximateNumberOfMessages", ...); missing ones are left out.
  virtual std::map<std::string, std::string> attributes(std::span<const std::string> names,
                                                        std::stop_token stop) = 0;
  // The queue is FIFO: one message group at a time, in order.
  virtual bool fifo() const = 0;
  // For log lines.
  virtual std::string describe() const = 0;
};

}  // namespace docvault::consumer
