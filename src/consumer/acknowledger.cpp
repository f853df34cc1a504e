#include "consumer/acknowledger.h"

#include <algorithm>

#include "consumer/consumer.h"
#include "log/log.h"
#include "runtime/backoff.h"

namespace docvault::consumer {
namespace {

constexpr std::size_t kBatch = 10;
constexpr auto kTick = std::chrono::milliseconds(200);
// Every call the acknowledger makes is one attempt of at most this long: it
// retries deletes itself, and a heartbeat comes again anyway.
constexpr auto kCallTimeout = std::chrono::seconds(5);
// Between attempts at a failed delete: 200 ms doubling to 5 s, half of it random.
constexpr runtime::Backoff kDeleteBackoff{.base = std::chrono::milliseconds(200),
                                          .cap = std::chrono::seconds(5),
                                          .jitter = runtime::Backoff::Jitter::equal};

aws::CallLimits call_limits() { return aws::CallLimits::single(kCallTimeout); }

// While a full batch of deletes is waiting, DeleteMessageBatch calls in
// flight: enough for this many a second at their round trip, at most
// kMaxSenders (runtime/round_trip.h).
constexpr double kDeletesPerSecond = 100;
constexpr std::size_t kMaxSenders = 8;

}  // namespace

Acknowledger::Acknowledger(MessageSource& source, std::chrono::seconds visibility_timeout, const runtime::Clock& clock)
    : source_(source), visibility_timeout_(visibility_timeout), clock_(clock) {}

Acknowledger::~Acknowledger() { stop(clock_.steady_now()); }

void Acknowledger::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  for (std::size_t i = 1; i < kMaxSenders; ++i) {
    senders_.emplace_back([this](std::stop_token stop) { send_full_batches(stop); });
  }
}

void Acknowledger::stop(runtime::SteadyTime deadline) {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  for (auto& sender : senders_) sender.request_stop();  // their waits end with their stop tokens
  wake_.notify_all();
  thread_.join();
  senders_.clear();  // joins
  // The loop has ended; send what is left, in this thread, until the deadline.
  while (clock_.steady_now() < deadline && pending_deletes() > 0) flush_deletes({}, true);
  if (auto left = pending_deletes(); left > 0) {
    log::warn(kConsumerComponent, "Deletes left unsent at shutdown; the messages will be redelivered",
              {{"count", left}});
  }
}

void Acknowledger::track(const std::string& message_id, const std::string& receipt_handle,
                         runtime::SteadyTime received_at) {
  runtime::MutexLock lock(mutex_);
  tracked_[message_id] = Tracked{receipt_handle, received_at + visibility_timeout_ / 2,
                                 received_at + visibility_timeout_};
}

void Acknowledger::acknowledge(const std::string& message_id) {
  bool full_batch = false;
  {
    runtime::MutexLock lock(mutex_);
    auto it = tracked_.find(message_id);
    if (it == tracked_.end()) return;
    // The latest receipt handle: a heartbeat never changes it, but a delete
    // must always use the newest one SQS gave for this message.
    deletes_.push_back(PendingDelete{message_id, std::move(it->second.receipt_handle), it->second.visible_at,
                                     clock_.steady_now(), 0});
    tracked_.erase(it);
    deletes_queued_ = true;
    full_batch = deletes_.size() >= kBatch;
  }
  wake_.notify_all();
  // The other senders only when a full batch waits and the round trip asks
  // for more than one call in flight: otherwise they cost no wake-up.
  if (full_batch && round_trip_.in_flight_for(kDeletesPerSecond, 1, kMaxSenders) > 1) senders_cv_.notify_one();
}

void Acknowledger::forget(const std::string& message_id) {
  runtime::MutexLock lock(mutex_);
  tracked_.erase(message_id);
}

bool Acknowledger::postpone(const std::string& message_id, std::chrono::seconds delay) {
  std::string handle;
  {
    runtime::MutexLock lock(mutex_);
    auto it = tracked_.find(message_id);
    if (it == tracked_.end()) return false;
    handle = std::move(it->second.receipt_handle);
    tracked_.erase(it);
  }
  const std::vector<aws::VisibilityChange> change{{handle, static_cast<int>(delay.count())}};
  try {
    auto result = source_.change_visibility(change, {}, call_limits());
    if (result.failed.empty()) return true;
    log::warn(kConsumerComponent, "Could not set a failed message's retry delay",
              {{"message_id", message_id}, {"code", result.failed.front().code}});
  } catch (const std::exception& e) {
    log::warn(kConsumerComponent, "Could not set a failed message's retry delay",
              {{"message_id", message_id}, {"error", e.what()}});
  }
  return false;
}

std::size_t Acknowledger::pending_deletes() {
  runtime::MutexLock lock(mutex_);
  return deletes_.size();
}

void Acknowledger::release(const std::vector<std::string>& receipt_handles) {
  for (std::size_t begin = 0; begin < receipt_handles.size(); begin += kBatch) {
    std::vector<aws::VisibilityChange> changes;
    for (std::size_t i = begin; i < std::min(receipt_handles.size(), begin + kBatch); ++i) {
      changes.push_back(aws::VisibilityChange{receipt_handles[i], 0});
    }
    try {
      auto result = source_.change_visibility(changes, {}, call_limits());
      for (const auto& failure : result.failed) {
        log::warn(kConsumerComponent, "Could not release a message; it returns after its visibility timeout",
                  {{"code", failure.code}, {"error", failure.message}});
      }
    } catch (const std::exception& e) {
      log::warn(kConsumerComponent, "Could not release messages; they return after their visibility timeout",
                {{"count", changes.size()}, {"error", e.what()}});
    }
  }
}

