#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <string>

#include "store/migrations.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/transaction.h"

namespace docvault::store {

using sqlite_detail::Connection;

SqliteStore::SqliteStore(std::filesystem::path path, std::size_t read_connections)
    : path_(std::move(path)), max_readers_(read_connections == 0 ? 1 : read_connections) {}

SqliteStore::~SqliteStore() = default;

std::unique_ptr<Connection> SqliteStore::open_connection() const {
  return std::make_unique<Connection>(path_);
}

std::unique_ptr<Connection> SqliteStore::acquire_reader() {
  runtime::MutexLock lock(readers_mutex_);
  if (idle_readers_.empty() && open_readers_ >= max_readers_) ++reader_waits_;
  readers_cv_.wait(lock.native(),
                   [&]() REQUIRES(readers_mutex_) { return !idle_readers_.empty() || open_readers_ < max_readers_; });
  if (!idle_readers_.empty()) {
    auto c = std::move(idle_readers_.back());
    idle_readers_.pop_back();
    return c;
  }
  ++open_readers_;
  lock.unlock();
  try {
    return open_connection();
  } catch (...) {
    runtime::MutexLock relock(readers_mutex_);
    --open_readers_;
    readers_cv_.notify_one();
    throw;
  }
}

void SqliteStore::release_reader(std::unique_ptr<Connection> connection) {
  runtime::MutexLock lock(readers_mutex_);
  idle_readers_.push_back(std::move(connection));
  readers_cv_.notify_one();
}

void SqliteStore::read(const std::function<void(Transaction&)>& work) {
  auto connection = acquire_reader();
  try {
    sqlite_detail::run_transaction(*connection, "BEGIN DEFERRED", work);
  } catch (...) {
    release_reader(std::move(connection));
    throw;
  }
  release_reader(std::move(connection));
}

void SqliteStore::write(const std::function<void(Transaction&)>& work) {
  bool appended = false;
  {
    runtime::MutexLock lock(write_mutex_);
    if (!writer_) writer_ = open_connection();
    appended = sqlite_detail::run_transaction(*writer_, "BEGIN IMMEDIATE", work);
  }
  if (appended) outbox_signal_.notify();
}

std::uint64_t SqliteStore::wait_for_outbox(std::uint64_t seen, std::chrono::milliseconds timeout,
                                           std::stop_token stop) {
  return outbox_signal_.wait(seen, timeout, std::move(stop));
}

PoolStats SqliteStore::pool_stats() const {
  runtime::MutexLock lock(readers_mutex_);
  return PoolStats{max_readers_, open_readers_, open_readers_ - idle_readers_.size(), reader_waits_};
}

void SqliteStore::ping() {
  read([](Transaction&) {});
}

std::vector<int> SqliteStore::known_migrations() const {
  std::vector<int> out;
  for (const auto& m : parse_migrations(sqlite::kMigrationFiles)) out.push_back(m.version);
  return out;
}

std::vector<int> SqliteStore::applied_migrations() {
  runtime::MutexLock lock(write_mutex_);
  return applied_versions();
}

std::vector<int> SqliteStore::applied_versions() {
  if (!writer_) writer_ = open_connection();
  std::vector<int> out;
  auto exists = writer_->prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
  if (!exists.step()) return out;
  auto stmt = writer_->prepare("SELECT version FROM schema_migrations ORDER BY version");
  while (stmt.step()) out.push_back(static_cast<int>(stmt.integer(0)));
  return out;
}

void SqliteStore::migrate() {
  runtime::MutexLock lock(write_mutex_);
  if (!writer_) writer_ = open_connection();
  for (const auto& migration : parse_migrations(sqlite::kMigrationFiles)) {
    // BEGIN IMMEDIATE serialises this with any other process migrating the
    // same file; what it applied first is seen here, and skipped (SQLite's
    // ALTER TABLE has no IF [NOT] EXISTS, so a file cannot run twice).
    writer_->exec("BEGIN IMMEDIATE");
    try {
      const auto applied = applied_versions();
      if (std::find(applied.begin(), applied.end(), migration.version) == applied.end()) {
        writer_->exec(std::string(migration.sql));
      }
      writer_->exec("COMMIT");
    } catch (...) {
      try {
        writer_->exec("ROLLBACK");
      } catch (const StoreError&) {
      }
      throw;
    }
  }
}

}  // namespace docvault::store
