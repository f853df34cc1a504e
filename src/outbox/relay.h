// OutboxRelay: publishes the outbox, at least once, nothing lost.
//
// Every event docvault emits was written to outbox_events in the transaction
// that caused it. The relay claims due rows oldest first (store.h:
// claim_outbox leases them, so several relays on one PostgreSQL never take
// the same row in the normal path, and one entity's events leave in order),
// publishes audit events to the audit SNS topic with PublishBatch and
// document events to the document-events queue with SendMessageBatch (up to
// ten entries and 256 KiB per call, several calls at once: the rows of one
// entity always in one lane, in order), and marks each row published. A row
// that fails stays pending with its attempt count and last error, and is
// retried after a capped exponential backoff; later rows of its entity wait
// behind it. A row is never deleted unpublished; published rows are deleted
// after the retention period, in small batches, by purge_expired(), which the
// process running the relay schedules (service/maintenance.h).
//
// If the process dies between publishing and marking, the lease runs out and
// the rows are published again: a duplicate carries the identical event_id
// (and payload), so subscribers can deduplicate.
//
// The relay wakes as soon as a transaction that added rows commits (the
// store's outbox signal: in-process, and LISTEN/NOTIFY across PostgreSQL
// instances), with a slow poll as a fallback.
//
// Where events go is a Publisher (publisher.h) per destination: SnsPublisher
// and SqsPublisher over AWS, a fake in the unit tests.
//
// While SNS/SQS or the database keep failing, a circuit breaker pauses the
// rounds (state in logs, metrics and /readyz, where the relay is `paused`).
// It counts publish calls that failed for their destination's sake (no
// answer, 5xx, throttling, credentials or permissions refused, a missing
// topic or queue) and rounds that failed on the database: three rounds in
// which a destination's every call failed open it. Rounds that publish
// nothing prove nothing and count neither way. Rows whose destination failed
// are due again at once (rows refused one by one back off on their own):
// the breaker paces them, probing with exponential backoff up to a second,
// each probe call a single attempt of `probe_timeout`, so publishing resumes
// within moments of the heal.
//
// Thread-safety: start() and stop() from one thread; publish_due() from the
// relay's own thread or a test's; purge_expired() from any one thread (the
// maintenance runner's); status() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "domain/clock.h"
#include "metrics/metrics.h"
#include "outbox/publisher.h"
#include "resilience/circuit_breaker.h"
#include "runtime/round_trip.h"
#include "store/store.h"

namespace docvault::outbox {

inline constexpr std::string_view kRelayComponent = "OutboxRelay";

struct RelayOptions {
  std::string audit_topic_arn;
  std::string document_events_queue_url;
  std::size_t claim_size = 500;
  std::chrono::seconds lease{30};
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{5 * 60 * 1000};
  std::chrono::hours retention{168};
  // The queue of pending rows is compacted (store.h: compact_outbox_queue)
  // once this many rows were marked, at most this often.
  std::size_t compact_after_rows = 2000;
  std::chrono::milliseconds compact_every{2000};
  // A probe after publishing failed (the breaker half-open) is one attempt
  // per call of at most this long, so a destination that accepts
  // connections and never answers does not hold the relay's recovery.
  std::chrono::milliseconds probe_timeout{2000};
  // Publish calls in flight per destination grow with the calls' measured
  // round trip (relay.cpp: lanes_for_round_trip), from four up to this many.
  std::size_t max_lanes_per_destination = 32;
};

// What /readyz reports.
struct RelayStatus {
  std::string state;    // running, paused (circuit open), stopped
  std::string breaker;  // closed, open, half_open
  // Why the breaker last counted a failure, as stable codes (the breaker's
  // Failure): "publish_failing" or "database_unavailable", and the kind of
  // the last error ("throttled", "access_denied", "unreachable", ...). The
  // error's text is logged, never reported here.
  std::string last_failure;
  std::string last_error;
  std::size_t pending = 0;               // sampled every few seconds
  double oldest_pending_age_seconds = 0;  // 0 when nothing is pending
};

class OutboxRelay {
 public:
  // Metrics go to `metrics` (docvault_outbox_*), which must outlive the relay.
  // `audit` publishes to options.audit_topic_arn, `document_events` to
  // options.document_events_queue_url; both, `store` and `clock` must outlive
  // the relay.
  OutboxRelay(store::Store& store, Publisher& audit, Publisher& document_events, const Clock& clock,
              RelayOptions options, metrics::Registry& metrics);
  // Over SNS (audit) and SQS (document events): publishers the relay owns.
  OutboxRelay(store::Store& store, const aws::SnsClient& sns, const aws::SqsClient& sqs, const Clock& clock,
              RelayOptions options, metrics::Registry& metrics);
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void start();
  // Stops at once; a batch being published finishes (its rows are marked),
  // and rows claimed ahead are made due again. Also run by the destructor.
  void stop();

