// Time, behind one interface: the Env seam's clock.
//
// Everything in docvault that reads the time or waits for it goes through a
// `Clock`: wall time (UTC, millisecond precision: what rows and events
// carry), steady time (deadlines, intervals, backoff) and the waits a worker
// makes, each of which ends early when its std::stop_token is triggered. In
// production that is `system_clock()`; tests hand in
// tests/support/fake_clock.h, whose time moves only when the test says so, so
// no test has to sleep to see a backoff, a heartbeat or a retention run.
//
// Thread-safety: every member of every implementation may be called from any
// thread at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>

namespace docvault::runtime {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;
using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;

  // Wall time, UTC, whole milliseconds.
  virtual Timestamp now() const = 0;
  // Monotonic time: never goes back, unrelated to the calendar.
  virtual SteadyTime steady_now() const = 0;

  // Blocks until steady time `deadline` or until `stop` is requested;
  // returns false when stopped first.
  virtual bool wait_until(SteadyTime deadline, std::stop_token stop) const = 0;

  // Blocks on `cv` (with `lock` held on entry and on return) until `ready()`
  // holds, `stop` is requested or steady time `deadline` comes; returns
  // ready(). The condition wait every worker loop makes, through the clock so
  // a fake clock's deadline is the one that counts.
  virtual bool wait_until(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock,
                          std::stop_token stop, SteadyTime deadline,
                          const std::function<bool()>& ready) const = 0;

  // wait_until(steady_now() + delay, stop).
  bool sleep_for(std::chrono::nanoseconds delay, std::stop_token stop) const {
    return wait_until(steady_now() + std::chrono::duration_cast<SteadyTime::duration>(delay), stop);
  }
  bool wait_for(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock, std::stop_token stop,
                std::chrono::nanoseconds timeout, const std::function<bool()>& ready) const {
    return wait_until(cv, lock, stop, steady_now() + std::chrono::duration_cast<SteadyTime::duration>(timeout),
                      ready);
  }
};

// The real clocks: std::chrono::system_clock and steady_clock.
class SystemClock final : public Clock {
 public:
  Timestamp now() const override;
  SteadyTime steady_now() const override;
  bool wait_until(SteadyTime deadline, std::stop_token stop) const override;
  bool wait_until(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock, std::stop_token stop,
                  SteadyTime deadline, const std::function<bool()>& ready) const override;
};

// One SystemClock for the process (never destroyed before its users).
const Clock& system_clock();

}  // namespace docvault::runtime
