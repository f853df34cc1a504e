// A circuit breaker for a worker that depends on something that can go down
// (the database, SQS, SNS).
//
// Closed: work goes ahead; consecutive failures are counted. After
// `failure_threshold` of them the breaker opens: the worker stops pulling
// work (so SQS messages are not received and burned toward the dead-letter
// queue while the database is down) until a retry time that backs off
// exponentially. Then it is half-open: one probe goes ahead; success closes
// it, failure opens it again with a longer delay. State changes are logged.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

namespace docvault::resilience {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { closed, open, half_open };

  struct Options {
    int failure_threshold = 3;
    std::chrono::milliseconds base_delay{1000};
    std::chrono::milliseconds max_delay{60'000};
  };

  // `component` names the worker in log lines.
  CircuitBreaker(std::string component, Options options);

  // Whether work may go ahead at `now`. An open breaker whose retry time has
  // come turns half-open and lets exactly this caller probe.
  bool allow(Clock::time_point now = Clock::now());
  void record_success();
  void record_failure(std::string_view reason, Clock::time_point now = Clock::now());

  State state() const;
  std::string last_failure() const;
  Clock::time_point retry_at() const;

 private:
  const std::string component_;
  const Options options_;
  mutable std::mutex mutex_;
  State state_ = State::closed;        // guarded by mutex_
  int consecutive_failures_ = 0;       // guarded by mutex_
  int openings_ = 0;                   // since the last close; guarded by mutex_
  Clock::time_point retry_at_{};       // guarded by mutex_
  std::string last_failure_;           // guarded by mutex_
};

std::string_view to_string(CircuitBreaker::State state);

}  // namespace docvault::resilience
