#include "store/postgres/postgres_store.h"

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include <pqxx/pqxx>

#include "log/log.h"
#include "store/database_url.h"
#include "store/migrations.h"
#include "store/postgres/connection_pool.h"
#include "store/postgres/errors.h"
#include "store/postgres/statements.h"
#include "store/postgres/transaction.h"

namespace docvault::store {
namespace {

using postgres::ConnectionPool;
using postgres::guarded;

// pg_advisory_lock key held while migrating: "docvault" in ASCII.
constexpr std::int64_t kMigrationLockKey = 0x646f637661756c74;

std::unique_ptr<pqxx::connection> open_connection(const std::string& url,
                                                  const std::string& redacted_url) {
  try {
    auto connection = std::make_unique<pqxx::connection>(url);
    // Migrations' "IF NOT EXISTS" notices would otherwise go to stderr.
    connection->set_variable("client_min_messages", "warning");
    for (const auto& statement : postgres::kPreparedStatements) {
      connection->prepare(statement.name, statement.sql);
    }
    return connection;
  } catch (...) {
    postgres::rethrow_as_connect_error(url, redacted_url);
  }
}

std::set<int> applied_versions(pqxx::transaction_base& txn) {
  std::set<int> versions;
  if (txn.exec("SELECT to_regclass('schema_migrations') IS NOT NULL")[0][0].as<bool>()) {
    for (const auto& row : txn.exec("SELECT version FROM schema_migrations ORDER BY version")) {
      versions.insert(row[0].as<int>());
    }
  }
  return versions;
}

}  // namespace

PostgresStore::PostgresStore(std::string database_url, std::size_t pool_size,
                             std::chrono::milliseconds acquire_timeout)
    : database_url_(std::move(database_url)),
      redacted_url_(redact_database_url(database_url_)),
      migrations_(parse_migrations(postgres::kMigrationFiles)) {
  if (pool_size == 0) throw std::invalid_argument("PostgreSQL pool size must be at least 1");
  pool_ = std::make_unique<ConnectionPool>(
      [this] { return open_connection(database_url_, redacted_url_); }, pool_size,
      acquire_timeout);
}

PostgresStore::~PostgresStore() = default;

std::uint64_t PostgresStore::wait_for_outbox(std::uint64_t seen, std::chrono::milliseconds timeout,
                                             std::stop_token stop) {
  listener_.start();
  return outbox_signal_.wait(seen, timeout, std::move(stop));
}

void PostgresStore::migrate() {
  auto lease = pool_->acquire();
  try {
    guarded(lease, "migrate", [&] {
      pqxx::nontransaction session(lease.connection());
      // Session-level, so it spans the migration files' own BEGIN/COMMIT; a
      // second instance blocks here and then finds nothing left to apply.
      session.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
      const auto applied = applied_versions(session);
      for (const auto& migration : migrations_) {
        if (applied.contains(migration.version)) continue;
        session.exec(std::string(migration.sql));
        log::info("store", "applied migration",
                  {{"backend", "postgresql"}, {"version", migration.version}, {"name", migration.name}});
      }
      const auto now_applied = applied_versions(session);
      session.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
      session.commit();
      for (const auto& migration : migrations_) {
        if (!now_applied.contains(migration.version)) {
          throw StoreError("migration " + migration.name + " ran but did not record itself in schema_migrations");
        }
      }
    });
  } catch (...) {
    // Closing the session rolls back a half-applied file and releases the lock.
    lease.mark_broken();
    throw;
  }
}

std::vector<int> PostgresStore::applied_migrations() {
  auto lease = pool_->acquire();
  return guarded(lease, "applied_migrations", [&] {
    pqxx::read_transaction txn(lease.connection());
    const auto versions = applied_versions(txn);
    txn.commit();
    return std::vector<int>(versions.begin(), versions.end());
  });
}

std::vector<int> PostgresStore::known_migrations() const {
  std::vector<int> versions;
  for (const auto& migration : migrations_) versions.push_back(migration.version);
  return versions;
}

void PostgresStore::ping() {
  auto lease = pool_->acquire();
  try {
    guarded(lease, "ping", [&] {
      pqxx::nontransaction session(lease.connection());
      session.exec("SELECT 1");
      session.commit();
    });
  } catch (const StoreUnavailable&) {
    throw;
  } catch (const StoreError& e) {
    lease.mark_broken();
    throw StoreUnavailable(e.what());
  }
}

void PostgresStore::compact_outbox_queue() {
  auto lease = pool_->acquire();
  guarded(lease, "compact_outbox_queue", [&] {
    pqxx::nontransaction session(lease.connection());
    session.exec("VACUUM (SKIP_LOCKED) outbox_pending");
  });
}

PoolStats PostgresStore::pool_stats() const { return pool_->stats(); }

template <class PqxxTransaction>
void PostgresStore::run(const std::function<void(Transaction&)>& work, std::string_view kind) {
  // A connection that died while idle in the pool fails at BEGIN, before any
  // of the caller's work ran, so it is safe to retry on the next one (each
  // failure drops one dead connection; at most the whole pool, then a new one).
  for (std::size_t attempt = 0;; ++attempt) {
    auto lease = pool_->acquire();
    std::optional<PqxxTransaction> txn;
    try {
      guarded(lease, kind, [&] { txn.emplace(lease.connection()); });
    } catch (const StoreUnavailable&) {
      if (attempt < pool_->capacity()) continue;
      throw;
    }
    postgres::PostgresTransaction transaction(*txn, lease);
    // The caller's exceptions leave unchanged; txn's destructor rolls back.
    work(transaction);
    if (transaction.failed()) {
      throw StoreError(std::string(kind) +
                       ": a statement failed earlier in this transaction; rolled back");
    }
    guarded(lease, std::string(kind) + " commit", [&] { txn->commit(); });
    if (transaction.appended_outbox()) outbox_signal_.notify();
    return;
  }
}

void PostgresStore::read(const std::function<void(Transaction&)>& work) {
  run<pqxx::read_transaction>(work, "read transaction");
}

void PostgresStore::write(const std::function<void(Transaction&)>& work) {
  run<pqxx::work>(work, "write transaction");
}

}  // namespace docvault::store
