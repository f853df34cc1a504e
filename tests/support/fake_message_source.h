// A queue in memory, with SQS's visibility semantics, for the consumer's
// unit tests (consumer/message_source.h).
//
// push() adds a message; receive() hands out visible messages (a new receipt
// handle each time, ApproximateReceiveCount counted) and hides them for the
// visibility timeout, measured on the given clock, so a message whose worker
// "crashed" comes back once the test advances the clock past it. A long poll
// waits for a push or its stop token (never for the fake time). Deletes need
// the message's latest receipt handle. Everything done is recorded for the
// test to read; fail_receives makes the next receives throw.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "aws/error.h"
#include "aws/http_transport.h"
#include "consumer/message_source.h"
#include "runtime/clock.h"

namespace docvault::testing {

class FakeMessageSource final : public consumer::MessageSource {
 public:
  FakeMessageSource(const runtime::Clock& clock, bool fifo = false, std::chrono::seconds visibility = std::chrono::seconds(30))
      : clock_(clock), fifo_(fifo), visibility_(visibility) {}

  // A new message; `group` is its MessageGroupId (FIFO); `system` are more
  // system attributes it is received with (AWSTraceHeader, ...).
  void push(std::string message_id, std::string body, std::string group = "",
            std::map<std::string, std::string> system = {}) {
    {
      std::lock_guard lock(mutex_);
      Message m;
      m.id = std::move(message_id);
      m.body = std::move(body);
      m.group = std::move(group);
      m.system = std::move(system);
      messages_.push_back(std::move(m));
    }
    arrived_.notify_all();
  }

  std::vector<aws::ReceivedMessage> receive(const consumer::ReceiveOptions& options, std::stop_token stop) override {
    std::unique_lock lock(mutex_);
    ++receives_;
    receive_options_.push_back(options);
    if (on_receive_) on_receive_();
    // Receives in progress at once; with gather_receives, this one waits for
    // the others to come.
    const int active = ++active_receives_;
    max_active_receives_ = std::max(max_active_receives_, active);
    struct Leave {
      FakeMessageSource& source;
      ~Leave() { --source.active_receives_; }
    } leave{*this};
    if (gather_ > 1) {
      arrived_.notify_all();
      const auto give_up = std::chrono::steady_clock::now() + gather_patience_;
      while (active_receives_ < gather_ && std::chrono::steady_clock::now() < give_up && !stop.stop_requested()) {
        arrived_.wait_until(lock, give_up);
      }
    }
    if (fail_receives_ > 0) {
      --fail_receives_;
      throw aws::AwsError(0, "NetworkError", "injected receive failure");
    }
    std::vector<aws::ReceivedMessage> out;
    auto take = [&] {
      const auto now = clock_.steady_now();
      std::set<std::string> groups_in_flight;
      if (fifo_) {
        for (const auto& m : messages_) {
          if (m.invisible_until > now) groups_in_flight.insert(m.group);
        }
      }
      for (auto& m : messages_) {
        if (out.size() >= static_cast<std::size_t>(options.max_messages)) break;
        if (m.invisible_until > now) continue;
        // FIFO: nothing of a group while an earlier message of it is in flight.
        if (fifo_ && groups_in_flight.contains(m.group)) continue;
        ++m.receive_count;
        m.receipt_handle = m.id + "#" + std::to_string(++handles_);
        m.invisible_until = now + std::chrono::seconds(options.visibility_timeout_seconds.value_or(
                                      static_cast<int>(visibility_.count())));
        aws::ReceivedMessage r;
        r.message_id = m.id;
        r.receipt_handle = m.receipt_handle;
        r.body = m.body;
        r.attributes = m.system;
        r.attributes["ApproximateReceiveCount"] = std::to_string(m.receive_count);
        if (!m.group.empty()) r.attributes["MessageGroupId"] = m.group;
        out.push_back(std::move(r));
      }
      return !out.empty();
    };
    if (!take() && options.wait_time_seconds > 0) {
      // A long poll ends when a message is there (pushed, released, or
      // visible again because the test advanced the clock) or at a stop; it
      // never ends empty on its own.
      while (!take()) {
        if (stop.stop_requested()) throw aws::RequestCancelled();
        arrived_.wait_for(lock, stop, std::chrono::milliseconds(2), [] { return false; });
      }
    }
    return out;
  }

  aws::BatchResult delete_messages(std::span<const std::string> handles, std::stop_token,
                                   const aws::CallLimits& limits) override {
    if (handles.size() > 10) throw std::invalid_argument("more than ten entries");
    std::lock_guard lock(mutex_);
    ++delete_calls_;
    delete_limits_.push_back(limits);
    if (fail_deletes_) throw aws::AwsError(0, "NetworkError", "injected delete failure");
    aws::BatchResult result;
    for (std::size_t i = 0; i < handles.size(); ++i) {
      auto it = std::find_if(messages_.begin(), messages_.end(),
                             [&](const Message& m) { return m.receipt_handle == handles[i]; });
      if (it == messages_.end()) {
        result.failed.push_back({i, "ReceiptHandleIsInvalid", "no such receipt handle", true});
        continue;
      }
      deleted_.push_back(it->id);
      messages_.erase(it);
      result.successful.push_back(i);
    }
    return result;
  }

