#include "resilience/circuit_breaker.h"

#include <gtest/gtest.h>

namespace docvault::resilience {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;

TEST(CircuitBreaker, OpensAfterTheThresholdAndBacksOff) {
  CircuitBreaker b("test", {.failure_threshold = 2, .base_delay = 1000ms, .max_delay = 3000ms});
  auto t = CircuitBreaker::Clock::now();
  EXPECT_TRUE(b.allow(t));
  b.record_failure("db down", t);
  EXPECT_EQ(b.state(), State::closed);
  b.record_failure("db down", t);
  EXPECT_EQ(b.state(), State::open);
  EXPECT_FALSE(b.allow(t + 999ms));
  // Half-open: exactly one probe.
  EXPECT_TRUE(b.allow(t + 1000ms));
  EXPECT_EQ(b.state(), State::half_open);
  EXPECT_FALSE(b.allow(t + 1000ms));
  // The probe fails: open again, twice as long.
  b.record_failure("still down", t + 1000ms);
  EXPECT_EQ(b.state(), State::open);
  EXPECT_FALSE(b.allow(t + 2999ms));
  EXPECT_TRUE(b.allow(t + 3000ms));
  b.record_failure("still down", t + 3000ms);
  EXPECT_EQ(b.retry_at(), t + 6000ms);  // capped at max_delay
  EXPECT_EQ(b.last_failure(), "still down");
  EXPECT_TRUE(b.allow(t + 6000ms));
  b.record_success();
  EXPECT_EQ(b.state(), State::closed);
  EXPECT_TRUE(b.allow(t + 6000ms));
}

TEST(CircuitBreaker, SuccessResetsTheCount) {
  CircuitBreaker b("test", {.failure_threshold = 2});
  b.record_failure("x");
  b.record_success();
  b.record_failure("x");
  EXPECT_EQ(b.state(), State::closed);
}

}  // namespace
}  // namespace docvault::resilience
