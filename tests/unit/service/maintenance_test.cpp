// The maintenance runner on a fake clock: each task at start and then a
// period after its last run, one at a time; a failing task again a period
// later; stop() ends a wait at once and hands a running task its stop token.
// With auto_advance the runner's own waits move the time, so the run times
// it records are exact and no test sleeps.
#include "service/maintenance.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "fake_clock.h"
#include "test_env.h"

namespace docvault::service {
namespace {

using namespace std::chrono_literals;
using docvault::testing::wait_until;
using Runs = std::vector<std::pair<char, std::chrono::minutes>>;

class MaintenanceTest : public ::testing::Test {
 protected:
  // A task that records its name and the fake time of each run; `body` runs after.
  MaintenanceTask recording(char name, std::chrono::minutes period, std::function<void()> body = [] {}) {
    return {std::string(1, name), "test", period, [this, name, body](std::stop_token) {
              {
                std::lock_guard lock(mutex_);
                runs_.emplace_back(name, std::chrono::duration_cast<std::chrono::minutes>(clock_.elapsed()));
              }
              body();
            }};
  }
  std::size_t run_count() {
    std::lock_guard lock(mutex_);
    return runs_.size();
  }
  Runs first_runs(std::size_t n) {
    std::lock_guard lock(mutex_);
    return {runs_.begin(), runs_.begin() + static_cast<std::ptrdiff_t>(std::min(n, runs_.size()))};
  }

  docvault::testing::FakeClock clock_;
  std::mutex mutex_;
  Runs runs_;
};

TEST_F(MaintenanceTest, EachTaskRunsAtStartThenEveryPeriodOneAtATime) {
  clock_.auto_advance(true);
  Maintenance maintenance(clock_);
  maintenance.add(recording('a', 1min));
  maintenance.add(recording('b', 3min));
  maintenance.start();
  ASSERT_TRUE(wait_until([&] { return run_count() >= 8; }));
  maintenance.stop();
  // Due together: in the order added.
  EXPECT_EQ(first_runs(8), (Runs{{'a', 0min}, {'b', 0min}, {'a', 1min}, {'a', 2min}, {'a', 3min}, {'b', 3min},
                                 {'a', 4min}, {'a', 5min}}));
}

TEST_F(MaintenanceTest, AFailingTaskIsRetriedNextPeriodAndOthersGoOn) {
  clock_.auto_advance(true);
  std::atomic<int> attempts{0};
  Maintenance maintenance(clock_);
  maintenance.add(recording('f', 2min, [&] {
    if (++attempts <= 2) throw std::runtime_error("database unavailable");
  }));
  maintenance.add(recording('o', 3min));
  maintenance.start();
  ASSERT_TRUE(wait_until([&] { return run_count() >= 6; }));
  maintenance.stop();
  EXPECT_EQ(first_runs(6), (Runs{{'f', 0min}, {'o', 0min}, {'f', 2min}, {'o', 3min}, {'f', 4min}, {'f', 6min}}));
  EXPECT_GE(attempts.load(), 4);
}

TEST_F(MaintenanceTest, StopEndsTheWaitAtOnce) {
  Maintenance maintenance(clock_);
  maintenance.add(recording('a', 60min));
  maintenance.start();
  ASSERT_TRUE(wait_until([&] { return run_count() == 1; }));
  const auto started = std::chrono::steady_clock::now();
  maintenance.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_EQ(run_count(), 1u);
  EXPECT_EQ(clock_.elapsed(), 0ms);  // the fake time never moved: the wait was cut short
}

TEST_F(MaintenanceTest, StopHandsARunningTaskItsStopToken) {
  std::atomic<bool> running{false}, saw_stop{false};
  Maintenance maintenance(clock_);
  maintenance.add({"blocking", "test", 1min, [&](std::stop_token stop) {
                     running = true;
                     std::mutex mutex;
                     std::condition_variable_any cv;
                     std::unique_lock lock(mutex);
                     saw_stop = cv.wait(lock, stop, [] { return false; }) == false && stop.stop_requested();
                   }});
  maintenance.start();
  ASSERT_TRUE(wait_until([&] { return running.load(); }));
  const auto started = std::chrono::steady_clock::now();
  maintenance.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_TRUE(saw_stop.load());
}

TEST_F(MaintenanceTest, WithoutTasksStartAndStopDoNothing) {
  Maintenance maintenance(clock_);
  maintenance.start();
  maintenance.stop();
}

}  // namespace
}  // namespace docvault::service
