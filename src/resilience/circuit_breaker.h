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
// Time comes from a runtime::Clock (steady time), so tests drive the
// backoff with a fake one; the delay is runtime::Backoff without jitter.
//
// A failure is recorded with two stable codes, each from a closed set the
// caller owns, and free text: the codes may be shown to anyone (/readyz), the
// text only goes to the log (it names hosts, queues, databases).
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "runtime/clock.h"
#include "runtime/mutex.h"

namespace docvault::resilience {

class CircuitBreaker {
 public:
  enum class State { closed, open, half_open };

  struct Failure {
    std::string reason;  // which dependency failed: "database_unavailable", "sqs_unavailable", ...
    std::string error;   // what kind of error: "network_error", "access_denied", ... (may be empty)
    std::string detail;  // the error's own text: for the log only
  };

  struct Options {
    int failure_threshold = 3;
    std::chrono::milliseconds base_delay{1000};
    std::chrono::milliseconds max_delay{60'000};
  };

  // `component` names the worker in log lines; `clock` must outlive the breaker.
  CircuitBreaker(std::string component, Options options, const runtime::Clock& clock = runtime::system_clock());

  // Whether work may go ahead now. An open breaker whose retry time has
  // come turns half-open and lets exactly this caller probe.
  bool allow();
  void record_success();
  void record_failure(Failure failure);

  State state() const;
  // The last failure recorded (empty before the first).
  Failure last_failure() const;
  runtime::SteadyTime retry_at() const;

 private:
  const std::string component_;
  const Options options_;
  const runtime::Clock& clock_;
  mutable runtime::Mutex mutex_;
  State state_ GUARDED_BY(mutex_) = State::closed;
  int consecutive_failures_ GUARDED_BY(mutex_) = 0;
  int openings_ GUARDED_BY(mutex_) = 0;  // since the last close
  runtime::SteadyTime retry_at_ GUARDED_BY(mutex_){};
  Failure last_failure_ GUARDED_BY(mutex_);
};

std::string_view to_string(CircuitBreaker::State state);

}  // namespace docvault::resilience
