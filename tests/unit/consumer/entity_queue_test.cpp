#include "consumer/entity_queue.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

namespace docvault::consumer {
namespace {

TEST(EntityQueue, ItemsOfOneKeyWaitForTheOneAhead) {
  EntityQueue<int> q;
  q.push("a", 1);
  q.push("a", 2);
  q.push("b", 3);
  auto first = q.pop();
  auto second = q.pop();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->second, 1);
  EXPECT_EQ(second->second, 3);  // "a"'s second item waits behind the first
  q.done("a");
  auto third = q.pop();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->first, "a");
  EXPECT_EQ(third->second, 2);
}

TEST(EntityQueue, TakeUnstartedReturnsEverythingNotPopped) {
  EntityQueue<int> q;
  q.push("a", 1);
  q.push("a", 2);
  q.push("b", 3);
  q.push("c", 4);
  auto running = q.pop();  // a:1 in progress
  auto rest = q.take_unstarted();
  std::sort(rest.begin(), rest.end());
  EXPECT_EQ(rest, (std::vector<int>{2, 3, 4}));
  q.done("a");
  q.close();
  EXPECT_FALSE(q.pop());
}

TEST(EntityQueue, OneKeyNeverRunsTwiceAtOnceUnderLoad) {
  EntityQueue<int> q;
  constexpr int kKeys = 8, kPerKey = 200;
  std::array<std::atomic<int>, kKeys> running{};
  std::array<std::atomic<int>, kKeys> last{};
  for (auto& l : last) l = -1;
  std::atomic<bool> overlap{false}, out_of_order{false};
  std::atomic<int> processed{0};
  std::vector<std::jthread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto item = q.pop()) {
        int key = std::stoi(item->first);
        if (running[key]++ != 0) overlap = true;
        if (item->second <= last[key]) out_of_order = true;
        last[key] = item->second;
        std::this_thread::yield();
        --running[key];
        q.done(item->first);
        if (++processed == kKeys * kPerKey) q.close();
      }
    });
  }
  for (int i = 0; i < kPerKey; ++i) {
    for (int k = 0; k < kKeys; ++k) q.push(std::to_string(k), i);
  }
  workers.clear();
  EXPECT_EQ(processed, kKeys * kPerKey);
  EXPECT_FALSE(overlap);
  EXPECT_FALSE(out_of_order);
}

TEST(EntityQueue, CloseWakesIdleWorkers) {
  EntityQueue<int> q;
  std::jthread worker([&] { EXPECT_FALSE(q.pop()); });
  q.close();
}

}  // namespace
}  // namespace docvault::consumer