  aws::BatchResult change_visibility(std::span<const aws::VisibilityChange> changes, std::stop_token,
                                     const aws::CallLimits&) override {
    if (changes.size() > 10) throw std::invalid_argument("more than ten entries");
    aws::BatchResult result;
    {
      std::lock_guard lock(mutex_);
      for (std::size_t i = 0; i < changes.size(); ++i) {
        auto it = std::find_if(messages_.begin(), messages_.end(),
                               [&](const Message& m) { return m.receipt_handle == changes[i].receipt_handle; });
        if (it == messages_.end()) {
          result.failed.push_back({i, "ReceiptHandleIsInvalid", "no such receipt handle", true});
          continue;
        }
        const auto seconds = changes[i].visibility_timeout_seconds;
        it->invisible_until = clock_.steady_now() + std::chrono::seconds(seconds);
        (seconds == 0 ? released_ : heartbeats_).push_back(it->id);
        visibility_changes_.emplace_back(it->id, seconds);
        result.successful.push_back(i);
      }
    }
    arrived_.notify_all();  // a release makes messages visible
    return result;
  }

  void dead_letter(const aws::ReceivedMessage& message, std::string_view reason) override {
    std::lock_guard lock(mutex_);
    dead_lettered_.emplace_back(message.message_id, std::string(reason));
  }
  bool has_dead_letter_queue() const override { return dead_letter_queue_; }

  std::map<std::string, std::string> attributes(std::span<const std::string> names, std::stop_token) override {
    std::lock_guard lock(mutex_);
    std::map<std::string, std::string> out;
    for (const auto& name : names) {
      if (name == "VisibilityTimeout") out[name] = std::to_string(visibility_.count());
      if (name == "ApproximateNumberOfMessages") out[name] = std::to_string(messages_.size());
      if (name == "RedrivePolicy" && max_receive_count_ > 0) {
        out[name] = R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:fake-dlq","maxReceiveCount":)" +
                    std::to_string(max_receive_count_) + "}";
      }
    }
    return out;
  }
  bool fifo() const override { return fifo_; }
  std::string describe() const override { return "fake-queue"; }

  // What happened, for assertions (copies, taken under the lock).
  std::vector<std::string> deleted() const { return read(deleted_); }
  std::vector<std::string> released() const { return read(released_); }
  std::vector<std::string> heartbeats() const { return read(heartbeats_); }
  std::vector<std::pair<std::string, std::string>> dead_lettered() const {
    std::lock_guard lock(mutex_);
    return dead_lettered_;
  }
  std::size_t remaining() const {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }
  int receives() const {
    std::lock_guard lock(mutex_);
    return receives_;
  }
  // Called at the start of every receive (under the source's lock): e.g. a
  // FakeClock advanced by a round trip.
  void on_receive(std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    on_receive_ = std::move(hook);
  }
  // Each receive waits until `count` receives are in progress at once (or
  // `patience` of real time passed), so a test sees how many the consumer
  // keeps in flight: max_concurrent_receives().
  void gather_receives(int count, std::chrono::milliseconds patience) {
    std::lock_guard lock(mutex_);
    gather_ = count;
    gather_patience_ = patience;
  }
  int max_concurrent_receives() const {
    std::lock_guard lock(mutex_);
    return max_active_receives_;
  }
  void fail_receives(int count) {
    std::lock_guard lock(mutex_);
    fail_receives_ = count;
  }
  void set_dead_letter_queue(bool on) { dead_letter_queue_ = on; }
  // The queue's redrive policy says a message goes to the DLQ after `count` receives.
  void set_max_receive_count(int count) {
    std::lock_guard lock(mutex_);
    max_receive_count_ = count;
  }
  // While on, every DeleteMessageBatch call fails as an unreachable SQS would.
  void fail_deletes(bool on) {
    std::lock_guard lock(mutex_);
    fail_deletes_ = on;
  }
  // Every ChangeMessageVisibility entry taken: message id, seconds.
  std::vector<std::pair<std::string, int>> visibility_changes() const {
    std::lock_guard lock(mutex_);
    return visibility_changes_;
  }
  std::vector<consumer::ReceiveOptions> receive_options() const {
    std::lock_guard lock(mutex_);
    return receive_options_;
  }
  std::vector<aws::CallLimits> delete_limits() const {
    std::lock_guard lock(mutex_);
    return delete_limits_;
  }
  // When the message is visible again (steady time); unset when deleted.
  std::optional<runtime::SteadyTime> invisible_until(const std::string& message_id) const {
    std::lock_guard lock(mutex_);
    for (const auto& m : messages_) {
      if (m.id == message_id) return m.invisible_until;
    }
    return std::nullopt;
  }

 private:
  struct Message {
    std::string id, body, group, receipt_handle;
    std::map<std::string, std::string> system;
    int receive_count = 0;
    runtime::SteadyTime invisible_until{};
  };
  std::vector<std::string> read(const std::vector<std::string>& v) const {
    std::lock_guard lock(mutex_);
    return v;
  }

  const runtime::Clock& clock_;
  const bool fifo_;
  const std::chrono::seconds visibility_;
  std::atomic<bool> dead_letter_queue_{false};
  mutable std::mutex mutex_;
  std::condition_variable_any arrived_;
  std::deque<Message> messages_;
  std::vector<std::string> deleted_, released_, heartbeats_;
  std::vector<std::pair<std::string, std::string>> dead_lettered_;
  std::vector<std::pair<std::string, int>> visibility_changes_;
  std::vector<consumer::ReceiveOptions> receive_options_;
  std::vector<aws::CallLimits> delete_limits_;
  int receives_ = 0, delete_calls_ = 0, fail_receives_ = 0, max_receive_count_ = 0;
  int active_receives_ = 0, max_active_receives_ = 0, gather_ = 0;
  std::chrono::milliseconds gather_patience_{0};
  std::function<void()> on_receive_;
  bool fail_deletes_ = false;
  std::uint64_t handles_ = 0;
};

}  // namespace docvault::testing
