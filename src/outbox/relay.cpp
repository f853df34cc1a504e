#include "outbox/relay.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "log/log.h"

namespace docvault::outbox {
namespace {

constexpr std::size_t kMaxBatchEntries = 10;
constexpr std::size_t kMaxBatchBytes = 256 * 1024;
constexpr std::size_t kPurgeBatch = 500;

bool is_fifo(std::string_view target) { return target.ends_with(".fifo"); }

// The message attributes stored with the row, as String attributes.
aws::MessageAttributes attributes_of(const OutboxMessage& m) {
  aws::MessageAttributes out;
  auto parsed = nlohmann::json::parse(m.attributes, nullptr, false);
  if (!parsed.is_object()) return out;
  for (const auto& [name, value] : parsed.items()) {
    if (value.is_string()) out[name] = aws::MessageAttributeValue{"String", value.get<std::string>(), ""};
  }
  return out;
}

std::size_t size_of(const OutboxMessage& m, const aws::MessageAttributes& attributes) {
  std::size_t size = m.payload.size();
  for (const auto& [name, value] : attributes) size += name.size() + value.data_type.size() + value.string_value.size();
  return size;
}

// One publish call's worth of rows: at most ten, at most 256 KiB.
struct Chunk {
  std::vector<const store::OutboxRecord*> records;
  std::vector<aws::MessageAttributes> attributes;
  std::size_t bytes = 0;
};

}  // namespace

OutboxRelay::OutboxRelay(store::Store& store, const aws::SnsClient& sns, const aws::SqsClient& sqs,
                         const Clock& clock, RelayOptions options)
    : store_(store), sns_(sns), sqs_(sqs), clock_(clock), options_(std::move(options)) {}

OutboxRelay::~OutboxRelay() { stop(); }

void OutboxRelay::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  log::info(kRelayComponent, "Outbox relay started",
            {{"audit_topic_arn", options_.audit_topic_arn},
             {"document_events_queue_url", options_.document_events_queue_url}});
}

void OutboxRelay::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
  log::info(kRelayComponent, "Outbox relay stopped");
}

RelayStats OutboxRelay::stats() const { return RelayStats{published_, failed_, purged_}; }

void OutboxRelay::run(std::stop_token stop) {
  std::uint64_t seen = 0;
  auto next_purge = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    std::size_t claimed = 0;
    try {
      claimed = publish_due(stop);
      if (std::chrono::steady_clock::now() >= next_purge) {
        purge_expired(stop);
        next_purge = std::chrono::steady_clock::now() + options_.retention_interval;
      }
    } catch (const std::exception& e) {
      // The database is unreachable or similar: leased rows come back when
      // their lease ends; try again after the poll interval.
      log::error(kRelayComponent, "Outbox relay round failed", {{"error", e.what()}});
    }
    if (claimed >= options_.claim_size) continue;  // more are waiting
    seen = store_.wait_for_outbox(seen, options_.poll_interval, stop);
  }
}

