#include "consumer/consumer.h"

#include <algorithm>
#include <set>

#include "consumer/acknowledger.h"
#include "consumer/entity_queue.h"
#include "aws/service_client.h"
#include "consumer/sqs_message_source.h"
#include "log/log.h"
#include "runtime/backoff.h"
#include "runtime/mutex.h"
#include "runtime/parse.h"

namespace docvault::consumer {

struct DocumentVaultConsumer::Job {
  aws::ReceivedMessage message;
  std::optional<Validated<EntityEvent>> event;  // unset when the body failed its integrity check
  int receive_count = 0;
  runtime::SteadyTime received_at;
  std::uint64_t receive_number = 0;  // which ReceiveMessage call brought it (1, 2, ...)
  Trace trace;                       // the work's: continued from the message, or new
};

struct DocumentVaultConsumer::Queue : EntityQueue<Job> {};

// The consumer's metrics, looked up once.
struct DocumentVaultConsumer::Instruments {
  explicit Instruments(metrics::Registry& r)
      : registry(r),
        received(r.counter("docvault_consumer_messages_received_total", "Messages received from SQS.")),
        receives(r.counter("docvault_consumer_receives_total", "ReceiveMessage calls answered, empty ones too.")),
        processed(r.counter("docvault_consumer_events_processed_total",
                            "Entity events handled (recorded in processed_events and applied).")),
        duplicates(r.counter("docvault_consumer_duplicates_total", "Events whose event_id was processed before.")),
        unsupported(r.counter("docvault_consumer_unsupported_entity_type_total",
                              "Events for an unsupported entity_type, marked processed.")),
        after_deletion(r.counter("docvault_consumer_events_after_deletion_total",
                                 "Events for an entity deleted before (deletion is final), marked processed.")),
        released(r.counter("docvault_consumer_messages_released_total",
                           "Messages made visible again unprocessed (shutdown, FIFO hold-back).")),
        documents_archived(r.counter("docvault_documents_archived_total", "Documents archived by entity events.")),
        processing_seconds(r.histogram("docvault_consumer_processing_seconds",
                                       "From receive to acknowledgement, per message.", metrics::latency_buckets())),
        batch_size(r.histogram("docvault_consumer_receive_batch_size", "Messages per non-empty receive.",
                               {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})),
        message_age(r.histogram("docvault_consumer_message_age_seconds",
                                "Age of a message when received (now - SentTimestamp).",
                                {0.01, 0.1, 1, 5, 15, 60, 300, 900, 3600, 86400})),
        in_flight(r.gauge("docvault_consumer_in_flight_messages", "Messages received and not yet finished.")),
        breaker_open(r.gauge("docvault_consumer_circuit_open", "1 while the consumer's circuit breaker is open.")) {}

  metrics::Counter& rejected(std::string_view reason) {
    return registry.counter("docvault_consumer_messages_rejected_total",
                            "Messages recorded in rejected_messages, by reason.", {{"reason", std::string(reason)}});
  }
  // By action, for the first kIgnoredActionLabels distinct actions; later ones
  // count as "other" (the action comes from the message: a hostile or broken
  // publisher must not grow the registry without bound).
  metrics::Counter& ignored(const std::string& action) {
    static constexpr std::size_t kIgnoredActionLabels = 32;
    runtime::MutexLock lock(ignored_mutex);
    bool known = ignored_actions.contains(action);
    if (!known && ignored_actions.size() < kIgnoredActionLabels) {
      ignored_actions.insert(action);
      known = true;
    }
    return registry.counter("docvault_consumer_messages_ignored_total",
                            "Well-formed entity events acknowledged unhandled: their action is not enabled.",
                            {{"action", known ? action : std::string("other")}});
  }
  metrics::Counter& failed(std::string_view reason) {
    return registry.counter("docvault_consumer_messages_failed_total",
                            "Messages left for redelivery after a failure, by reason.",
                            {{"reason", std::string(reason)}});
  }

