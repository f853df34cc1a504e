// An in-memory outbox::Publisher for the relay's unit tests: records every
// entry it accepted (target, event id, payload), and fails on demand: whole
// calls (fail_calls: the next n calls throw an aws::AwsError, by default as
// an unreachable service) or single entries (fail_event: that event id is
// refused while set). The limits each call came with are kept.
//
// Thread-safety: every member may be called from any thread (the relay
// publishes to its two destinations from two threads at once).
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "aws/error.h"
#include "outbox/publisher.h"

namespace docvault::testing {

class FakePublisher final : public outbox::Publisher {
 public:
  struct Published {
    std::string target;
    std::string event_id;
    std::string payload;
    std::string ordering_key;
  };

  // Each call is answered in its start(), and comes out of the next wait():
  // the calls started between two waits were in flight together
  // (max_in_flight()).
  std::unique_ptr<outbox::PublishCalls> concurrent() override {
    class Sequential final : public outbox::PublishCalls {
     public:
      explicit Sequential(FakePublisher& publisher) : publisher_(publisher) {}
      void start(std::size_t tag, const std::string& target, std::span<outbox::PublishEntry> entries,
                 const aws::CallLimits& limits) override {
        Done done{tag, {}, nullptr};
        try {
          done.failures = publisher_.answer(target, entries, limits);
        } catch (...) {
          done.error = std::current_exception();
        }
        done_.push_back(std::move(done));
        publisher_.in_flight(done_.size());
      }
      std::vector<Done> wait() override { return std::exchange(done_, {}); }

     private:
      FakePublisher& publisher_;
      std::vector<Done> done_;
    };
    return std::make_unique<Sequential>(*this);
  }

  std::vector<Published> published() const {
    std::lock_guard lock(mutex_);
    return published_;
  }
  int calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  // Entries per call, in the order the calls came.
  std::vector<std::size_t> call_sizes() const {
    std::lock_guard lock(mutex_);
    return call_sizes_;
  }
  // Called in every call (under the publisher's lock): e.g. a FakeClock
  // advanced by a round trip.
  void on_publish(std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    on_publish_ = std::move(hook);
  }
  // The next `count` calls fail as a whole with this HTTP status (0: no
  // answer) and AWS error code.
  void fail_calls(int count, int status = 0, std::string code = "NetworkError") {
    std::lock_guard lock(mutex_);
    fail_calls_ = count;
    fail_status_ = status;
    fail_code_ = std::move(code);
  }
  // The most calls in flight at once, over every PublishCalls.
  std::size_t max_in_flight() const {
    std::lock_guard lock(mutex_);
    return max_in_flight_;
  }
  std::vector<aws::CallLimits> limits() const {
    std::lock_guard lock(mutex_);
    return limits_;
  }
  void fail_event(const std::string& event_id, bool on = true) {
    std::lock_guard lock(mutex_);
    if (on) {
      failing_.insert(event_id);
    } else {
      failing_.erase(event_id);
    }
  }

 private:
  void in_flight(std::size_t calls) {
    std::lock_guard lock(mutex_);
    max_in_flight_ = std::max(max_in_flight_, calls);
  }
  // One call's answer, at its start.
  std::vector<outbox::EntryFailure> answer(const std::string& target, std::span<outbox::PublishEntry> entries,
                                           const aws::CallLimits& limits) {
    if (entries.size() > 10) throw std::invalid_argument("more than ten entries");
    std::lock_guard lock(mutex_);
    ++calls_;
    limits_.push_back(limits);
    call_sizes_.push_back(entries.size());
    if (on_publish_) on_publish_();
    if (fail_calls_ > 0) {
      --fail_calls_;
      throw aws::AwsError(fail_status_, fail_code_, "injected publish failure");
    }
    std::vector<outbox::EntryFailure> failures;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (failing_.contains(entries[i].event_id)) {
        failures.push_back({i, "InternalError: injected entry failure", "service_error"});
        continue;
      }
      published_.push_back({target, entries[i].event_id, entries[i].payload, entries[i].ordering_key});
    }
    return failures;
  }

  mutable std::mutex mutex_;
  std::vector<Published> published_;
  std::set<std::string> failing_;
  std::vector<aws::CallLimits> limits_;
  std::vector<std::size_t> call_sizes_;
  std::function<void()> on_publish_;
  int calls_ = 0, fail_calls_ = 0, fail_status_ = 0;
  std::size_t max_in_flight_ = 0;
  std::string fail_code_ = "NetworkError";
};

}  // namespace docvault::testing
