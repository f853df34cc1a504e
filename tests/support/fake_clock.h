// A Clock whose time moves only when the test moves it (Envoy's
// SimulatedTimeSystem, leveldb's fake Env in spirit).
//
// Wall and steady time start at fixed instants and advance together by
// advance(). A wait ends when the fake steady time reaches its deadline, its
// stop token is triggered or (for condition waits) its condition holds: the
// waiting thread re-checks every millisecond of real time, so advance() from
// the test thread releases it promptly. With auto_advance(true) a wait moves
// the time to its own deadline at once instead of blocking, so a loop that
// backs off runs through minutes of fake time in microseconds.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/clock.h"

namespace docvault::testing {

class FakeClock : public runtime::Clock {
 public:
  // 2025-10-23T12:00:00.000Z, and an arbitrary steady origin.
  static constexpr std::int64_t kStartMillis = 1761220800000;

  runtime::Timestamp now() const override {
    return runtime::Timestamp(std::chrono::milliseconds(wall_start_ms_.load() + offset_ms()));
  }
  runtime::SteadyTime steady_now() const override {
    return runtime::SteadyTime(std::chrono::hours(1000) + std::chrono::milliseconds(offset_ms()));
  }

  bool wait_until(runtime::SteadyTime deadline, std::stop_token stop) const override {
    while (!stop.stop_requested()) {
      if (steady_now() >= deadline) return true;
      if (auto_advance_) {
        advance_to(deadline);
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  bool wait_until(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock, std::stop_token stop,
                  runtime::SteadyTime deadline, const std::function<bool()>& ready) const override {
    while (!ready()) {
      if (stop.stop_requested()) return ready();
      if (steady_now() >= deadline) return ready();
      if (auto_advance_) {
        advance_to(deadline);
        continue;
      }
      cv.wait_for(lock, stop, std::chrono::milliseconds(1), ready);
    }
    return true;
  }

  // Sets the wall time (steady time is left alone).
  void set_now(runtime::Timestamp wall) {
    wall_start_ms_ = wall.time_since_epoch().count() - offset_ms();
  }
  // Moves both clocks forward.
  void advance(std::chrono::milliseconds by) const { offset_ms_ += by.count(); }
  void auto_advance(bool on) { auto_advance_ = on; }
  // Time moved so far.
  std::chrono::milliseconds elapsed() const { return std::chrono::milliseconds(offset_ms()); }

 private:
  std::int64_t offset_ms() const { return offset_ms_.load(); }
  void advance_to(runtime::SteadyTime deadline) const {
    const auto target =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - runtime::SteadyTime(std::chrono::hours(1000))).count();
    auto current = offset_ms_.load();
    while (current < target && !offset_ms_.compare_exchange_weak(current, target)) {
    }
  }

  mutable std::atomic<std::int64_t> offset_ms_{0};
  std::atomic<std::int64_t> wall_start_ms_{kStartMillis};
  std::atomic<bool> auto_advance_{false};
};

}  // namespace docvault::testing
