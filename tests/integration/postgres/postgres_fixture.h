// A fixture for PostgreSQL-only tests: a throwaway database per test.
//
// PostgresTest::SetUp reads DOCVAULT_TEST_DATABASE_URL (skipping or failing
// the test when it is missing, as DOCVAULT_REQUIRE_ENV does) and creates a
// database of its own there (support/test_database.h), dropped with FORCE in
// TearDown so leaked connections cannot keep it alive. Tests talk to it through
// PostgresStore and, for what the store does not expose, a raw libpqxx
// connection from sql().
//
// Thread-safety: a fixture belongs to its test's thread; sql() opens a new
// connection on each call so helper threads may use it too.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "domain/clock.h"
#include "domain/document.h"
#include "domain/events.h"
#include "domain/uuid.h"
#include "store/postgres/postgres_store.h"
#include "test_database.h"
#include "sample_document.h"
#include "test_env.h"

namespace docvault::testing {

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DOCVAULT_REQUIRE_ENV(server_url, "DOCVAULT_TEST_DATABASE_URL");
    database_.emplace(server_url);
    url_ = database_->url();
  }

  void TearDown() override { database_.reset(); }

  const std::string& url() const { return url_; }

  std::unique_ptr<store::PostgresStore> open_store(
      std::size_t pool_size = 4,
      std::chrono::milliseconds acquire_timeout = store::PostgresStore::kDefaultAcquireTimeout) {
    return std::make_unique<store::PostgresStore>(url_, pool_size, acquire_timeout);
  }

  // A connection of its own to the test database, outside any store.
  std::unique_ptr<pqxx::connection> sql() const { return std::make_unique<pqxx::connection>(url_); }

  // The first column of the first row of `query`, run on a fresh connection.
  template <class T>
  T scalar(const std::string& query) const {
    auto connection = sql();
    pqxx::nontransaction txn(*connection);
    return txn.exec1(query)[0].as<T>();
  }

  // Ends every other session on the test database, as an operator or a
  // failover would.
  void terminate_other_backends() const {
    auto connection = sql();
    pqxx::nontransaction(*connection)
        .exec("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
              "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  }

 private:
  std::optional<TestDatabase> database_;
  std::string url_;
};

inline Timestamp at_ms(std::int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }


inline OutboxMessage make_message(const std::string& ordering_key, std::string payload,
                                  Timestamp created_at, Destination destination = Destination::sqs) {
  return OutboxMessage{
      .event_id = uuid_v4(),
      .destination = destination,
      .target = destination == Destination::sns ? "audit" : "document_events",
      .ordering_key = ordering_key,
      .payload = std::move(payload),
      .attributes = R"({"eventType":"document.archived"})",
      .created_at = created_at,
  };
}

}  // namespace docvault::testing
