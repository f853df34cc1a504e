// RoundTrip: how far away a remote service is, as the floor of its calls'
// round trips, and how many such calls to keep in flight for a wanted rate.
// Little's law: calls in flight = call rate x round trip; on loopback one or
// a few calls suffice, 50 ms away the same rate needs fifty times as many.
// The relay sizes its publish lanes from it, the consumer its receives and
// deletes while the queue has a backlog.
//
// The floor, not the mean: a server that is busy (or single-threaded, like
// the local emulator) answers later the more calls it is sent, and sizing
// from the mean would send more the slower it got. The floor follows a
// faster answer at once and a slower one by 1/32 of the difference per call,
// so a longer route is learnt within a few dozen calls while queueing our
// own calls cause hardly moves it. record() takes answered calls only (and
// for receives only those that did not wait in a long poll).
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace docvault::runtime {

class RoundTrip {
 public:
  using Duration = std::chrono::nanoseconds;

  void record(Duration sample) {
    const std::int64_t s = std::max<std::int64_t>(sample.count(), 1);
    std::int64_t old = nanos_.load(std::memory_order_relaxed);
    while (!nanos_.compare_exchange_weak(old, old == 0 || s <= old ? s : old + (s - old) / 32,
                                         std::memory_order_relaxed)) {
    }
  }

  // Zero until a call was recorded.
  Duration floor() const { return Duration(nanos_.load(std::memory_order_relaxed)); }

  // ceil(calls_per_second x floor), within [least, most].
  std::size_t in_flight_for(double calls_per_second, std::size_t least, std::size_t most) const {
    const double wanted = std::ceil(calls_per_second * std::chrono::duration<double>(floor()).count());
    return std::clamp(static_cast<std::size_t>(std::max(wanted, 0.0)), least, std::max(least, most));
  }

 private:
  std::atomic<std::int64_t> nanos_{0};
};

}  // namespace docvault::runtime
