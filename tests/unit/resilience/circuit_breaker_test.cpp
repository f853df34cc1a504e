#include "resilience/circuit_breaker.h"

#include <gtest/gtest.h>

#include "fake_clock.h"

namespace docvault::resilience {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;

TEST(CircuitBreaker, OpensAfterTheThresholdAndBacksOff) {
  docvault::testing::FakeClock clock;
  CircuitBreaker b("test", {.failure_threshold = 2, .base_delay = 1000ms, .max_delay = 3000ms}, clock);
  auto t = clock.steady_now();
  EXPECT_TRUE(b.allow());
  b.record_failure({"database_unavailable", "unreachable", "db down"});
  EXPECT_EQ(b.state(), State::closed);
  b.record_failure({"database_unavailable", "unreachable", "db down"});
  EXPECT_EQ(b.state(), State::open);
  clock.advance(999ms);
  EXPECT_FALSE(b.allow());
  // Half-open: exactly one probe.
  clock.advance(1ms);
  EXPECT_TRUE(b.allow());
  EXPECT_EQ(b.state(), State::half_open);
  EXPECT_FALSE(b.allow());
  // The probe fails: open again, twice as long.
  b.record_failure({"database_unavailable", "unreachable", "still down"});
  EXPECT_EQ(b.state(), State::open);
  clock.advance(1999ms);
  EXPECT_FALSE(b.allow());
  clock.advance(1ms);
  EXPECT_TRUE(b.allow());
  b.record_failure({"database_unavailable", "unreachable", "still down"});
  EXPECT_EQ(b.retry_at(), t + 6000ms);  // capped at max_delay
  EXPECT_EQ(b.last_failure().reason, "database_unavailable");
  EXPECT_EQ(b.last_failure().detail, "still down");
  clock.advance(3000ms);
  EXPECT_TRUE(b.allow());
  b.record_success();
  EXPECT_EQ(b.state(), State::closed);
  EXPECT_TRUE(b.allow());
}

TEST(CircuitBreaker, SuccessResetsTheCount) {
  CircuitBreaker b("test", {.failure_threshold = 2});
  b.record_failure({"x", "", ""});
  b.record_success();
  b.record_failure({"x", "", ""});
  EXPECT_EQ(b.state(), State::closed);
}

}  // namespace
}  // namespace docvault::resilience
