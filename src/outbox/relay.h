// OutboxRelay: publishes the outbox, at least once, nothing lost.
//
// Every event docvault emits was written to outbox_events in the transaction
// that caused it. The relay claims due rows oldest first (store.h:
// claim_outbox leases them, so several relays on one PostgreSQL never take
// the same row in the normal path, and one entity's events leave in order),
// publishes audit events to the audit SNS topic with PublishBatch and
// document events to the document-events queue with SendMessageBatch (up to
// ten entries and 256 KiB per call), and marks each row published. A row
// that fails stays pending with its attempt count and last error, and is
// retried after a capped exponential backoff; later rows of its entity wait
// behind it. A row is never deleted unpublished; published rows are deleted
// after the retention period, in small batches.
//
// If the process dies between publishing and marking, the lease runs out and
// the rows are published again: a duplicate carries the identical event_id
// (and payload), so subscribers can deduplicate.
//
// The relay wakes as soon as a transaction that added rows commits (the
// store's outbox signal: in-process, and LISTEN/NOTIFY across PostgreSQL
// instances), with a slow poll as a fallback.
//
// Thread-safety: start() and stop() from one thread; publish_due() from the
// relay's own thread or a test's.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <thread>

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "domain/clock.h"
#include "store/store.h"

namespace docvault::outbox {

inline constexpr std::string_view kRelayComponent = "OutboxRelay";

struct RelayOptions {
  std::string audit_topic_arn;
  std::string document_events_queue_url;
  std::size_t claim_size = 100;
  std::chrono::seconds lease{30};
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{5 * 60 * 1000};
  std::chrono::hours retention{168};
  std::chrono::seconds retention_interval{60};
};

struct RelayStats {
  std::uint64_t published = 0;
  std::uint64_t failed = 0;
  std::uint64_t purged = 0;
};

class OutboxRelay {
 public:
  OutboxRelay(store::Store& store, const aws::SnsClient& sns, const aws::SqsClient& sqs, const Clock& clock,
              RelayOptions options);
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void start();
  // Stops at once; a batch being published finishes (its rows are marked).
  void stop();

  // Claims, publishes and marks one batch; returns the rows claimed.
  std::size_t publish_due(std::stop_token stop = {});
  // Deletes published rows older than the retention, in small batches.
  std::size_t purge_expired(std::stop_token stop = {});

  RelayStats stats() const;

 private:
  void run(std::stop_token stop);

  store::Store& store_;
  const aws::SnsClient& sns_;
  const aws::SqsClient& sqs_;
  const Clock& clock_;
  const RelayOptions options_;
  std::atomic<std::uint64_t> published_{0}, failed_{0}, purged_{0};
  std::jthread thread_;
};

}  // namespace docvault::outbox