  metrics::Registry& registry;
  metrics::Counter &received, &receives, &processed, &duplicates, &unsupported, &after_deletion, &released,
      &documents_archived;
  metrics::Histogram &processing_seconds, &batch_size, &message_age;
  metrics::Gauge &in_flight, &breaker_open;
  runtime::Mutex ignored_mutex;
  std::set<std::string> ignored_actions GUARDED_BY(ignored_mutex);
};

namespace {

// A numeric attribute of a message or queue; `fallback` when absent or not a number.
template <class Int>
Int number_of(const std::map<std::string, std::string>& attributes, const std::string& name, Int fallback) {
  auto it = attributes.find(name);
  if (it == attributes.end()) return fallback;
  return runtime::parse_integer<Int>(it->second).value_or(fallback);
}

int receive_count_of(const aws::ReceivedMessage& m) { return number_of(m.attributes, "ApproximateReceiveCount", 0); }

struct QueueSettings {
  std::chrono::seconds visibility_timeout{30};
  std::optional<int> max_receive_count;  // the redrive policy's
};

// The maxReceiveCount of a RedrivePolicy attribute (a JSON object whose value
// SQS gives as a number or a string); unset when absent or unreadable.
std::optional<int> max_receive_count_of(const std::string& redrive_policy) {
  auto policy = nlohmann::json::parse(redrive_policy, nullptr, false);
  if (!policy.is_object() || !policy.contains("maxReceiveCount")) return std::nullopt;
  const auto& count = policy["maxReceiveCount"];
  std::optional<int> value;
  if (count.is_number_integer()) value = count.get<int>();
  if (count.is_string()) value = runtime::parse_integer<int>(count.get<std::string>());
  if (value && *value >= 1) return value;
  return std::nullopt;
}

// The queue's visibility timeout (unless the consumer sets its own) and its
// redrive policy's maxReceiveCount.
QueueSettings queue_settings(MessageSource& source, const ConsumerOptions& options) {
  QueueSettings settings;
  int seconds = options.visibility_timeout_seconds.value_or(30);
  try {
    const std::vector<std::string> names{"VisibilityTimeout", "RedrivePolicy"};
    auto attributes = source.attributes(names, {});
    if (!options.visibility_timeout_seconds) seconds = number_of(attributes, "VisibilityTimeout", seconds);
    if (auto policy = attributes.find("RedrivePolicy"); policy != attributes.end()) {
      settings.max_receive_count = max_receive_count_of(policy->second);
    }
  } catch (const std::exception& e) {
    log::warn(kConsumerComponent,
              "Could not read the queue's attributes; assuming a 30 s visibility timeout and no redrive policy",
              {{"error", e.what()}});
  }
  // Heartbeats come at half the timeout; below 2 s they would be constant.
  settings.visibility_timeout = std::chrono::seconds(std::max(seconds, 2));
  return settings;
}

// The trace a message's work joins: a W3C traceparent message attribute (set
// on the queue's message, or on the SNS message, in the envelope), else SQS's
// AWSTraceHeader system attribute; a new trace without either.
Trace trace_of(const aws::ReceivedMessage& m, const EntityEvent* event) {
  auto attribute = [&](const char* name) -> std::optional<std::string> {
    auto it = m.message_attributes.find(name);
    if (it == m.message_attributes.end() || it->second.data_type != "String") return std::nullopt;
    return it->second.string_value;
  };
  std::optional<IncomingTrace> incoming;
  if (auto header = attribute("traceparent")) incoming = parse_traceparent(*header, attribute("tracestate").value_or(""));
  if (!incoming && event && event->envelope_traceparent) {
    incoming = parse_traceparent(*event->envelope_traceparent, event->envelope_tracestate.value_or(""));
  }
  if (!incoming) {
    if (auto it = m.attributes.find("AWSTraceHeader"); it != m.attributes.end()) {
      incoming = parse_aws_trace_header(it->second);
    }
  }
  return continue_trace(incoming);
}

std::string group_of(const aws::ReceivedMessage& m) {
  auto it = m.attributes.find("MessageGroupId");
  return it == m.attributes.end() ? std::string() : it->second;
}

std::int64_t steady_ms(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.steady_now().time_since_epoch()).count();
}

std::int64_t elapsed_ms(const Clock& clock, runtime::SteadyTime since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.steady_now() - since).count();
}

}  // namespace

