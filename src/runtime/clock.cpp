#include "runtime/clock.h"

namespace docvault::runtime {

Timestamp SystemClock::now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

SteadyTime SystemClock::steady_now() const { return std::chrono::steady_clock::now(); }

bool SystemClock::wait_until(SteadyTime deadline, std::stop_token stop) const {
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock lock(mutex);
  // Only a stop request ends the wait early: nothing else notifies `wake`.
  wake.wait_until(lock, stop, deadline, [] { return false; });
  return !stop.stop_requested();
}

bool SystemClock::wait_until(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock,
                             std::stop_token stop, SteadyTime deadline, const std::function<bool()>& ready) const {
  return cv.wait_until(lock, stop, deadline, ready);
}

const Clock& system_clock() {
  static const SystemClock* const clock = new SystemClock();  // never destroyed: threads may outlive statics
  return *clock;
}

}  // namespace docvault::runtime
