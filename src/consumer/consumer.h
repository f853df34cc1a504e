// DocumentVaultConsumer: the background worker that turns entity events from
// SQS into cascade archives, exactly once in effect over at-least-once
// delivery.
//
// A poller thread long-polls the queue and hands messages to an EntityQueue
// (while the queue has a backlog, more pollers receive at once, as many as
// the receives' round trip asks for; one on a FIFO queue);
// `concurrency` worker threads process them, never two of one entity at once
// (on a FIFO queue, URL ending in .fifo: never two of one MessageGroupId, in
// order, and when one fails the rest of its group in hand waits for it).
// The next receive overlaps processing, and the poller waits while the number
// of messages in flight is at its bound, so a slow database slows polling
// instead of filling memory. A worker takes up to a receive's worth of
// messages (of distinct entities) at once; for each message it:
//   - rejects it if it cannot be trusted or understood (body corrupted, not
//     the event contract): the message is recorded in rejected_messages (and
//     sent to the dead-letter queue, if one is set; on a .fifo DLQ with a
//     MessageGroupId and a MessageDeduplicationId) and then deleted, with a
//     log line and a count;
//   - acknowledges and counts (docvault_consumer_messages_ignored_total) a
//     well-formed event whose action the service does not handle, or rejects
//     it as unknown_action when `reject_unknown_actions` says so;
//   - otherwise hands its event to DocumentService::handle_entity_events,
//     together with the others the worker holds: one transaction records
//     them and archives their entities' documents with the outgoing events,
//     set-based; then the messages are acknowledged (batched deletes). If that
//     transaction fails (other than the database being down), each message
//     is retried in a transaction of its own, so only the culprit fails. An
//     event_id seen before with a different body is rejected
//     (event_id_reused), never silently skipped;
//   - on a failure of its own (not the database or SQS being down) logs it and
//     sets the message's visibility to a retry delay that grows with its
//     ApproximateReceiveCount (retry_base doubling up to retry_max, half of
//     it random), so it is neither retried in a hot loop nor left for the
//     whole visibility timeout. When the queue's redrive policy is known
//     (its maxReceiveCount), a failure on the last receive before the
//     dead-letter queue is recorded in rejected_messages as
//     retries_exhausted with the failure's detail (SQS then moves the
//     message itself). A failure of the database leaves the message for its
//     visibility timeout and opens the breaker.
// Messages in progress get visibility heartbeats (Acknowledger).
//
// While the database or SQS is down a circuit breaker stops receiving; it
// probes at most a second apart, each probe a database ping and a short
// receive (no long poll, one attempt of probe_timeout), so a dependency that
// accepts connections and never answers holds no probe for long and the
// backlog drains within moments of the heal.
//
// stop() stops polling at once (the long poll is cancelled), releases
// messages not yet started, lets those in progress finish and be
// acknowledged within the shutdown timeout, and returns.
//
// The queue is a MessageSource (message_source.h): SqsMessageSource in
// production, a fake in the unit tests. Time (heartbeats, backoff, the
// shutdown deadline) comes from the Clock.
//
// Counts, latencies and the breaker's state go to the metrics registry
// (docvault_consumer_*); status() is what /readyz shows.
//
// Thread-safety: start() and stop() from one thread (the application's);
// status() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aws/sns_signature.h"
#include "aws/sqs_client.h"
#include "consumer/message_source.h"
#include "metrics/metrics.h"
#include "resilience/circuit_breaker.h"
#include "runtime/mutex.h"
#include "runtime/round_trip.h"
#include "service/document_service.h"

namespace docvault::consumer {

// Every consumer log line carries component=DocumentVaultConsumer.
inline constexpr std::string_view kConsumerComponent = "DocumentVaultConsumer";

struct ConsumerOptions {
  std::string queue_url;
  int max_messages = 5;       // per receive, 1..10
  int wait_time_seconds = 20;  // long poll, 0..20
  std::optional<int> visibility_timeout_seconds;  // unset: the queue's own
  int concurrency = 4;
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(25);
  std::optional<std::string> dead_letter_queue_url;
  // When set, every message must be a correctly signed SNS Notification from
  // an allowed topic; others (raw deliveries too) are rejected as
  // invalid_signature.
  std::shared_ptr<const aws::SnsSignatureVerifier> sns_verifier;
  // A well-formed event whose action the service does not handle: rejected
  // (unknown_action) when true; otherwise acknowledged and counted as ignored.
  bool reject_unknown_actions = false;
  // A message that failed on its n-th receive comes back after
  // min(retry_max, retry_base * 2^(n-1)), half of it random.
  std::chrono::seconds retry_base{2};
  std::chrono::seconds retry_max{300};
  // The breaker's probes: one attempt of at most this long.
  std::chrono::milliseconds probe_timeout{2000};
};

// What /readyz reports.
struct ConsumerStatus {
  std::string state;         // running, paused (circuit open), stopped
  std::string breaker;       // closed, open, half_open
  // Why the breaker last counted a failure, as stable codes (breaker's
  // Failure): "database_unavailable" or "sqs_unavailable", and the kind of
  // error ("unreachable", "network_error", "access_denied", ...). The error's
  // text is logged, never reported here.
  std::string last_failure;
  std::string last_error;
  double seconds_since_last_poll = 0;
};

class Acknowledger;

class DocumentVaultConsumer {
 public:
  // Metrics go to `metrics` (docvault_consumer_*), which must outlive the
  // consumer, as must `source` and `clock`. options.queue_url only names the
  // queue in log lines; options.dead_letter_queue_url is the source's.
  DocumentVaultConsumer(MessageSource& source, service::DocumentService& documents, const Clock& clock,
                        ConsumerOptions options, metrics::Registry& metrics);
  // Over SQS: an SqsMessageSource for options.queue_url (and the dead-letter
  // queue, if set), owned by the consumer.
  DocumentVaultConsumer(const aws::SqsClient& sqs, service::DocumentService& documents, const Clock& clock,
                        ConsumerOptions options, metrics::Registry& metrics);
  ~DocumentVaultConsumer();
  DocumentVaultConsumer(const DocumentVaultConsumer&) = delete;
  DocumentVaultConsumer& operator=(const DocumentVaultConsumer&) = delete;

