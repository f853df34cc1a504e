// Upgrading a database an earlier docvault wrote: the migrations that move
// state must keep it, on SQLite and PostgreSQL alike.
#include <sqlite3.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "backend_fixture.h"
#include "store/migrations.h"

namespace docvault::store {
namespace {

using docvault::testing::Backend;

Timestamp at(int seconds) { return *parse_timestamp("2025-10-23T12:00:00.000Z") + std::chrono::seconds(seconds); }

// A database of its own, written to through raw connections first (as an
// earlier version left it) and then opened as a store.
class Upgrade : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::postgresql) {
      DOCVAULT_REQUIRE_ENV(url, "DOCVAULT_TEST_DATABASE_URL");
      database_.emplace(url);
    }
  }

  // Applies the backend's migration files up to `version`, as they were shipped.
  void migrate_raw_to(int version) {
    for (const auto& m : parse_migrations(GetParam() == Backend::sqlite ? sqlite::kMigrationFiles
                                                                        : postgres::kMigrationFiles)) {
      if (m.version <= version) exec(std::string(m.sql));
    }
  }

  void exec(const std::string& sql) {
    if (GetParam() == Backend::postgresql) {
      pqxx::connection connection(database_->url());
      pqxx::nontransaction(connection).exec(sql);
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  std::unique_ptr<Store> open() {
    return open_store({database_ ? database_->url() : "", path(), 2});
  }

 private:
  std::filesystem::path path() const { return dir_.path() / "old.sqlite3"; }

  docvault::testing::TempDir dir_;
  std::optional<docvault::testing::TestDatabase> database_;
};

TEST_P(Upgrade, TheRelaysStateMovesToItsOwnTablesIntact) {
  migrate_raw_to(7);
  // Published; failed twice and waiting for a retry at 12:05; never tried.
  exec(
      "INSERT INTO outbox_events (event_id, destination, target, ordering_key, payload, message_attributes,"
      " created_at, published_at, attempts, next_attempt_at, last_error) VALUES"
      " ('6f1c4f55-0d0b-4c38-9a1e-000000000001', 'sns', 'audit', 'a', '{\"n\":0}', '{}',"
      "  '2025-10-23T12:00:00.000Z', '2025-10-23T12:00:01.000Z', 1, NULL, NULL),"
      " ('6f1c4f55-0d0b-4c38-9a1e-000000000002', 'sqs', 'document_events', 'a', '{\"n\":1}', '{}',"
      "  '2025-10-23T12:00:00.000Z', NULL, 2, '2025-10-23T12:05:00.000Z', 'Throttling'),"
      " ('6f1c4f55-0d0b-4c38-9a1e-000000000003', 'sns', 'audit', 'b', '{\"n\":2}', '{}',"
      "  '2025-10-23T12:00:02.000Z', NULL, 0, NULL, NULL)");

  auto store = open();
  store->migrate();
  EXPECT_EQ(store->applied_migrations(), store->known_migrations());

  auto backlog = read(*store, [](Transaction& tx) { return tx.outbox_backlog(); });
  EXPECT_EQ(backlog.pending, 2u);
  EXPECT_EQ(backlog.oldest_pending_created_at, at(0));
  // "a" waits for its retry; "b" goes.
  auto now = write(*store, [](Transaction& tx) { return tx.claim_outbox(10, at(60), at(90)); });
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].message.ordering_key, "b");
  write(*store, [&](Transaction& tx) { tx.mark_published(std::vector<std::int64_t>{now[0].seq}, at(61)); });
  auto later = write(*store, [](Transaction& tx) { return tx.claim_outbox(10, at(300), at(330)); });
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].message.payload, R"({"n":1})");
  EXPECT_EQ(later[0].attempts, 2);
  write(*store, [&](Transaction& tx) { tx.mark_published(std::vector<std::int64_t>{later[0].seq}, at(301)); });
  // The published row keeps its time: retention takes it.
  EXPECT_EQ(write(*store, [](Transaction& tx) { return tx.purge_published(at(2), 10); }), 1u);
  EXPECT_EQ(read(*store, [](Transaction& tx) { return tx.outbox_messages("a"); }).size(), 1u);

  // Rows appended after the upgrade are pending, whoever appends them.
  exec(
      "INSERT INTO outbox_events (event_id, destination, target, ordering_key, payload, message_attributes,"
      " created_at) VALUES ('6f1c4f55-0d0b-4c38-9a1e-000000000004', 'sns', 'audit', 'c', '{}', '{}',"
      " '2025-10-23T12:10:00.000Z')");
  auto appended = write(*store, [](Transaction& tx) { return tx.claim_outbox(10, at(600), at(630)); });
  ASSERT_EQ(appended.size(), 1u);
  EXPECT_EQ(appended[0].message.ordering_key, "c");
}

