// Several PostgresStore instances and threads against one database: the
// behaviour that N replicas of docvault rely on.
#include <atomic>
#include <barrier>
#include <exception>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/postgres/postgres_store.h"
#include "postgres_fixture.h"
#include "test_env.h"

namespace docvault::testing {
namespace {

using store::Transaction;

using PostgresConcurrencyTest = PostgresTest;

TEST_F(PostgresConcurrencyTest, TwoInstancesMigratingAFreshDatabaseAtOnceBothSucceed) {
  auto first = open_store(2);
  auto second = open_store(2);
  std::barrier start(2);
  auto migrate = [&](store::PostgresStore& store) {
    start.arrive_and_wait();
    store.migrate();
  };
  auto a = std::async(std::launch::async, migrate, std::ref(*first));
  auto b = std::async(std::launch::async, migrate, std::ref(*second));
  EXPECT_NO_THROW(a.get());
  EXPECT_NO_THROW(b.get());

  EXPECT_EQ(first->applied_migrations(), first->known_migrations());
  EXPECT_EQ(second->applied_migrations(), second->known_migrations());
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM schema_migrations"),
            static_cast<int>(first->known_migrations().size()));
  EXPECT_EQ(scalar<int>("SELECT count(DISTINCT version) FROM schema_migrations"),
            static_cast<int>(first->known_migrations().size()));
  // The lock is released: a third migration neither blocks nor changes anything.
  // (pg_locks spans the cluster: tests running in parallel hold locks in their
  // own databases, which are not this one's business.)
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                        "database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            0);
  open_store(1)->migrate();
}

// The first transaction to record an event holds its unique-index entry until
// it ends; a second one blocks on it and, once the first commits, reports the
// event as already processed.
TEST_F(PostgresConcurrencyTest, ConcurrentRecordOfOneEventBlocksThenReturnsFalse) {
  auto store = open_store(4);
  store->migrate();
  const store::ProcessedEvent event{"evt-race", "epr-service", "issuer.deleted", "issuer-9",
                                    "issuer", Timestamp(std::chrono::milliseconds(1000)), std::nullopt};

  std::promise<void> first_recorded;
  std::promise<void> second_blocked;
  auto second_blocked_future = second_blocked.get_future();
  auto first = std::async(std::launch::async, [&] {
    return store::write(*store, [&](Transaction& tx) {
      const bool inserted = tx.record_processed_event(event) == store::RecordOutcome::recorded;
      first_recorded.set_value();
      second_blocked_future.wait();  // commit only once the other one waits on us
      return inserted;
    });
  });
  first_recorded.get_future().wait();
  auto second = std::async(std::launch::async, [&] {
    return store::write(*store, [&](Transaction& tx) { return tx.record_processed_event(event); }) ==
           store::RecordOutcome::recorded;
  });
  const bool waited = wait_until([&] {
    return scalar<int>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'") > 0;
  });
  second_blocked.set_value();
  EXPECT_TRUE(waited) << "the second insert never waited for the first";
  EXPECT_TRUE(first.get());
  EXPECT_FALSE(second.get());
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM processed_events WHERE event_id = 'evt-race'"), 1);
}

TEST_F(PostgresConcurrencyTest, ManyThreadsRecordingOneEventYieldExactlyOneTrue) {
  constexpr int kThreads = 8;
  auto store = open_store(kThreads);
  store->migrate();
  for (int round = 0; round < 20; ++round) {
    const store::ProcessedEvent event{"evt-" + std::to_string(round), "epr-service", "issuer.deleted",
                                      std::nullopt, std::nullopt,
                                      Timestamp(std::chrono::milliseconds(1000)), std::nullopt};
    std::barrier start(kThreads);
    std::atomic<int> inserted{0};
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        try {
          if (store::write(*store, [&](Transaction& tx) { return tx.record_processed_event(event); }) ==
              store::RecordOutcome::recorded) {
            ++inserted;
          }
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
        }
      });
    }
    threads.clear();
    EXPECT_EQ(inserted.load(), 1) << "round " << round;
  }
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM processed_events"), 20);
}

}  // namespace
}  // namespace docvault::testing
