// Exponential backoff with a cap and jitter: the one formula every retry in
// docvault uses (AWS calls, the circuit breaker, outbox rows that failed).
//
// ceiling(n) = min(cap, base * 2^n), n = 0 for the first retry. The delay is
// that ceiling with one of three jitters:
//   none   the ceiling itself (the circuit breaker: predictable probes);
//   full   uniform in [0, ceiling] (AWS "standard" retries: spreads callers);
//   equal  ceiling/2 + uniform in [0, ceiling/2] (spread, yet never
//          immediate: outbox rows).
//
// Thread-safety: a Backoff is an immutable value; delay() may be called from
// any thread (each thread has its own random generator).
#pragma once

#include <chrono>

namespace docvault::runtime {

struct Backoff {
  enum class Jitter { none, full, equal };

  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{std::chrono::seconds(20)};
  Jitter jitter = Jitter::full;

  // min(cap, base * 2^exponent), without overflow for any exponent >= 0.
  std::chrono::milliseconds ceiling(int exponent) const;
  // The ceiling with this backoff's jitter.
  std::chrono::milliseconds delay(int exponent) const;
};

}  // namespace docvault::runtime
