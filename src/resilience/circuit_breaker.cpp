#include "resilience/circuit_breaker.h"

#include <algorithm>
#include <utility>

#include "log/log.h"
#include "runtime/backoff.h"

namespace docvault::resilience {

std::string_view to_string(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::closed: return "closed";
    case CircuitBreaker::State::open: return "open";
    case CircuitBreaker::State::half_open: return "half_open";
  }
  return "closed";
}

CircuitBreaker::CircuitBreaker(std::string component, Options options, const runtime::Clock& clock)
    : component_(std::move(component)), options_(options), clock_(clock) {}

bool CircuitBreaker::allow() {
  const auto now = clock_.steady_now();
  runtime::MutexLock lock(mutex_);
  if (state_ == State::closed) return true;
  if (state_ == State::half_open) return false;  // one probe at a time
  if (now < retry_at_) return false;
  state_ = State::half_open;
  log::info(component_, "Circuit breaker half-open: probing",
            {{"reason", last_failure_.reason}, {"error", last_failure_.detail}});
  return true;
}

void CircuitBreaker::record_success() {
  runtime::MutexLock lock(mutex_);
  consecutive_failures_ = 0;
  if (state_ == State::closed) return;
  state_ = State::closed;
  openings_ = 0;
  log::info(component_, "Circuit breaker closed: dependency is back");
}

void CircuitBreaker::record_failure(Failure failure) {
  const auto now = clock_.steady_now();
  runtime::MutexLock lock(mutex_);
  last_failure_ = std::move(failure);
  ++consecutive_failures_;
  if (state_ == State::closed && consecutive_failures_ < options_.failure_threshold) return;
  const std::chrono::milliseconds delay =
      runtime::Backoff{.base = options_.base_delay, .cap = options_.max_delay, .jitter = runtime::Backoff::Jitter::none}
          .delay(std::min(openings_, 16));
  ++openings_;
  retry_at_ = now + delay;
  if (state_ != State::open) {
    log::warn(component_, "Circuit breaker opened: pausing until the dependency is back",
              {{"reason", last_failure_.reason},
               {"error", last_failure_.detail},
               {"retry_in_ms", delay.count()},
               {"consecutive_failures", consecutive_failures_}});
  }
  state_ = State::open;
}

CircuitBreaker::State CircuitBreaker::state() const {
  runtime::MutexLock lock(mutex_);
  return state_;
}

CircuitBreaker::Failure CircuitBreaker::last_failure() const {
  runtime::MutexLock lock(mutex_);
  return last_failure_;
}

runtime::SteadyTime CircuitBreaker::retry_at() const {
  runtime::MutexLock lock(mutex_);
  return retry_at_;
}

}  // namespace docvault::resilience