TEST_P(Upgrade, TombstonesAndSuspensionsAreBackfilled) {
  migrate_raw_to(8);
  // issuer-d deleted (twice: the first deletion is the tombstone), issuer-s
  // suspended (its document says so), issuer-r suspended then reinstated.
  exec(
      "INSERT INTO processed_events (id, created_at, updated_at, event_id, source, action, entity_id, entity_type)"
      " VALUES"
      " ('6f1c4f55-0d0b-4c38-9a1e-00000000000a', '2025-10-23T12:00:00.000Z', '2025-10-23T12:00:00.000Z',"
      "  'evt-d1', 'epr', 'entity.deleted', 'issuer-d', 'issuer'),"
      " ('6f1c4f55-0d0b-4c38-9a1e-00000000000b', '2025-10-23T12:00:05.000Z', '2025-10-23T12:00:05.000Z',"
      "  'evt-d2', 'epr', 'entity.deleted', 'issuer-d', 'issuer'),"
      " ('6f1c4f55-0d0b-4c38-9a1e-00000000000c', '2025-10-23T12:00:01.000Z', '2025-10-23T12:00:01.000Z',"
      "  'evt-s', 'epr', 'entity.suspended', 'issuer-s', 'issuer')");
  exec(
      "INSERT INTO documents (id, entity_id, entity_type, document_type, filename, content_type, size_bytes,"
      " sha256, status, archived_at, archive_reason, created_at, updated_at, suspended_at) VALUES"
      " ('6f1c4f55-0d0b-4c38-9a1e-0000000000d1', 'issuer-s', 'issuer', 'general', 'f', 'text/plain', 1,"
      "  '" + std::string(64, 'a') + "', 'active', NULL, NULL, '2025-10-23T11:00:00.000Z',"
      "  '2025-10-23T12:00:01.000Z', '2025-10-23T12:00:01.000Z'),"
      " ('6f1c4f55-0d0b-4c38-9a1e-0000000000d2', 'issuer-r', 'issuer', 'general', 'f', 'text/plain', 1,"
      "  '" + std::string(64, 'b') + "', 'active', NULL, NULL, '2025-10-23T11:00:00.000Z',"
      "  '2025-10-23T11:00:00.000Z', NULL)");

  auto store = open();
  store->migrate();
  const std::vector<EntityRef> entities{{"issuer-d", EntityType::issuer},
                                        {"issuer-s", EntityType::issuer},
                                        {"issuer-r", EntityType::issuer},
                                        {"issuer-d", EntityType::investor}};
  auto states = read(*store, [&](Transaction& tx) { return tx.entity_states(entities); });
  EXPECT_EQ(states, (std::vector<EntityState>{EntityState::deleted, EntityState::suspended, EntityState::active,
                                              EntityState::active}));
}

INSTANTIATE_TEST_SUITE_P(Backends, Upgrade, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         docvault::testing::backend_name);

}  // namespace
}  // namespace docvault::store