DocumentVaultConsumer::DocumentVaultConsumer(const aws::SqsClient& sqs, service::DocumentService& documents,
                                             const Clock& clock, ConsumerOptions options, metrics::Registry& metrics)
    : DocumentVaultConsumer(std::make_unique<SqsMessageSource>(sqs, options.queue_url, options.dead_letter_queue_url),
                            nullptr, documents, clock, options, metrics) {}

DocumentVaultConsumer::DocumentVaultConsumer(MessageSource& source, service::DocumentService& documents,
                                             const Clock& clock, ConsumerOptions options, metrics::Registry& metrics)
    : DocumentVaultConsumer(nullptr, &source, documents, clock, std::move(options), metrics) {}

DocumentVaultConsumer::DocumentVaultConsumer(std::unique_ptr<MessageSource> owned, MessageSource* borrowed,
                                             service::DocumentService& documents, const Clock& clock,
                                             ConsumerOptions options, metrics::Registry& metrics)
    : owned_source_(std::move(owned)),
      source_(borrowed != nullptr ? *borrowed : *owned_source_),
      documents_(documents),
      clock_(clock),
      options_(std::move(options)),
      // Each worker holds up to one receive's worth, and one more batch may
      // wait: receiving overlaps processing, and no long poll is pending while
      // a full batch waits unstarted (a long poll cancelled on our side may
      // still take messages on the server's, which would hide a released batch).
      max_in_flight_(static_cast<std::size_t>((options_.concurrency + 1) * options_.max_messages)),
      fifo_(source_.fifo()),
      queue_(std::make_unique<Queue>()),
      metrics_(std::make_unique<Instruments>(metrics)),
      // One failure of the database or SQS is enough to stop pulling: each
      // message received meanwhile would fail and count toward the DLQ.
      // Probes are cheap and short (wait_for_dependencies), so they come at
      // most a second apart.
      breaker_(std::string(kConsumerComponent),
               resilience::CircuitBreaker::Options{.failure_threshold = 1,
                                                   .base_delay = std::chrono::milliseconds(250),
                                                   .max_delay = std::chrono::milliseconds(1000)},
               clock) {
  metrics.gauge_callback("docvault_consumer_seconds_since_last_poll",
                         "Seconds since a receive last returned (grows while polling is stuck or paused).",
                         [this] { return status().seconds_since_last_poll; });
}

DocumentVaultConsumer::~DocumentVaultConsumer() { stop(); }

void DocumentVaultConsumer::start() {
  const auto settings = queue_settings(source_, options_);
  max_receive_count_ = settings.max_receive_count;
  acknowledger_ = std::make_unique<Acknowledger>(source_, settings.visibility_timeout, clock_);
  acknowledger_->start();
  for (int i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] { work(); });
  last_poll_ms_ = steady_ms(clock_);
  running_ = true;
  // FIFO: one poller, so a group's messages are received in order.
  const std::size_t pollers = fifo_ ? 1 : kMaxPollers;
  for (std::size_t i = 0; i < pollers; ++i) {
    pollers_.emplace_back([this, i](std::stop_token stop) { poll(stop, i); });
  }
  log::info(kConsumerComponent, "Document Vault consumer started as background task",
            {{"queue_url", options_.queue_url},
             {"max_messages", options_.max_messages},
             {"wait_time_seconds", options_.wait_time_seconds},
             {"concurrency", options_.concurrency},
             {"max_in_flight", max_in_flight_},
             {"visibility_timeout_seconds", settings.visibility_timeout.count()},
             {"max_receive_count", max_receive_count_ ? nlohmann::json(*max_receive_count_) : nlohmann::json()}});
}

void DocumentVaultConsumer::stop() {
  if (pollers_.empty()) return;
  const auto deadline = clock_.steady_now() + options_.shutdown_timeout;
  log::info(kConsumerComponent, "Document Vault consumer stopping");

  // No new messages: the long poll in flight is cancelled.
  for (auto& poller : pollers_) poller.request_stop();
  pollers_.clear();  // joins

  // Messages received but not started go back to the queue at once.
  auto unstarted = queue_->take_unstarted();
  if (!unstarted.empty()) {
    std::vector<std::string> handles;
    for (const auto& job : unstarted) handles.push_back(job.message.receipt_handle);
    acknowledger_->release(handles);
    metrics_->released.inc(static_cast<double>(unstarted.size()));
    finish_in_flight(unstarted.size());
    log::info(kConsumerComponent, "Released unstarted messages", {{"count", unstarted.size()}});
  }

  // Let the messages in progress finish, up to the deadline.
  {
    runtime::MutexLock lock(in_flight_mutex_);
    if (!clock_.wait_until(in_flight_cv_, lock.native(), {}, deadline,
                           [&]() REQUIRES(in_flight_mutex_) { return in_flight_ == 0; })) {
      log::warn(kConsumerComponent, "Shutdown timeout reached with messages still in progress",
                {{"in_flight", in_flight_}});
    }
  }
  queue_->close();
  workers_.clear();  // joins; a worker finishes the message it holds
  acknowledger_->stop(deadline + std::chrono::seconds(2));
  running_ = false;
  log::info(kConsumerComponent, "Document Vault consumer shutdown complete");
}

