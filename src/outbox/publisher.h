// Publisher: where the relay sends a batch of outbox events, and nothing more.
//
// One call publishes up to ten entries (and 256 KiB: the relay chunks) to one
// destination and answers per entry: the entries it returns failed, every
// other one was accepted. A call that fails as a whole (the service is
// unreachable, throttled past its retries) ends with its error, and the relay
// counts every entry of it failed. The relay runs many calls at once, all
// from one thread per destination (PublishCalls). `SnsPublisher` and
// `SqsPublisher` (aws_publisher.h) publish to an SNS topic (PublishBatch) and
// an SQS queue (SendMessageBatch); tests hand the relay
// tests/support/fake_publisher.h.
//
// Thread-safety: concurrent() may be called from several threads at once;
// each PublishCalls is used by one thread.
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <span>
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

// Publish calls in flight at once, driven by the one thread that calls
// wait(): over a long route, one thread keeps a destination's dozens of
// calls going (relay.cpp: its lanes). Not thread-safe.
class PublishCalls {
 public:
  struct Done {
    std::size_t tag = 0;
    std::vector<EntryFailure> failures;  // the call was answered: the entries that failed
    std::exception_ptr error;            // the call failed as a whole
  };

  virtual ~PublishCalls() = default;
  // Starts publishing `entries` (one to ten; their payloads may be moved
  // from) to `target` (a topic ARN or queue URL); it ends in a later wait()
  // under `tag`. `limits` bound the call (a probe after an outage is one
  // short attempt).
  virtual void start(std::size_t tag, const std::string& target, std::span<PublishEntry> entries,
                     const aws::CallLimits& limits) = 0;
  // Blocks until at least one call ended and returns those that did; empty
  // only when none is in flight.
  virtual std::vector<Done> wait() = 0;
};

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Calls in flight at once; the publisher must outlive them.
  virtual std::unique_ptr<PublishCalls> concurrent() = 0;
};

}  // namespace docvault::outbox