  // Publishes and marks one batch: the one claimed ahead by the previous
  // call, or else one claimed now; returns its size. After a full batch the
  // next one is claimed while this one is published; it is published by the
  // next call, or made due again by stop() or if it has sat for more than
  // half the lease.
  std::size_t publish_due(std::stop_token stop = {});
  // Deletes published rows older than the retention, in small batches (a
  // stop ends it between two); counted in docvault_outbox_events_purged_total.
  // Any thread; one call at a time.
  std::size_t purge_expired(std::stop_token stop = {});

  // Reads the backlog (pending rows, oldest age) into the gauges and status.
  void sample_backlog();
  RelayStatus status() const;

 private:
  struct Instruments;
  struct Lane;
  class LanePool;
  void run(std::stop_token stop);
  std::vector<store::OutboxRecord> claim(Timestamp now);
  // Makes the rows claimed ahead due again (no attempt counted), unless
  // their lease ran out.
  void release_prefetched();
  // Publishes the lanes of one destination, each lane's rows in order in
  // calls of up to ten, every lane's call in flight at once from this one
  // thread; records what was published and what failed in each lane. Runs on
  // a thread of the lane pool, one per destination.
  void publish_lanes(std::span<Lane> lanes, Timestamp now, const aws::CallLimits& limits);
  // Cuts a lane's rows into calls (rows for an unknown target fail here).
  void chunk_lane(Lane& lane, Timestamp now);
  // Starts the lane's next call that has rows to send, if one is left (rows
  // held back behind a failure, or whose destination failed, fail here).
  void send_next(Lane& lane, std::size_t tag, PublishCalls& calls, const std::string& target, Timestamp now,
                 const aws::CallLimits& limits);
  // Records what the lane's call in flight came to.
  void call_ended(Lane& lane, const PublishCalls::Done& call, Timestamp now);
  static std::vector<Lane> split_into_lanes(std::vector<store::OutboxRecord>& records, std::size_t per_destination);

  OutboxRelay(store::Store& store, std::unique_ptr<Publisher> owned_audit, std::unique_ptr<Publisher> owned_events,
              Publisher* audit, Publisher* document_events, const Clock& clock, RelayOptions options,
              metrics::Registry& metrics);

  store::Store& store_;
  std::unique_ptr<Publisher> owned_audit_, owned_events_;  // when built over the AWS clients
  Publisher& audit_;
  Publisher& document_events_;
  const Clock& clock_;
  const RelayOptions options_;
  std::unique_ptr<Instruments> metrics_;
  std::unique_ptr<LanePool> lane_pool_;
  // Each destination's calls, made by its publisher at the first round and
  // used by one thread of the pool at a time.
  std::unique_ptr<PublishCalls> audit_calls_, document_events_calls_;
  resilience::CircuitBreaker breaker_;
  std::atomic<bool> running_{false};
  std::atomic<std::size_t> pending_{0};
  std::atomic<double> oldest_pending_age_seconds_{0};
  // What the last publish_due round's calls said, for the breaker; the
  // relay's thread only.
  struct RoundOutcome {
    std::size_t calls_answered = 0;
    std::string dependency_error;           // "<destination>: <error>" when a destination failed
    std::string dependency_error_category;  // its stable kind (aws::error_category)
  };
  RoundOutcome last_round_;
  // The next batch, claimed while the last one was published; the relay's
  // thread only (or the test calling publish_due).
  struct Prefetched {
    std::vector<store::OutboxRecord> records;
    Timestamp claimed_at;
    Timestamp lease_until;
  };
  std::optional<Prefetched> prefetched_;
  bool claimed_ahead_ = false;  // the last round published a batch claimed ahead
  std::size_t marked_since_compaction_ = 0;
  // The publish calls' round trip: each round's lanes per destination follow it.
  runtime::RoundTrip round_trip_;
  std::jthread thread_;
};

}  // namespace docvault::outbox