void DocumentVaultConsumer::hold_group(const Job& job) {
  if (!fifo_) return;
  auto group = group_of(job.message);
  if (group.empty()) return;
  runtime::MutexLock lock(held_groups_mutex_);
  held_groups_[group] = std::max(held_groups_[group], job.receive_number);
}

bool DocumentVaultConsumer::held_back(const Job& job) {
  if (!fifo_) return false;
  auto group = group_of(job.message);
  runtime::MutexLock lock(held_groups_mutex_);
  auto it = held_groups_.find(group);
  if (it == held_groups_.end()) return false;
  // Received with (or before) the failed one: held. Received after it: the
  // group's redelivery, in order again.
  if (job.receive_number <= it->second) return true;
  held_groups_.erase(it);
  return false;
}

ConsumerStatus DocumentVaultConsumer::status() const {
  ConsumerStatus s;
  auto breaker = breaker_.state();
  s.breaker = std::string(resilience::to_string(breaker));
  s.state = !running_ ? "stopped" : breaker == resilience::CircuitBreaker::State::closed ? "running" : "paused";
  auto failure = breaker_.last_failure();
  s.last_failure = std::move(failure.reason);
  s.last_error = std::move(failure.error);
  s.seconds_since_last_poll = static_cast<double>(steady_ms(clock_) - last_poll_ms_.load()) / 1000.0;
  return s;
}

void DocumentVaultConsumer::sample_queue(std::stop_token stop) {
  static const std::vector<std::pair<std::string, std::string>> kStates = {
      {"ApproximateNumberOfMessages", "visible"},
      {"ApproximateNumberOfMessagesNotVisible", "in_flight"},
      {"ApproximateNumberOfMessagesDelayed", "delayed"}};
  try {
    std::vector<std::string> names;
    for (const auto& [name, state] : kStates) names.push_back(name);
    auto attributes = source_.attributes(names, stop);
    for (const auto& [name, state] : kStates) {
      const auto count = number_of<std::int64_t>(attributes, name, -1);
      if (count < 0) continue;
      metrics_->registry
          .gauge("docvault_consumer_queue_messages", "The queue's approximate depth, by state (sampled every 30 s).",
                 {{"state", state}})
          .set(static_cast<double>(count));
    }
  } catch (const std::exception& e) {
    log::debug(kConsumerComponent, "Could not sample the queue's depth", {{"error", e.what()}});
  }
}

void DocumentVaultConsumer::count_failure(const std::exception& e) {
  metrics_->failed(dynamic_cast<const store::StoreError*>(&e) ? "database" : "other").inc();
  // Only an unreachable database pauses everything; an error of one
  // message's transaction is that message's problem.
  if (dynamic_cast<const store::StoreUnavailable*>(&e)) dependency_failed(Dependency::database, e);
}

void DocumentVaultConsumer::dependency_failed(Dependency what, const std::exception& e) {
  // The codes may be shown to anyone (/readyz); the error's text goes to the log only.
  resilience::CircuitBreaker::Failure failure;
  if (what == Dependency::database) {
    failure.reason = "database_unavailable";
    failure.error = std::string(store::error_category(e));
  } else {
    failure.reason = "sqs_unavailable";
    failure.error = std::string(aws::error_category(e));
  }
  failure.detail = e.what();
  breaker_.record_failure(std::move(failure));
  metrics_->breaker_open.set(breaker_.state() == resilience::CircuitBreaker::State::closed ? 0 : 1);
}

