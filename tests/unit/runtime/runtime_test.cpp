// The Env seam: parsing, backoff, ISO 8601, the system clock's stoppable
// waits and the fake clock the other suites drive time with.
#include <gtest/gtest.h>

#include <thread>

#include "fake_clock.h"
#include "runtime/backoff.h"
#include "runtime/clock.h"
#include "runtime/environment.h"
#include "runtime/iso8601.h"
#include "runtime/parse.h"
#include "runtime/round_trip.h"

namespace docvault::runtime {
namespace {

using namespace std::chrono_literals;

TEST(Parse, UnsignedTakesTheWholeTextOrNothing) {
  EXPECT_EQ(parse_uint("12"), 12u);
  EXPECT_EQ(parse_uint("0"), 0u);
  EXPECT_EQ(parse_uint("18446744073709551615"), 18446744073709551615ull);
  for (auto bad : {"", "12abc", " 12", "12 ", "+12", "-1", "1.5", "0x10", "18446744073709551616"}) {
    EXPECT_FALSE(parse_uint(bad)) << bad;
  }
}

TEST(Parse, IntegersInARange) {
  EXPECT_EQ(parse_integer<int>("-5"), -5);
  EXPECT_EQ(parse_integer<int>("7", 1, 10), 7);
  EXPECT_FALSE(parse_integer<int>("11", 1, 10));
  EXPECT_FALSE(parse_integer<int>("0", 1, 10));
  EXPECT_FALSE(parse_integer<int>("99999999999"));
}

TEST(Parse, BoolAcceptsTheUsualWordsInAnyCase) {
  for (auto yes : {"true", "TRUE", "True", "1", "yes", "YES", "on", "On"}) EXPECT_EQ(parse_bool(yes), true) << yes;
  for (auto no : {"false", "FALSE", "0", "no", "No", "off", "OFF"}) EXPECT_EQ(parse_bool(no), false) << no;
  for (auto bad : {"", "2", "y", "n", "truee", " true", "enabled"}) EXPECT_FALSE(parse_bool(bad)) << bad;
}

TEST(Backoff, DoublesUpToTheCapWithoutOverflow) {
  Backoff b{.base = 100ms, .cap = 1000ms, .jitter = Backoff::Jitter::none};
  EXPECT_EQ(b.ceiling(0), 100ms);
  EXPECT_EQ(b.ceiling(1), 200ms);
  EXPECT_EQ(b.ceiling(3), 800ms);
  EXPECT_EQ(b.ceiling(4), 1000ms);
  EXPECT_EQ(b.ceiling(1000), 1000ms);
  EXPECT_EQ(b.delay(2), 400ms);
}

TEST(Backoff, JitterStaysWithinItsBand) {
  Backoff full{.base = 100ms, .cap = 10s, .jitter = Backoff::Jitter::full};
  Backoff equal{.base = 100ms, .cap = 10s, .jitter = Backoff::Jitter::equal};
  for (int i = 0; i < 200; ++i) {
    auto f = full.delay(3);
    EXPECT_GE(f, 0ms);
    EXPECT_LE(f, 800ms);
    auto e = equal.delay(3);
    EXPECT_GE(e, 400ms);
    EXPECT_LE(e, 800ms);
  }
}

TEST(Iso8601, ReadsTheFormsInUse) {
  auto base = parse_iso8601("2015-08-30T12:36:00Z");
  ASSERT_TRUE(base);
  EXPECT_EQ(base->time_since_epoch(), 1440938160000ms);
  EXPECT_EQ(parse_iso8601("2015-08-30T12:36:00.789Z"), *base + 789ms);
  EXPECT_EQ(parse_iso8601("2015-08-30T12:36:00.5Z"), *base + 500ms);
  EXPECT_EQ(parse_iso8601("2015-08-30T12:36:00.123456Z"), *base + 123ms);
  EXPECT_EQ(parse_iso8601("2015-08-30t12:36:00+00:00"), *base);
  EXPECT_EQ(parse_iso8601("2015-08-30T12:36:00z"), *base);
  for (auto bad : {"", "2015-08-30", "2015-08-30T12:36:00", "2015-08-30T12:36:00+01:00", "2015-02-30T12:36:00Z",
                   "2015-08-30T24:00:00Z", "2015-08-30T12:60:00Z", " 2015-08-30T12:36:00Z", "2015-8-30T12:36:00Z"}) {
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
  }
}

TEST(RoundTrip, FollowsAFasterAnswerAtOnceAndASlowerOneSlowly) {
  RoundTrip rt;
  EXPECT_EQ(rt.floor(), 0ns);
  EXPECT_EQ(rt.in_flight_for(500, 2, 32), 2u);  // nothing measured: the least
  rt.record(50ms);
  EXPECT_EQ(rt.floor(), 50ms);
  EXPECT_EQ(rt.in_flight_for(500, 2, 32), 25u);  // Little's law: 500/s x 50 ms
  rt.record(500ms);  // one answer queued behind others hardly moves it
  EXPECT_LT(rt.floor(), 65ms);
  rt.record(2ms);  // closer: at once
  EXPECT_EQ(rt.floor(), 2ms);
  EXPECT_EQ(rt.in_flight_for(500, 2, 32), 2u);
  for (int i = 0; i < 200; ++i) rt.record(50ms);  // a longer route is learnt
  EXPECT_GT(rt.floor(), 49ms);
  EXPECT_EQ(rt.in_flight_for(1e6, 2, 32), 32u);  // never more than the most
}

TEST(Environment, FixedTreatsEmptyAsUnset) {
  auto env = fixed_environment({{"A", "1"}, {"B", ""}});
  EXPECT_EQ(env("A"), "1");
  EXPECT_FALSE(env("B"));
  EXPECT_FALSE(env("C"));
}

TEST(SystemClock, AStopEndsASleepAtOnce) {
  const auto started = std::chrono::steady_clock::now();
  std::jthread sleeper([](std::stop_token token) { EXPECT_FALSE(system_clock().sleep_for(60s, token)); });
  sleeper.request_stop();
  sleeper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST(SystemClock, ASleepThatIsNotStoppedReturnsTrue) {
  EXPECT_TRUE(system_clock().sleep_for(1ms, {}));
}

TEST(FakeClock, TimeMovesOnlyWhenAdvanced) {
  testing::FakeClock clock;
  auto wall = clock.now();
  auto steady = clock.steady_now();
  clock.advance(1500ms);
  EXPECT_EQ(clock.now() - wall, 1500ms);
  EXPECT_EQ(clock.steady_now() - steady, 1500ms);
}

TEST(FakeClock, ASleepEndsWhenTheTestAdvancesPastItsDeadline) {
  testing::FakeClock clock;
  std::atomic<bool> woke{false};
  // The deadline is fixed before the thread starts: advancing first must not move it.
  const auto deadline = clock.steady_now() + 10min;
  std::jthread sleeper([&] {
    EXPECT_TRUE(clock.wait_until(deadline, {}));
    woke = true;
  });
  clock.advance(9min);
  EXPECT_FALSE(woke.load());
  clock.advance(1min);
  sleeper.join();
  EXPECT_TRUE(woke.load());
}

TEST(FakeClock, AutoAdvanceJumpsToTheDeadline) {
  testing::FakeClock clock;
  clock.auto_advance(true);
  EXPECT_TRUE(clock.sleep_for(1h, {}));
  EXPECT_EQ(clock.elapsed(), 1h);
}

TEST(FakeClock, AConditionWaitEndsWhenItsConditionHolds) {
  testing::FakeClock clock;
  std::mutex mutex;
  std::condition_variable_any cv;
  bool ready = false;
  std::jthread setter([&] {
    std::lock_guard lock(mutex);
    ready = true;
    cv.notify_all();
  });
  std::unique_lock lock(mutex);
  EXPECT_TRUE(clock.wait_for(cv, lock, {}, 1h, [&] { return ready; }));
}

}  // namespace
}  // namespace docvault::runtime