std::size_t OutboxRelay::publish_due(std::stop_token) {
  const Timestamp now = clock_.now();
  auto records = store::write(store_, [&](store::Transaction& tx) {
    return tx.claim_outbox(options_.claim_size, now, now + options_.lease);
  });
  if (records.empty()) return 0;

  std::vector<std::int64_t> published;
  std::vector<store::PublishFailure> failures;
  thread_local std::mt19937_64 random{std::random_device{}()};
  auto retry_at = [&](int attempts) {
    auto cap = std::min<std::chrono::milliseconds>(options_.retry_max, options_.retry_base * (1LL << std::min(attempts, 20)));
    // Half fixed, half random: spread out, yet never immediate.
    auto jitter = std::uniform_int_distribution<std::int64_t>(0, cap.count() / 2)(random);
    return now + std::chrono::milliseconds(cap.count() / 2 + jitter);
  };

  for (Destination destination : {Destination::sns, Destination::sqs}) {
    const std::string& target =
        destination == Destination::sns ? options_.audit_topic_arn : options_.document_events_queue_url;
    const std::string_view logical = destination == Destination::sns ? kAuditTarget : kDocumentEventsTarget;
    std::set<std::string> failed_keys;  // an entity with a failed row: its later rows wait

    std::vector<Chunk> chunks(1);
    for (const auto& record : records) {
      if (record.message.destination != destination) continue;
      if (record.message.target != logical) {
        failures.push_back({record.seq, "unknown outbox target " + record.message.target,
                            now + options_.retry_max, true});
        continue;
      }
      auto attributes = attributes_of(record.message);
      auto bytes = size_of(record.message, attributes);
      if (chunks.back().records.size() == kMaxBatchEntries || chunks.back().bytes + bytes > kMaxBatchBytes) {
        chunks.emplace_back();
      }
      chunks.back().records.push_back(&record);
      chunks.back().attributes.push_back(std::move(attributes));
      chunks.back().bytes += bytes;
    }

    for (auto& chunk : chunks) {
      std::vector<const store::OutboxRecord*> sending;
      std::vector<aws::MessageAttributes> sending_attributes;
      for (std::size_t i = 0; i < chunk.records.size(); ++i) {
        const auto* record = chunk.records[i];
        if (failed_keys.contains(record->message.ordering_key)) {
          failures.push_back({record->seq, "held back behind an earlier event of its entity", now, false});
        } else {
          sending.push_back(record);
          sending_attributes.push_back(std::move(chunk.attributes[i]));
        }
      }
      if (sending.empty()) continue;

      std::vector<std::pair<std::size_t, std::string>> chunk_failures;  // index, error
      try {
        std::vector<aws::BatchFailure> failed;
        if (destination == Destination::sns) {
          std::vector<aws::SnsMessage> messages;
          for (std::size_t i = 0; i < sending.size(); ++i) {
            const auto& m = sending[i]->message;
            messages.push_back(aws::SnsMessage{m.payload, "", sending_attributes[i],
                                               is_fifo(target) ? m.ordering_key : "",
                                               is_fifo(target) ? m.event_id : ""});
          }
          failed = sns_.publish_batch(target, messages).failed;
        } else {
          std::vector<aws::OutgoingSqsMessage> messages;
          for (std::size_t i = 0; i < sending.size(); ++i) {
            const auto& m = sending[i]->message;
            messages.push_back(aws::OutgoingSqsMessage{m.payload, sending_attributes[i], std::nullopt,
                                                       is_fifo(target) ? m.ordering_key : "",
                                                       is_fifo(target) ? m.event_id : ""});
          }
          failed = sqs_.send_message_batch(target, messages).failed;
        }
        for (const auto& f : failed) chunk_failures.emplace_back(f.index, f.code + ": " + f.message);
      } catch (const std::exception& e) {
        for (std::size_t i = 0; i < sending.size(); ++i) chunk_failures.emplace_back(i, e.what());
      }

      std::vector<bool> ok(sending.size(), true);
      for (const auto& [index, error] : chunk_failures) {
        if (index >= sending.size() || !ok[index]) continue;
        ok[index] = false;
        const auto* record = sending[index];
        failed_keys.insert(record->message.ordering_key);
        failures.push_back({record->seq, error, retry_at(record->attempts), true});
        log::warn(kRelayComponent, "Publishing an outbox event failed; it will be retried",
                  {{"event_id", record->message.event_id},
                   {"destination", to_string(destination)},
                   {"attempts", record->attempts + 1},
                   {"error", error}});
      }
      for (std::size_t i = 0; i < sending.size(); ++i) {
        if (ok[i]) published.push_back(sending[i]->seq);
      }
    }
  }

  store::write(store_, [&](store::Transaction& tx) {
    tx.mark_published(published, clock_.now());
    tx.mark_failed(failures);
  });
  published_ += published.size();
  failed_ += static_cast<std::uint64_t>(std::count_if(failures.begin(), failures.end(), [](const auto& f) { return f.attempted; }));
  log::debug(kRelayComponent, "Outbox batch done",
             {{"claimed", records.size()}, {"published", published.size()}, {"failed", failures.size()}});
  return records.size();
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
  purged_ += total;
  if (total > 0) log::info(kRelayComponent, "Purged published outbox events", {{"count", total}});
  return total;
}

}  // namespace docvault::outbox