bool DocumentVaultConsumer::wait_for_dependencies(std::stop_token stop) {
  while (!stop.stop_requested()) {
    if (breaker_.state() == resilience::CircuitBreaker::State::closed) return true;
    if (breaker_.allow()) {
      // Half-open: probe the database before pulling any message.
      try {
        documents_.check_database();
        return true;  // the receive that follows probes SQS
      } catch (const std::exception& e) {
        dependency_failed(Dependency::database, e);
        continue;
      }
    }
    clock_.sleep_for(std::chrono::milliseconds(100), stop);
  }
  return false;
}

void DocumentVaultConsumer::finish_in_flight(std::size_t count) {
  if (count == 0) return;
  {
    runtime::MutexLock lock(in_flight_mutex_);
    in_flight_ -= std::min(count, in_flight_);
    metrics_->in_flight.set(static_cast<double>(in_flight_));
  }
  in_flight_cv_.notify_all();
  if (backlog_) wake_extra_pollers();
}

void DocumentVaultConsumer::wake_extra_pollers() {
  // Only when the round trip asks for them: idle, they cost no wake-up. One
  // at a time: each that goes wakes the next if one more may go.
  if (pollers_wanted() <= 1) return;
  { runtime::MutexLock lock(in_flight_mutex_); }  // a poller between its check and its wait sees the change
  extra_pollers_cv_.notify_one();
}

