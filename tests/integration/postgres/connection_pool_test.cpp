// The connection pool under the failures production sees: backends killed by
// an operator or a failover, and more callers than connections.
#include "store/postgres/connection_pool.h"

#include <barrier>
#include <chrono>
#include <functional>
#include <vector>
#include <future>
#include <string>

#include <gtest/gtest.h>

#include "store/postgres/postgres_store.h"
#include "postgres_fixture.h"
#include "test_env.h"

namespace docvault::testing {
namespace {

using namespace std::chrono_literals;
using store::StoreUnavailable;
using store::Transaction;

class ConnectionPoolTest : public PostgresTest {
 protected:
  // Each call either works or says the database is unavailable; nothing else.
  static void works_or_unavailable(const std::function<void()>& call) {
    try {
      call();
    } catch (const StoreUnavailable&) {
    }
  }
};

TEST_F(ConnectionPoolTest, IdleConnectionsKilledByTheServerAreReplaced) {
  auto store = open_store(3);
  store->migrate();
  const EntityRef entity{"issuer-1", EntityType::issuer};
  // Fill the pool with idle connections.
  std::vector<std::future<void>> readers;
  std::barrier all_in(3);
  for (int i = 0; i < 3; ++i) {
    readers.push_back(std::async(std::launch::async, [&] {
      store->read([&](Transaction& tx) {
        tx.outbox_messages("x");
        all_in.arrive_and_wait();
      });
    }));
  }
  for (auto& r : readers) r.get();
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"),
            3);

  terminate_other_backends();
  ASSERT_TRUE(wait_until([&] {
    return scalar<int>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()") == 0;
  }));

  works_or_unavailable([&] { store->ping(); });
  works_or_unavailable([&] {
    store->write([&](Transaction& tx) { tx.insert_document(make_document(entity, at_ms(1))); });
  });
  works_or_unavailable([&] { store->read([&](Transaction& tx) { tx.outbox_messages("x"); }); });
  // Recovered: every call works again, on fresh connections.
  EXPECT_TRUE(wait_until([&] {
    try {
      store->ping();
      return true;
    } catch (const StoreUnavailable&) {
      return false;
    }
  }));
  for (int i = 0; i < 5; ++i) {
    store->write([&](Transaction& tx) { tx.insert_document(make_document(entity, at_ms(2 + i))); });
  }
  EXPECT_GE(scalar<int>("SELECT count(*) FROM documents"), 5);
}

TEST_F(ConnectionPoolTest, ABackendKilledMidTransactionSurfacesAsUnavailableAndRollsBack) {
  auto store = open_store(2);
  store->migrate();
  const EntityRef entity{"issuer-1", EntityType::issuer};
  EXPECT_THROW(store->write([&](Transaction& tx) {
    tx.insert_document(make_document(entity, at_ms(1)));
    terminate_other_backends();
    tx.insert_document(make_document(entity, at_ms(2)));
  }),
               StoreUnavailable);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM documents"), 0);
  // The next calls get a fresh connection.
  store->write([&](Transaction& tx) { tx.insert_document(make_document(entity, at_ms(3))); });
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM documents"), 1);
  store->ping();
}

TEST_F(ConnectionPoolTest, CallersBeyondThePoolWaitThenGetUnavailable) {
  auto store = open_store(1, 300ms);
  store->migrate();
  std::promise<void> holding;
  std::promise<void> release;
  auto release_future = release.get_future();
  auto holder = std::async(std::launch::async, [&] {
    store->read([&](Transaction&) {
      holding.set_value();
      release_future.wait();
    });
  });
  holding.get_future().wait();

  const auto started = std::chrono::steady_clock::now();
  EXPECT_THROW(store->ping(), StoreUnavailable);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 250ms);
  EXPECT_THROW(store->write([](Transaction&) {}), StoreUnavailable);

  release.set_value();
  holder.get();
  store->ping();  // the connection came back to the pool
}

TEST_F(ConnectionPoolTest, AWaiterGetsTheConnectionWhenItIsReturnedInTime) {
  auto store = open_store(1, 10s);
  store->migrate();
  std::promise<void> holding;
  std::promise<void> release;
  auto release_future = release.get_future();
  auto holder = std::async(std::launch::async, [&] {
    store->read([&](Transaction&) {
      holding.set_value();
      release_future.wait();
    });
  });
  holding.get_future().wait();
  auto waiter = std::async(std::launch::async, [&] {
    store->read([](Transaction& tx) { tx.outbox_messages("x"); });
  });
  EXPECT_EQ(waiter.wait_for(200ms), std::future_status::timeout) << "the waiter did not wait";
  release.set_value();
  holder.get();
  EXPECT_NO_THROW(waiter.get());
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"),
            1);
}

}  // namespace
}  // namespace docvault::testing