void Acknowledger::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    {
      runtime::MutexLock lock(mutex_);
      clock_.wait_for(wake_, lock.native(), stop, kTick, [&]() REQUIRES(mutex_) { return deletes_queued_; });
      deletes_queued_ = false;
    }
    if (stop.stop_requested()) break;
    flush_deletes(stop, false);
    send_heartbeats(stop);
  }
}

void Acknowledger::send_full_batches(std::stop_token stop) {
  // As many sending at once as the round trip asks for beside run()'s thread;
  // each that goes wakes the next if one more may go.
  auto wanted = [&]() REQUIRES(mutex_) {
    return deletes_.size() >= kBatch && active_senders_ + 1 < round_trip_.in_flight_for(kDeletesPerSecond, 1, kMaxSenders);
  };
  while (!stop.stop_requested()) {
    {
      runtime::MutexLock lock(mutex_);
      senders_cv_.wait(lock.native(), stop, wanted);
      if (stop.stop_requested()) break;
      ++active_senders_;
      if (wanted()) senders_cv_.notify_one();
    }
    flush_deletes(stop, false, true);
    runtime::MutexLock lock(mutex_);
    --active_senders_;
  }
}

void Acknowledger::flush_deletes(std::stop_token stop, bool everything, bool full_only) {
  while (true) {
    const auto now = clock_.steady_now();
    std::vector<PendingDelete> batch;
    {
      runtime::MutexLock lock(mutex_);
      if (full_only && std::count_if(deletes_.begin(), deletes_.end(), [&](const PendingDelete& d) {
                         return d.next_try <= now;
                       }) < static_cast<std::ptrdiff_t>(kBatch)) {
        return;
      }
      for (auto it = deletes_.begin(); it != deletes_.end() && batch.size() < kBatch;) {
        if (everything || it->next_try <= now) {
          batch.push_back(std::move(*it));
          it = deletes_.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (batch.empty()) return;
    std::vector<std::string> handles;
    for (const auto& d : batch) handles.push_back(d.receipt_handle);

    std::vector<PendingDelete> retry;
    try {
      const auto started = clock_.steady_now();
      auto result = source_.delete_messages(handles, stop, call_limits());
      round_trip_.record(clock_.steady_now() - started);
      for (const auto& failure : result.failed) {
        auto& d = batch[failure.index];
        log::warn(kConsumerComponent, "Delete failed; will retry",
                  {{"message_id", d.message_id}, {"code", failure.code}, {"error", failure.message}});
        // A receipt handle SQS calls invalid stays invalid.
        if (!failure.sender_fault) retry.push_back(std::move(d));
      }
    } catch (const aws::RequestCancelled&) {
      retry = std::move(batch);
    } catch (const std::exception& e) {
      log::warn(kConsumerComponent, "DeleteMessageBatch failed; will retry", {{"error", e.what()}});
      retry = std::move(batch);
    }
    if (retry.empty()) continue;
    const auto after = clock_.steady_now();
    runtime::MutexLock lock(mutex_);
    for (auto& d : retry) {
      ++d.attempts;
      // The last try comes when the message would turn visible: SQS still
      // takes the handle then unless another consumer received it first.
      d.next_try = std::min(after + kDeleteBackoff.delay(d.attempts - 1), d.give_up_at);
      if (after >= d.give_up_at) {
        log::error(kConsumerComponent,
                   "Giving up deleting a processed message: its receipt handle expires; its redelivery will be a "
                   "duplicate",
                   {{"message_id", d.message_id}, {"attempts", d.attempts}});
        continue;
      }
      deletes_.push_back(std::move(d));
    }
    return;  // the rest on the next tick rather than spinning
  }
}

void Acknowledger::send_heartbeats(std::stop_token stop) {
  const auto now = clock_.steady_now();
  std::vector<std::pair<std::string, std::string>> due;  // message id, receipt handle
  {
    runtime::MutexLock lock(mutex_);
    for (auto& [id, tracked] : tracked_) {
      if (tracked.next_heartbeat <= now) {
        due.emplace_back(id, tracked.receipt_handle);
        tracked.next_heartbeat = now + visibility_timeout_ / 2;
      }
    }
  }
  std::vector<std::string> extended;
  const int seconds = static_cast<int>(visibility_timeout_.count());
  for (std::size_t begin = 0; begin < due.size(); begin += kBatch) {
    std::vector<aws::VisibilityChange> changes;
    for (std::size_t i = begin; i < std::min(due.size(), begin + kBatch); ++i) {
      changes.push_back(aws::VisibilityChange{due[i].second, seconds});
    }
    try {
      auto result = source_.change_visibility(changes, stop, call_limits());
      std::vector<bool> ok(changes.size(), true);
      for (const auto& failure : result.failed) {
        if (failure.index < ok.size()) ok[failure.index] = false;
        log::warn(kConsumerComponent, "Visibility heartbeat failed",
                  {{"message_id", due[begin + failure.index].first}, {"code", failure.code}});
      }
      for (std::size_t i = 0; i < ok.size(); ++i) {
        if (ok[i]) extended.push_back(due[begin + i].first);
      }
      log::debug(kConsumerComponent, "Visibility extended", {{"count", changes.size()}, {"seconds", seconds}});
    } catch (const std::exception& e) {
      log::warn(kConsumerComponent, "Visibility heartbeat failed", {{"error", e.what()}});
    }
  }
  // Extended from the time the heartbeat was sent: a delete later has until then.
  runtime::MutexLock lock(mutex_);
  for (const auto& id : extended) {
    if (auto it = tracked_.find(id); it != tracked_.end()) it->second.visible_at = now + visibility_timeout_;
  }
}

}  // namespace docvault::consumer