  void start();
  void stop();

  ConsumerStatus status() const;

 private:
  struct Job;
  struct Instruments;

  // Poller number `poller` (0 long-polls always, the others while there is
  // a backlog).
  void poll(std::stop_token stop, std::size_t poller);
  // Receives to keep in flight while there is a backlog: enough for
  // kReceivesPerSecond at the receives' round trip, at most kMaxPollers.
  std::size_t pollers_wanted() const {
    return receive_round_trip_.in_flight_for(kReceivesPerSecond, 1, kMaxPollers);
  }
  static constexpr double kReceivesPerSecond = 100;  // 1,000 messages a second, ten a receive
  static constexpr std::size_t kMaxPollers = 8;
  void work();
  // Checks a message before its event is handled: false when it was
  // released, rejected or failed instead.
  bool admit(Job& job);
  // Handles admitted messages' events as one transaction; when it fails for
  // a reason other than the database being down, one by one.
  void handle(const std::vector<Job*>& jobs);
  void finish(Job& job, const service::EventResult& result);
  // The message failed. `own_fault`: for a reason of its own (not the
  // database or a certificate fetch), so it gets its retry delay and, on its
  // last receive, a retries_exhausted record.
  void fail(Job& job, const std::exception& e, bool own_fault = false);
  void reject(Job& job, std::string_view reason, const std::string& detail);
  void finish_in_flight(std::size_t count);
  // Wakes the pollers beyond the first when the receives' round trip asks
  // for more than one.
  void wake_extra_pollers();
  // The queue's approximate depth into the metrics (GetQueueAttributes).
  void sample_queue(std::stop_token stop);
  // Counts a message that failed, by reason, and tells the breaker if the
  // database is unreachable.
  void count_failure(const std::exception& e);
  // A failure of the database or SQS (not of the message): counts toward
  // opening the circuit breaker.
  enum class Dependency { database, sqs };
  void dependency_failed(Dependency what, const std::exception& e);
  // Waits while the breaker is open; true when a probe of the database
  // succeeded (or none was needed) and receiving may go ahead.
  bool wait_for_dependencies(std::stop_token stop);
  // FIFO queues: after a message of a group fails, the messages of that group
  // received with it are not processed (nor deleted) but released.
  void hold_group(const Job& job);
  bool held_back(const Job& job);

  // Over `borrowed`, or else over `owned`.
  DocumentVaultConsumer(std::unique_ptr<MessageSource> owned, MessageSource* borrowed,
                        service::DocumentService& documents, const Clock& clock, ConsumerOptions options,
                        metrics::Registry& metrics);

  std::unique_ptr<MessageSource> owned_source_;  // when built over SQS
  MessageSource& source_;
  service::DocumentService& documents_;
  const Clock& clock_;
  const ConsumerOptions options_;
  const std::size_t max_in_flight_;
  const bool fifo_;  // the source is a FIFO queue
  // The queue's redrive policy's maxReceiveCount, read at start(); unset
  // when it has none or it could not be read.
  std::optional<int> max_receive_count_;

  std::unique_ptr<Acknowledger> acknowledger_;
  struct Queue;
  std::unique_ptr<Queue> queue_;

  runtime::Mutex in_flight_mutex_;
  std::condition_variable_any in_flight_cv_;         // the first poller and stop() wait on it
  std::condition_variable_any extra_pollers_cv_;  // the other pollers wait on it
  std::size_t in_flight_ GUARDED_BY(in_flight_mutex_) = 0;  // received and not yet finished
  std::size_t extra_receiving_ GUARDED_BY(in_flight_mutex_) = 0;  // pollers beyond the first, in a receive

  std::unique_ptr<Instruments> metrics_;
  resilience::CircuitBreaker breaker_;
  std::atomic<bool> running_{false};
  std::atomic<std::int64_t> last_poll_ms_{0};  // steady clock, when the last receive returned
  std::atomic<std::uint64_t> receives_{0};     // receives that brought messages
  std::atomic<bool> backlog_{false};           // the last receive came back full (standard queues)
  runtime::RoundTrip receive_round_trip_;      // of full receives

  runtime::Mutex held_groups_mutex_;
  // group -> the receive that brought its failed message
  std::map<std::string, std::uint64_t> held_groups_ GUARDED_BY(held_groups_mutex_);

  std::vector<std::jthread> pollers_;
  std::vector<std::jthread> workers_;
};

}  // namespace docvault::consumer
