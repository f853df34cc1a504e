#include "outbox/relay.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "aws/service_client.h"
#include "log/log.h"
#include "outbox/aws_publisher.h"
#include "runtime/backoff.h"
#include "runtime/mutex.h"
#include "runtime/round_trip.h"

namespace docvault::outbox {
namespace {

constexpr std::size_t kMaxBatchEntries = 10;
constexpr std::size_t kMaxBatchBytes = 256 * 1024;
constexpr std::size_t kPurgeBatch = 500;

// The message attributes stored with the row: the string members of a JSON
// object, as String attributes (anything else in it is skipped). Read with a
// SAX handler: no JSON tree per message.
class AttributeReader final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit AttributeReader(aws::MessageAttributes& out) : out_(out) {}

  bool start_object(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_object() override { return leave(); }
  bool start_array(std::size_t) override { return enter(); }
  bool end_array() override { return leave(); }
  bool key(string_t& name) override {
    if (depth_ == 1) name_ = std::move(name);
    return true;
  }
  bool string(string_t& value) override {
    if (depth_ == 1) out_[std::move(name_)] = aws::MessageAttributeValue{"String", std::move(value), ""};
    return depth_ > 0;
  }
  bool null() override { return depth_ > 0; }
  bool boolean(bool) override { return depth_ > 0; }
  bool number_integer(number_integer_t) override { return depth_ > 0; }
  bool number_unsigned(number_unsigned_t) override { return depth_ > 0; }
  bool number_float(number_float_t, const string_t&) override { return depth_ > 0; }
  bool binary(binary_t&) override { return depth_ > 0; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  // Only an object may be the top level.
  bool enter() {
    if (depth_ == 0) return false;
    ++depth_;
    return true;
  }
  bool leave() {
    --depth_;
    return true;
  }

  aws::MessageAttributes& out_;
  std::string name_;
  int depth_ = 0;
};

aws::MessageAttributes attributes_of(const OutboxMessage& m) {
  aws::MessageAttributes out;
  AttributeReader reader(out);
  if (!nlohmann::json::sax_parse(m.attributes, &reader)) out.clear();
  return out;
}

std::size_t size_of(const OutboxMessage& m, const aws::MessageAttributes& attributes) {
  std::size_t size = m.payload.size();
  for (const auto& [name, value] : attributes) size += name.size() + value.data_type.size() + value.string_value.size();
  return size;
}

// Whether a publish call that failed as a whole failed for its destination's
// sake (no answer, the service's fault, throttling past the retries, our
// credentials or permissions refused, the topic or queue missing: every
// aws::error_category but one) rather than for what the batch carried
// ("request_refused": another 4xx). Only the former counts toward the
// breaker: one malformed batch must not pause the relay.
bool is_destination_failure(std::string_view category) { return category != "request_refused"; }

// Lanes per destination: how many publish calls may be in flight at once for
// each of SNS and SQS (a lane is a sequence of calls, all of a destination's
// lanes driven by one thread). Sized from the calls' round trip
// (runtime/round_trip.h) so that each destination can take kCallsPerSecond
// calls, about 1,000 events of five documents a second with ten entries a
// call, whatever the network's latency; never fewer than kMinLanes: four
// calls in flight, which is what loopback needs (finding 11 of
// bench/README.md).
constexpr std::size_t kMinLanes = 2;
constexpr double kCallsPerSecond = 500;

// One publish call's worth of rows: at most ten, at most 256 KiB.
struct Chunk {
  std::vector<store::OutboxRecord*> records;
  std::vector<aws::MessageAttributes> attributes;
  std::size_t bytes = 0;
};


}  // namespace

// What one lane of a round publishes: rows of one destination, in seq order,
// in calls of up to ten, one call after another (a lane has one call in
// flight; a destination's lanes have theirs at once).
struct OutboxRelay::Lane {
  Destination destination = Destination::sns;
  std::vector<store::OutboxRecord*> records;  // their payloads move into the requests
  std::vector<std::int64_t> published;
  std::vector<store::PublishFailure> failures;
  // Calls answered (entries refused one by one included), and the error of
  // the call that failed as a whole for its destination's sake, if one did
  // (its text for the log, its stable kind for /readyz): the lane sends
  // nothing more in this round.
  std::size_t calls_answered = 0;
  std::string dependency_error;
  std::string dependency_error_category;
  // The records cut into calls, and the next one to send.
  std::vector<Chunk> chunks;
  std::size_t next_chunk = 0;
  // The call in flight: its records, and when it went.
  std::vector<store::OutboxRecord*> sending;
  runtime::SteadyTime sent_at;
  std::set<std::string> failed_keys;  // an entity with a failed row: its later rows wait
};

// Rows of one destination and one ordering key always share a lane, in seq
// order, so each entity's events leave in order; lanes publish at the same
// time. Whole entities are packed into at most `per_destination` lanes of a
// destination, each filled up to a multiple of ten rows before the next, so
// the calls go out full (an entity per lane would send half-empty batches).
std::vector<OutboxRelay::Lane> OutboxRelay::split_into_lanes(std::vector<store::OutboxRecord>& records,
                                                             std::size_t per_destination) {
  std::vector<Lane> lanes;
  for (const Destination destination : {Destination::sns, Destination::sqs}) {
    // The destination's rows by entity, entities in order of their first row.
    std::vector<std::vector<store::OutboxRecord*>> entities;
    std::unordered_map<std::string_view, std::size_t> entity_of;
    std::size_t rows = 0;
    for (auto& record : records) {
      if (record.message.destination != destination) continue;
      auto [it, added] = entity_of.try_emplace(record.message.ordering_key, entities.size());
      if (added) entities.emplace_back();
      entities[it->second].push_back(&record);
      ++rows;
    }
    if (rows == 0) continue;
    const std::size_t calls = (rows + kMaxBatchEntries - 1) / kMaxBatchEntries;
    const std::size_t per_lane = kMaxBatchEntries * ((calls + per_destination - 1) / per_destination);
    auto open_lane = [&] {
      lanes.emplace_back();
      lanes.back().destination = destination;
    };
    open_lane();
    std::size_t opened = 1;
    for (auto& entity : entities) {
      if (lanes.back().records.size() >= per_lane && opened < per_destination) {
        open_lane();
        ++opened;
      }
      lanes.back().records.insert(lanes.back().records.end(), entity.begin(), entity.end());
    }
  }
  return lanes;
}

// Runs a round's destinations (each with its lanes) on long-lived threads
// and the caller's.
class OutboxRelay::LanePool {
 public:
  // Runs task(0) ... task(count - 1) and returns when all are done; rethrows
  // the first exception one of them threw. The caller runs `meanwhile` first
  // (the pool's threads have started), then helps with the tasks. The pool
  // grows to `count` threads, so every task starts at once, while the caller
  // still runs `meanwhile`; its threads then stay, waiting for the next round.
  void run(std::size_t count, const std::function<void(std::size_t)>& task, const std::function<void()>& meanwhile) {
    while (threads_.size() < count) threads_.emplace_back([this](std::stop_token stop) { work(stop); });
    {
      runtime::MutexLock lock(mutex_);
      task_ = &task;
      count_ = count;
      next_ = 0;
      unfinished_ = count;
      error_ = nullptr;
    }
    ready_.notify_all();
    std::exception_ptr meanwhile_error;
    try {
      meanwhile();
    } catch (...) {
      meanwhile_error = std::current_exception();  // the tasks still run to the end first
    }
    help();
    runtime::MutexLock lock(mutex_);
    done_.wait(lock.native(), [&]() REQUIRES(mutex_) { return unfinished_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
    if (meanwhile_error) std::rethrow_exception(meanwhile_error);
  }

 private:
  // Takes tasks of the current round until none is left.
  void help() {
    while (true) {
      std::size_t index = 0;
      const std::function<void(std::size_t)>* task = nullptr;
      {
        runtime::MutexLock lock(mutex_);
        if (!task_ || next_ >= count_) return;
        index = next_++;
        task = task_;
      }
      std::exception_ptr error;
      try {
        (*task)(index);
      } catch (...) {
        error = std::current_exception();
      }
      runtime::MutexLock lock(mutex_);
      if (error && !error_) error_ = error;
      if (--unfinished_ == 0) done_.notify_all();
    }
  }

  void work(std::stop_token stop) {
    while (true) {
      {
        runtime::MutexLock lock(mutex_);
        if (!ready_.wait(lock.native(), stop, [&]() REQUIRES(mutex_) { return task_ != nullptr && next_ < count_; })) {
          return;
        }
      }
      help();
    }
  }

  runtime::Mutex mutex_;
  std::condition_variable_any ready_;
  std::condition_variable done_;
  const std::function<void(std::size_t)>* task_ GUARDED_BY(mutex_) = nullptr;  // the round's
  std::size_t count_ GUARDED_BY(mutex_) = 0;
  std::size_t next_ GUARDED_BY(mutex_) = 0;
  std::size_t unfinished_ GUARDED_BY(mutex_) = 0;
  std::exception_ptr error_ GUARDED_BY(mutex_);
  std::vector<std::jthread> threads_;  // run()'s caller only
};

struct OutboxRelay::Instruments {
  explicit Instruments(metrics::Registry& r)
      : published_sns(published_counter(r, Destination::sns)),
        published_sqs(published_counter(r, Destination::sqs)),
        failures_sns(failures_counter(r, Destination::sns)),
        failures_sqs(failures_counter(r, Destination::sqs)),
        purged(r.counter("docvault_outbox_events_purged_total", "Published outbox rows deleted by retention.")),
        pending(r.gauge("docvault_outbox_pending_events", "Unpublished outbox rows (sampled).")),
        oldest_age(r.gauge("docvault_outbox_oldest_pending_age_seconds",
                           "Age of the oldest unpublished outbox row (sampled); 0 when none.")),
        latency(r.histogram("docvault_outbox_publish_latency_seconds",
                            "From the row's commit to its publication.", metrics::latency_buckets())),
        breaker_open(r.gauge("docvault_outbox_circuit_open", "1 while the relay's circuit breaker is open.")),
        lanes(r.gauge("docvault_outbox_lanes",
                      "Publish calls the relay keeps in flight per destination, sized from their round trip.")) {
    lanes.set(static_cast<double>(kMinLanes));
  }

  metrics::Counter& published(Destination d) { return d == Destination::sns ? published_sns : published_sqs; }
  metrics::Counter& failures(Destination d) { return d == Destination::sns ? failures_sns : failures_sqs; }

  static metrics::Counter& published_counter(metrics::Registry& r, Destination d) {
    return r.counter("docvault_outbox_events_published_total", "Outbox events published, by destination.",
                     {{"destination", std::string(to_string(d))}});
  }
  static metrics::Counter& failures_counter(metrics::Registry& r, Destination d) {
    return r.counter("docvault_outbox_publish_failures_total",
                     "Outbox events whose publish failed (to be retried), by destination.",
                     {{"destination", std::string(to_string(d))}});
  }

  metrics::Counter &published_sns, &published_sqs, &failures_sns, &failures_sqs;
  metrics::Counter& purged;
  metrics::Gauge &pending, &oldest_age;
  metrics::Histogram& latency;
  metrics::Gauge& breaker_open;
  metrics::Gauge& lanes;
};

OutboxRelay::OutboxRelay(store::Store& store, const aws::SnsClient& sns, const aws::SqsClient& sqs,
                         const Clock& clock, RelayOptions options, metrics::Registry& metrics)
    : OutboxRelay(store, std::make_unique<SnsPublisher>(sns), std::make_unique<SqsPublisher>(sqs), nullptr, nullptr,
                  clock, std::move(options), metrics) {}

OutboxRelay::OutboxRelay(store::Store& store, Publisher& audit, Publisher& document_events, const Clock& clock,
                         RelayOptions options, metrics::Registry& metrics)
    : OutboxRelay(store, nullptr, nullptr, &audit, &document_events, clock, std::move(options), metrics) {}

OutboxRelay::OutboxRelay(store::Store& store, std::unique_ptr<Publisher> owned_audit,
                         std::unique_ptr<Publisher> owned_events, Publisher* audit, Publisher* document_events,
                         const Clock& clock, RelayOptions options, metrics::Registry& metrics)
    : store_(store),
      owned_audit_(std::move(owned_audit)),
      owned_events_(std::move(owned_events)),
      audit_(audit != nullptr ? *audit : *owned_audit_),
      document_events_(document_events != nullptr ? *document_events : *owned_events_),
      clock_(clock),
      options_(std::move(options)),
      metrics_(std::make_unique<Instruments>(metrics)),
      lane_pool_(std::make_unique<LanePool>()),
      // Three rounds whose publishes all failed for their destination's sake
      // open it; probes then come at most a second apart (each a short
      // attempt), so publishing resumes within moments of the heal.
      breaker_(std::string(kRelayComponent),
               resilience::CircuitBreaker::Options{.failure_threshold = 3,
                                                   .base_delay = std::chrono::milliseconds(250),
                                                   .max_delay = std::chrono::milliseconds(1000)},
               clock) {}

OutboxRelay::~OutboxRelay() { stop(); }

void OutboxRelay::start() {
  running_ = true;
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  log::info(kRelayComponent, "Outbox relay started",
            {{"audit_topic_arn", options_.audit_topic_arn},
             {"document_events_queue_url", options_.document_events_queue_url}});
}

void OutboxRelay::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
    running_ = false;
    log::info(kRelayComponent, "Outbox relay stopped");
  }
  try {
    release_prefetched();
  } catch (const std::exception& e) {
    // Their lease runs out instead.
    log::warn(kRelayComponent, "Releasing rows claimed ahead failed", {{"error", e.what()}});
  }
}

RelayStatus OutboxRelay::status() const {
  RelayStatus s;
  auto breaker = breaker_.state();
  s.breaker = std::string(resilience::to_string(breaker));
  s.state = !running_ ? "stopped" : breaker == resilience::CircuitBreaker::State::closed ? "running" : "paused";
  auto failure = breaker_.last_failure();
  s.last_failure = std::move(failure.reason);
  s.last_error = std::move(failure.error);
  s.pending = pending_;
  s.oldest_pending_age_seconds = oldest_pending_age_seconds_;
  return s;
}

void OutboxRelay::sample_backlog() {
  auto backlog = store::read(store_, [](store::Transaction& tx) { return tx.outbox_backlog(); });
  double age = 0;
  if (backlog.oldest_pending_created_at) {
    age = std::max(0.0, std::chrono::duration<double>(clock_.now() - *backlog.oldest_pending_created_at).count());
  }
  pending_ = backlog.pending;
  oldest_pending_age_seconds_ = age;
  metrics_->pending.set(static_cast<double>(backlog.pending));
  metrics_->oldest_age.set(age);
}

void OutboxRelay::run(std::stop_token stop) {
  constexpr auto kSampleEvery = std::chrono::seconds(5);
  std::uint64_t seen = 0;
  auto next_sample = clock_.steady_now();
  auto next_compaction = clock_.steady_now();
  while (!stop.stop_requested()) {
    std::size_t claimed = 0;
    if (breaker_.allow()) {
      try {
        const bool probing = breaker_.state() == resilience::CircuitBreaker::State::half_open;
        claimed = publish_due(stop);
        // The breaker hears of publish calls, not of rounds: a destination
        // whose calls all failed for its own sake (unreachable, refusing our
        // credentials, missing) is a failure, one that answered a success. A
        // round that made no call says nothing, unless it was the probe:
        // then nothing is failing any more (rows that failed for their
        // destination's sake are due again at once, so a probe finds them).
        if (!last_round_.dependency_error.empty()) {
          breaker_.record_failure(
              {"publish_failing", last_round_.dependency_error_category, last_round_.dependency_error});
        } else if (last_round_.calls_answered > 0 || probing) {
          breaker_.record_success();
        }
        if (marked_since_compaction_ >= options_.compact_after_rows &&
            clock_.steady_now() >= next_compaction) {
          store_.compact_outbox_queue();
          marked_since_compaction_ = 0;
          next_compaction = clock_.steady_now() + options_.compact_every;
        }
      } catch (const std::exception& e) {
        // The database is unreachable or similar: leased rows come back when
        // their lease ends.
        log::error(kRelayComponent, "Outbox relay round failed", {{"error", e.what()}});
        breaker_.record_failure(
            {"database_unavailable", std::string(store::error_category(e)), std::string("database: ") + e.what()});
      }
      metrics_->breaker_open.set(breaker_.state() == resilience::CircuitBreaker::State::closed ? 0 : 1);
    }
    if (clock_.steady_now() >= next_sample) {
      try {
        sample_backlog();
      } catch (const std::exception&) {
        // Reported by the round above; the gauges keep their last values.
      }
      next_sample = clock_.steady_now() + kSampleEvery;
    }
    // More are waiting after a full claim; after a batch claimed ahead, the
    // rows it could not take (held back by the batch before) are due now.
    if (claimed >= options_.claim_size || (claimed > 0 && claimed_ahead_)) continue;
    auto wait = breaker_.state() == resilience::CircuitBreaker::State::closed ? options_.poll_interval
                                                                              : std::chrono::milliseconds(100);
    seen = store_.wait_for_outbox(seen, wait, stop);
  }
}

void OutboxRelay::release_prefetched() {
  if (!prefetched_) return;
  const auto batch = std::move(*prefetched_);
  prefetched_.reset();
  // A lease that ran out is no longer ours to give back.
  if (clock_.now() >= batch.lease_until) return;
  std::vector<std::int64_t> seqs;
  seqs.reserve(batch.records.size());
  for (const auto& record : batch.records) seqs.push_back(record.seq);
  store::write(store_, [&](store::Transaction& tx) { tx.release_outbox(seqs, batch.lease_until); });
}

std::vector<store::OutboxRecord> OutboxRelay::claim(Timestamp now) {
  return store::write(store_, [&](store::Transaction& tx) {
    return tx.claim_outbox(options_.claim_size, now, now + options_.lease);
  });
}

std::size_t OutboxRelay::publish_due(std::stop_token stop) {
  const Timestamp now = clock_.now();
  // Claimed ahead, and still well within the lease: publish those.
  if (prefetched_ && 2 * (now - prefetched_->claimed_at) > options_.lease) release_prefetched();
  std::vector<store::OutboxRecord> records;
  claimed_ahead_ = prefetched_.has_value();
  if (prefetched_) {
    records = std::move(prefetched_->records);
    prefetched_.reset();
  } else {
    records = claim(now);
  }
  if (records.empty()) return 0;

  const std::size_t per_destination =
      round_trip_.in_flight_for(kCallsPerSecond, kMinLanes, options_.max_lanes_per_destination);
  metrics_->lanes.set(static_cast<double>(per_destination));
  std::vector<Lane> lanes = split_into_lanes(records, per_destination);
  // A full claim means more is waiting: the next batch is claimed while this
  // one is published. Its entities cannot be this batch's (their rows here
  // are leased, which holds their later rows back), so order is kept.
  auto claim_next = [&] {
    if (records.size() < options_.claim_size || stop.stop_requested()) return;
    try {
      const Timestamp next = clock_.now();
      if (auto claimed = claim(next); !claimed.empty()) {
        prefetched_ = Prefetched{std::move(claimed), next, next + options_.lease};
      }
    } catch (const std::exception& e) {
      // The next round claims again, and reports what fails then.
      log::debug(kRelayComponent, "Claiming ahead failed", {{"error", e.what()}});
    }
  };
  // Half-open: this round is the probe, one short attempt per call.
  const aws::CallLimits limits = breaker_.state() == resilience::CircuitBreaker::State::half_open
                                     ? aws::CallLimits::single(options_.probe_timeout)
                                     : aws::CallLimits{};
  // Each destination's lanes from one thread: lanes are calls in flight, not
  // threads. split_into_lanes put a destination's lanes next to each other.
  std::vector<std::span<Lane>> destinations;
  for (std::size_t first = 0, i = 0; i <= lanes.size(); ++i) {
    if (i == lanes.size() || lanes[i].destination != lanes[first].destination) {
      if (i > first) destinations.emplace_back(lanes.data() + first, i - first);
      first = i;
    }
  }
  lane_pool_->run(
      destinations.size(), [&](std::size_t i) { publish_lanes(destinations[i], now, limits); }, claim_next);

  std::vector<std::int64_t> published;
  std::vector<store::PublishFailure> failures;
  // Per destination: calls answered, and the error of one that failed for
  // the destination's sake.
  struct DestinationOutcome {
    std::size_t answered = 0;
    std::string error, category;
  };
  std::map<Destination, DestinationOutcome> outcome;
  for (auto& lane : lanes) {
    published.insert(published.end(), lane.published.begin(), lane.published.end());
    failures.insert(failures.end(), lane.failures.begin(), lane.failures.end());
    auto& result = outcome[lane.destination];
    result.answered += lane.calls_answered;
    if (!lane.dependency_error.empty()) {
      result.error = lane.dependency_error;
      result.category = lane.dependency_error_category;
    }
  }
  // A destination failed when none of its calls was answered and one failed
  // for its sake; with one destination failing the relay is failing (its
  // entities' later rows wait behind the failed ones whatever their
  // destination).
  last_round_ = {};
  for (const auto& [destination, result] : outcome) {
    last_round_.calls_answered += result.answered;
    if (result.answered == 0 && !result.error.empty()) {
      last_round_.dependency_error = std::string(to_string(destination)) + ": " + result.error;
      last_round_.dependency_error_category = result.category;
    }
  }
  store::write(store_, [&](store::Transaction& tx) {
    tx.mark_published(published, clock_.now());
    tx.mark_failed(failures);
  });
  marked_since_compaction_ += published.size();
  log::debug(kRelayComponent, "Outbox batch done",
             {{"claimed", records.size()}, {"published", published.size()}, {"failed", failures.size()},
              {"lanes", lanes.size()}});
  return records.size();
}

void OutboxRelay::publish_lanes(std::span<Lane> lanes, Timestamp now, const aws::CallLimits& limits) {
  const Destination destination = lanes.front().destination;
  Publisher& publisher = destination == Destination::sns ? audit_ : document_events_;
  const std::string& target =
      destination == Destination::sns ? options_.audit_topic_arn : options_.document_events_queue_url;
  // Kept from round to round: its connections stay open for the next.
  auto& calls = destination == Destination::sns ? audit_calls_ : document_events_calls_;
  if (!calls) calls = publisher.concurrent();
  // No stop token: a batch being published finishes, so its rows are marked.
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    chunk_lane(lanes[i], now);
    send_next(lanes[i], i, *calls, target, now, limits);
  }
  for (auto done = calls->wait(); !done.empty(); done = calls->wait()) {
    for (auto& call : done) {
      Lane& lane = lanes[call.tag];
      call_ended(lane, call, now);
      send_next(lane, call.tag, *calls, target, now, limits);
    }
  }
}

void OutboxRelay::chunk_lane(Lane& lane, Timestamp now) {
  const std::string_view logical = lane.destination == Destination::sns ? kAuditTarget : kDocumentEventsTarget;
  lane.chunks.assign(1, Chunk{});
  for (auto* record_ptr : lane.records) {
    auto& record = *record_ptr;
    if (record.message.target != logical) {
      lane.failures.push_back(
          {record.seq, "unknown outbox target " + record.message.target, now + options_.retry_max, true});
      continue;
    }
    auto attributes = attributes_of(record.message);
    auto bytes = size_of(record.message, attributes);
    auto& last = lane.chunks.back();
    if (last.records.size() == kMaxBatchEntries || last.bytes + bytes > kMaxBatchBytes) lane.chunks.emplace_back();
    lane.chunks.back().records.push_back(&record);
    lane.chunks.back().attributes.push_back(std::move(attributes));
    lane.chunks.back().bytes += bytes;
  }
}

void OutboxRelay::send_next(Lane& lane, std::size_t tag, PublishCalls& calls, const std::string& target,
                            Timestamp now, const aws::CallLimits& limits) {
  lane.sending.clear();
  while (lane.sending.empty() && lane.next_chunk < lane.chunks.size()) {
    auto& chunk = lane.chunks[lane.next_chunk++];
    std::vector<PublishEntry> entries;
    for (std::size_t i = 0; i < chunk.records.size(); ++i) {
      auto* record = chunk.records[i];
      if (!lane.dependency_error.empty()) {
        // The destination failed this round: due again at once, for the
        // next round (which the breaker paces) to try.
        lane.failures.push_back({record->seq, "not sent: " + lane.dependency_error, now, false});
      } else if (lane.failed_keys.contains(record->message.ordering_key)) {
        lane.failures.push_back({record->seq, "held back behind an earlier event of its entity", now, false});
      } else {
        auto& m = record->message;
        lane.sending.push_back(record);
        entries.push_back(PublishEntry{std::move(m.payload), std::move(chunk.attributes[i]), m.ordering_key, m.event_id});
      }
    }
    if (entries.empty()) continue;
    lane.sent_at = clock_.steady_now();
    try {
      calls.start(tag, target, entries, limits);
    } catch (...) {
      // Not sent at all (the request could not be built): as a failed call.
      PublishCalls::Done failed{tag, {}, std::current_exception()};
      call_ended(lane, failed, now);
      lane.sending.clear();
    }
  }
}

void OutboxRelay::call_ended(Lane& lane, const PublishCalls::Done& call, Timestamp now) {
  // Half fixed, half random: spread out, yet never immediate.
  const runtime::Backoff backoff{
      .base = options_.retry_base, .cap = options_.retry_max, .jitter = runtime::Backoff::Jitter::equal};
  const Destination destination = lane.destination;
  const auto& sending = lane.sending;
  std::vector<EntryFailure> failures;
  bool destination_failed = false;
  if (call.error) {
    std::string error, category;
    try {
      std::rethrow_exception(call.error);
    } catch (const std::exception& e) {
      error = e.what();
      category = aws::error_category(e);
    } catch (...) {
      error = "unknown error";
      category = "other";
    }
    for (std::size_t i = 0; i < sending.size(); ++i) failures.push_back({i, error, category});
    destination_failed = is_destination_failure(category);
    if (destination_failed) {
      lane.dependency_error = error;
      lane.dependency_error_category = category;
    }
  } else {
    round_trip_.record(clock_.steady_now() - lane.sent_at);
    ++lane.calls_answered;
    failures = call.failures;
  }

  std::vector<bool> ok(sending.size(), true);
  for (const auto& [index, error, category] : failures) {
    if (index >= sending.size() || !ok[index]) continue;
    ok[index] = false;
    const auto* record = sending[index];
    lane.failed_keys.insert(record->message.ordering_key);
    // A row refused for its own sake backs off; one whose destination
    // failed is due again at once: the breaker paces those rounds, and a
    // healed destination then gets the backlog at once.
    const Timestamp retry_at = destination_failed ? now : now + backoff.delay(std::min(record->attempts, 20));
    lane.failures.push_back({record->seq, error, retry_at, true});
    metrics_->failures(destination).inc();
    log::warn(kRelayComponent, "Publishing an outbox event failed; it will be retried",
              {{"event_id", record->message.event_id},
               {"destination", to_string(destination)},
               {"attempts", record->attempts + 1},
               {"error", error}});
  }
  const Timestamp sent_at = clock_.now();
  std::size_t sent = 0;
  for (std::size_t i = 0; i < sending.size(); ++i) {
    if (!ok[i]) continue;
    lane.published.push_back(sending[i]->seq);
    ++sent;
    metrics_->latency.observe(
        std::max(0.0, std::chrono::duration<double>(sent_at - sending[i]->message.created_at).count()));
  }
  if (sent > 0) metrics_->published(destination).inc(static_cast<double>(sent));
}

std::size_t OutboxRelay::purge_expired(std::stop_token stop) {
  const Timestamp before = clock_.now() - options_.retention;
  std::size_t total = 0;
  while (!stop.stop_requested()) {
    // Small transactions: retention never holds locks the hot path needs.
    auto purged = store::write(store_, [&](store::Transaction& tx) { return tx.purge_published(before, kPurgeBatch); });
    total += purged;
    if (purged < kPurgeBatch) break;
  }
  metrics_->purged.inc(static_cast<double>(total));
  if (total > 0) log::info(kRelayComponent, "Purged published outbox events", {{"count", total}});
  return total;
}

}  // namespace docvault::outbox
