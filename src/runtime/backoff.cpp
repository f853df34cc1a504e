#include "runtime/backoff.h"

#include <algorithm>
#include <random>

namespace docvault::runtime {

std::chrono::milliseconds Backoff::ceiling(int exponent) const {
  const auto limit = std::max<std::int64_t>(0, cap.count());
  std::int64_t value = std::max<std::int64_t>(0, base.count());
  // Doubling stops at the cap, so it never overflows.
  for (int i = 0; i < exponent && value < limit && value > 0; ++i) value = std::min(limit, value * 2);
  return std::chrono::milliseconds(std::min(value, limit));
}

std::chrono::milliseconds Backoff::delay(int exponent) const {
  const auto top = ceiling(exponent).count();
  thread_local std::mt19937_64 random{std::random_device{}()};
  switch (jitter) {
    case Jitter::none:
      return std::chrono::milliseconds(top);
    case Jitter::full:
      return std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, top)(random));
    case Jitter::equal:
      return std::chrono::milliseconds(top / 2 + std::uniform_int_distribution<std::int64_t>(0, top / 2)(random));
  }
  return std::chrono::milliseconds(top);
}

}  // namespace docvault::runtime