void DocumentVaultConsumer::poll(std::stop_token stop, std::size_t poller) {
  auto next_queue_sample = clock_.steady_now();
  const auto batch = static_cast<std::size_t>(options_.max_messages);
  // The first poller long-polls, always; the others only while the queue has
  // a backlog (the last receive came back full), as many as the receives'
  // round trip asks for, each receive a short one: an idle queue costs one
  // ReceiveMessage per wait period, and a receive of theirs is never left
  // waiting on an empty queue.
  const bool extra = poller > 0;

  while (!stop.stop_requested()) {
    {
      // Bound the work in memory: receive only when a full batch fits, and
      // hold its room during the call, so pollers together stay within it.
      runtime::MutexLock lock(in_flight_mutex_);
      auto room = [&]() REQUIRES(in_flight_mutex_) { return in_flight_ + batch <= max_in_flight_; };
      // The other pollers: while there is a backlog, as many receiving at
      // once as the round trip asks for beside the first.
      auto wanted = [&]() REQUIRES(in_flight_mutex_) {
        return room() && backlog_ && extra_receiving_ + 1 < pollers_wanted();
      };
      if (!extra) {
        in_flight_cv_.wait(lock.native(), stop, room);
      } else {
        extra_pollers_cv_.wait(lock.native(), stop, wanted);
      }
      if (stop.stop_requested()) break;
      in_flight_ += batch;
      metrics_->in_flight.set(static_cast<double>(in_flight_));
      if (extra) {
        ++extra_receiving_;
        if (wanted()) extra_pollers_cv_.notify_one();  // one more may go
      }
    }
    // An extra poller's turn ends with this round of the loop.
    struct Receiving {
      DocumentVaultConsumer& consumer;
      bool extra;
      ~Receiving() {
        if (!extra) return;
        runtime::MutexLock lock(consumer.in_flight_mutex_);
        --consumer.extra_receiving_;
      }
    } receiving{*this, extra};
    if (!extra) {
      // While the database or SQS is down, pull nothing.
      if (!wait_for_dependencies(stop)) {
        finish_in_flight(batch);
        break;
      }
      if (clock_.steady_now() >= next_queue_sample) {
        sample_queue(stop);
        next_queue_sample = clock_.steady_now() + std::chrono::seconds(30);
      }
    } else if (breaker_.state() != resilience::CircuitBreaker::State::closed) {
      backlog_ = false;  // the first poller probes; the others wait for its next full receive
      finish_in_flight(batch);
      continue;
    }

    std::vector<aws::ReceivedMessage> messages;
    try {
      // Half-open, the receive is SQS's probe: no long poll, one short attempt.
      const bool probe = !extra && breaker_.state() == resilience::CircuitBreaker::State::half_open;
      const auto started = clock_.steady_now();
      messages = source_.receive({.max_messages = options_.max_messages,
                                  .wait_time_seconds = probe || extra ? 0 : options_.wait_time_seconds,
                                  .visibility_timeout_seconds = options_.visibility_timeout_seconds,
                                  .limits = probe ? aws::CallLimits::single(options_.probe_timeout)
                                                  : aws::CallLimits{}},
                                 stop);
      metrics_->receives.inc();
      last_poll_ms_ = steady_ms(clock_);
      if (probe) breaker_.record_success();
      // A full receive did not wait in its long poll: its time is the round
      // trip, and more is waiting.
      const bool full = messages.size() >= batch;
      if (full) receive_round_trip_.record(clock_.steady_now() - started);
      if (!fifo_ && full != backlog_.exchange(full) && full) wake_extra_pollers();
    } catch (const aws::RequestCancelled&) {
      finish_in_flight(batch);
      break;
    } catch (const std::exception& e) {
      finish_in_flight(batch);
      log::error(kConsumerComponent, "ReceiveMessage failed", {{"error", e.what()}});
      dependency_failed(Dependency::sqs, e);
      // Below the breaker's threshold, still do not spin (an open breaker
      // makes the wait itself).
      if (breaker_.state() == resilience::CircuitBreaker::State::closed) {
        clock_.sleep_for(std::chrono::milliseconds(500), stop);
      }
      continue;
    }
    metrics_->breaker_open.set(breaker_.state() == resilience::CircuitBreaker::State::closed ? 0 : 1);
    // The room held for the batch, less what came.
    finish_in_flight(batch - std::min(batch, messages.size()));
    if (messages.empty()) continue;
    metrics_->received.inc(static_cast<double>(messages.size()));
    metrics_->batch_size.observe(static_cast<double>(messages.size()));
    const auto now_ms = clock_.now().time_since_epoch().count();
    for (const auto& m : messages) {
      const auto sent = number_of<std::int64_t>(m.attributes, "SentTimestamp", 0);
      if (sent > 0) metrics_->message_age.observe(static_cast<double>(std::max<std::int64_t>(0, now_ms - sent)) / 1000.0);
    }
    const std::uint64_t receive_number = ++receives_;
    const auto received_at = clock_.steady_now();
    std::vector<std::pair<std::string, Job>> jobs;
    jobs.reserve(messages.size());
    for (auto& message : messages) {
      Job job{std::move(message), std::nullopt, 0, received_at, receive_number, {}};
      job.receive_count = receive_count_of(job.message);
      std::string key;
      if (!job.message.integrity_error) {
        job.event.emplace(parse_entity_event(job.message.body));
        if (!fifo_ && job.event->ok()) {
          key = "entity:" + job.event->value().entity_type + "/" + job.event->value().entity_id;
        }
      }
      job.trace = trace_of(job.message, job.event && job.event->ok() ? &job.event->value() : nullptr);
      if (job.event && job.event->ok()) job.event->value().trace = job.trace;
      // FIFO: a group's messages run one after another, in order; standard
      // queues: an entity's.
      if (fifo_) key = group_of(job.message).empty() ? std::string() : "group:" + group_of(job.message);
      if (key.empty()) key = "message:" + job.message.message_id;
      jobs.emplace_back(std::move(key), std::move(job));
    }
    queue_->push_all(std::move(jobs));
  }
}

void DocumentVaultConsumer::work() {
  // Up to one receive's worth of messages (distinct entities) per unit of work.
  const auto batch = static_cast<std::size_t>(options_.max_messages);
  for (auto items = queue_->pop_many(batch); !items.empty(); items = queue_->pop_many(batch)) {
    std::vector<Job*> events;
    for (auto& [key, job] : items) {
      if (admit(job)) events.push_back(&job);
    }
    handle(events);
    for (const auto& [key, job] : items) queue_->done(key);
    finish_in_flight(items.size());
  }
}

