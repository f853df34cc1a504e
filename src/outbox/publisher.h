// Publisher: where the relay sends a batch of outbox events, and nothing more.
//
// One call publishes up to ten entries (and 256 KiB: the relay chunks) to one
// destination and answers per entry: the entries it returns failed, every
// other one was accepted. A call that fails as a whole (the service is
// unreachable, throttled past its retries) throws, and the relay counts every
// entry of it failed. `SnsPublisher` and `SqsPublisher` (aws_publisher.h)
// publish to an SNS topic (PublishBatch) and an SQS queue (SendMessageBatch);
// tests hand the relay tests/support/fake_publisher.h.
//
// Thread-safety: implementations may be called from several lane threads at
// once.
#pragma once

#include <cstddef>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "aws/messaging.h"
#include "aws/service_client.h"

namespace docvault::outbox {

// One event to publish: the payload as it is, its String attributes, and on a
// FIFO destination its group (the ordering key) and deduplication id (the
// event id).
struct PublishEntry {
  std::string payload;
  aws::MessageAttributes attributes;
  std::string ordering_key;
  std::string event_id;
};

struct EntryFailure {
  std::size_t index = 0;  // position in the entries given
  std::string error;      // "<code>: <message>", for the row's last_error
  // The kind of error, a stable name from aws::error_category's closed set
  // ("throttled", "access_denied", ...): what /readyz may show.
  std::string category = "other";
};

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Publishes entries (at most ten; their payloads may be moved from) to
  // `target` (a topic ARN or queue URL); returns the entries that failed.
  // `limits` bound the call (a probe after an outage is one short attempt).
  virtual std::vector<EntryFailure> publish(const std::string& target, std::span<PublishEntry> entries,
                                            std::stop_token stop, const aws::CallLimits& limits) = 0;
};

}  // namespace docvault::outbox