bool DocumentVaultConsumer::admit(Job& job) {
  const TraceScope scope(job.trace);
  if (breaker_.state() != resilience::CircuitBreaker::State::closed) {
    // The database or SQS is down: working this message would only fail and
    // bring it closer to the dead-letter queue. It goes back untouched.
    acknowledger_->release({job.message.receipt_handle});
    metrics_->released.inc();
    return false;
  }
  if (held_back(job)) {
    // An earlier message of its FIFO group failed: processing this one now
    // would break the group's order. It goes back and comes again after it.
    acknowledger_->release({job.message.receipt_handle});
    metrics_->released.inc();
    log::info(kConsumerComponent, "Message held back behind a failed message of its group",
              {{"message_id", job.message.message_id}, {"message_group_id", group_of(job.message)}});
    return false;
  }
  acknowledger_->track(job.message.message_id, job.message.receipt_handle, job.received_at);
  if (job.message.integrity_error) {
    reject(job, "integrity_error", *job.message.integrity_error);
    return false;
  }
  if (options_.sns_verifier) {
    try {
      if (auto invalid = options_.sns_verifier->verify(job.message.body)) {
        reject(job, "invalid_signature", *invalid);
        return false;
      }
    } catch (const std::exception& e) {
      // The signing certificate could not be fetched: not the message's
      // fault, so it is left to come back after its visibility timeout.
      fail(job, e);
      return false;
    }
  }
  const auto& parsed = *job.event;
  if (!parsed) {
    reject(job, "invalid_message", parsed.error().field + " " + parsed.error().message);
    return false;
  }
  if (!documents_.handles(parsed->action)) {
    if (options_.reject_unknown_actions) {
      reject(job, "unknown_action", "action " + parsed->action + " is not handled");
      return false;
    }
    // A new action on the topic is not poison: acknowledged, counted, and at
    // debug only (the topic's filter policy should keep these away).
    metrics_->ignored(parsed->action).inc();
    log::debug(kConsumerComponent, "Ignored entity event: action not handled",
               {{"event_id", parsed->event_id}, {"action", parsed->action}, {"message_id", job.message.message_id}});
    acknowledger_->acknowledge(job.message.message_id);
    return false;
  }
  return true;
}

void DocumentVaultConsumer::handle(const std::vector<Job*>& jobs) {
  if (jobs.empty()) return;
  std::vector<const EntityEvent*> events;
  events.reserve(jobs.size());
  for (const Job* job : jobs) events.push_back(&job->event->value());
  std::vector<service::EventResult> results;
  try {
    results = documents_.handle_entity_events(events);
  } catch (const store::StoreUnavailable& e) {
    // The database is down: every message of the batch waits for redelivery.
    for (Job* job : jobs) fail(*job, e);
    return;
  } catch (const std::exception& e) {
    if (jobs.size() == 1) return fail(*jobs.front(), e, true);
    // One message's work can fail the whole transaction (a constraint, a
    // deadlock with another instance): each on its own, so only it fails.
    log::warn(kConsumerComponent, "Batch failed; handling its messages one by one",
              {{"messages", jobs.size()}, {"error", e.what()}});
    for (Job* job : jobs) handle({job});
    return;
  }
  breaker_.record_success();
  for (std::size_t i = 0; i < jobs.size(); ++i) finish(*jobs[i], results[i]);
}

void DocumentVaultConsumer::finish(Job& job, const service::EventResult& result) {
  const TraceScope scope(job.trace);
  const auto& event = job.event->value();
  switch (result.outcome) {
    case service::EventOutcome::processed: {
      metrics_->processed.inc();
      const bool deleted = event.action == kActionEntityDeleted;
      if (deleted) metrics_->documents_archived.inc(static_cast<double>(result.documents_changed));
      log::info(kConsumerComponent,
                deleted ? "Successfully processed entity deletion event" : "Successfully processed entity event",
                {{"event_id", event.event_id},
                 {"entity_id", event.entity_id},
                 {"entity_type", event.entity_type},
                 {"action", event.action},
                 {deleted ? "documents_archived" : "documents_changed", result.documents_changed},
                 {"duration_ms", elapsed_ms(clock_, job.received_at)},
                 {"message_id", job.message.message_id}});
      break;
    }
    case service::EventOutcome::duplicate:
      metrics_->duplicates.inc();
      log::info(kConsumerComponent, "Duplicate event detected",
                {{"event_id", event.event_id}, {"message_id", job.message.message_id},
                 {"receive_count", job.receive_count}});
      break;
    case service::EventOutcome::event_id_reused:
      return reject(job, "event_id_reused",
                    "event_id " + event.event_id + " was processed before with a different body");
    case service::EventOutcome::entity_deleted:
      metrics_->after_deletion.inc();
      log::info(kConsumerComponent, "Entity event after the entity's deletion; nothing changed",
                {{"event_id", event.event_id}, {"entity_id", event.entity_id},
                 {"entity_type", event.entity_type}, {"action", event.action}});
      break;
    case service::EventOutcome::unsupported_entity_type:
      metrics_->unsupported.inc();
      log::warn(kConsumerComponent, "Unsupported entity type; event marked processed",
                {{"event_id", event.event_id}, {"entity_type", event.entity_type},
                 {"entity_id", event.entity_id}});
      break;
  }
  acknowledger_->acknowledge(job.message.message_id);
  metrics_->processing_seconds.observe(static_cast<double>(elapsed_ms(clock_, job.received_at)) / 1000.0);
}

void DocumentVaultConsumer::fail(Job& job, const std::exception& e, bool own_fault) {
  const TraceScope scope(job.trace);
  count_failure(e);
  hold_group(job);
  const bool parsed = job.event && job.event->ok();
  const std::string_view event_id = parsed ? std::string_view(job.event->value().event_id) : std::string_view();
  if (!own_fault) {
    acknowledger_->forget(job.message.message_id);
    log::error(kConsumerComponent, "Failed to process event",
               {{"event_id", event_id},
                {"message_id", job.message.message_id},
                {"receive_count", job.receive_count},
                {"error", e.what()}});
    return;
  }
  // Its own failure: it comes back after a delay that grows with its receives.
  const runtime::Backoff backoff{std::chrono::duration_cast<std::chrono::milliseconds>(options_.retry_base),
                                 std::chrono::duration_cast<std::chrono::milliseconds>(options_.retry_max),
                                 runtime::Backoff::Jitter::equal};
  const auto delay = std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(
                                                           backoff.delay(std::max(job.receive_count - 1, 0))));
  const bool postponed = acknowledger_->postpone(job.message.message_id, delay);
  const bool last_receive = max_receive_count_ && job.receive_count >= *max_receive_count_;
  log::error(kConsumerComponent, "Failed to process event",
             {{"event_id", event_id},
              {"message_id", job.message.message_id},
              {"receive_count", job.receive_count},
              {"max_receive_count", max_receive_count_ ? nlohmann::json(*max_receive_count_) : nlohmann::json()},
              {"retry_in_seconds", postponed ? nlohmann::json(delay.count()) : nlohmann::json()},
              {"error", e.what()}});
  if (!last_receive) return;
  // SQS moves it to the dead-letter queue at its next receive: say why here,
  // where the operator looks (GET /v1/admin/rejected-messages).
  try {
    const std::string detail = e.what();
    documents_.record_rejected_message(store::RejectedMessage{job.message.message_id, job.message.body,
                                                              "retries_exhausted", detail, job.receive_count,
                                                              clock_.now()});
    metrics_->rejected("retries_exhausted").inc();
    log::warn(kConsumerComponent, "Message failed on its last receive before the dead-letter queue",
              {{"message_id", job.message.message_id},
               {"reason", "retries_exhausted"},
               {"detail", detail},
               {"receive_count", job.receive_count}});
  } catch (const std::exception& record_error) {
    log::error(kConsumerComponent, "Could not record a message whose retries are exhausted",
               {{"message_id", job.message.message_id}, {"error", record_error.what()}});
  }
}

void DocumentVaultConsumer::reject(Job& job, std::string_view reason, const std::string& detail) {
  const TraceScope scope(job.trace);
  try {
    documents_.record_rejected_message(store::RejectedMessage{job.message.message_id, job.message.body,
                                                              std::string(reason), detail, job.receive_count,
                                                              clock_.now()});
    if (source_.has_dead_letter_queue()) source_.dead_letter(job.message, reason);
    metrics_->rejected(reason).inc();
    log::warn(kConsumerComponent, "Rejected message",
              {{"message_id", job.message.message_id},
               {"reason", reason},
               {"detail", detail},
               {"receive_count", job.receive_count},
               {"dead_lettered", source_.has_dead_letter_queue()}});
    acknowledger_->acknowledge(job.message.message_id);
  } catch (const std::exception& e) {
    fail(job, e);
  }
}

}  // namespace docvault::consumer
