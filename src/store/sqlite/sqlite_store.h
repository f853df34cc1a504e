// The SQLite backend: docvault's embedded default, one database file.
//
// The file runs in WAL mode with foreign keys on, synchronous=FULL (a commit
// survives a power cut) and a busy timeout, so several processes may open it.
// Writes go through one connection, serialised by a mutex and begun with
// BEGIN IMMEDIATE, so two writers never deadlock on a lock upgrade; reads use
// a small pool of their own connections and run beside the writer, as WAL
// allows. A second process writing the same file waits up to the busy
// timeout and then gets StoreUnavailable.
//
// The pieces, in store/sqlite/ (internal): connection.h (the SQLite C API:
// connections, cached statements, errors), transaction.h (the Transaction).
//
// Thread-safety: all public members may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/mutex.h"
#include "store/outbox_signal.h"
#include "store/store.h"

namespace docvault::store {

namespace sqlite_detail {
class Connection;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::filesystem::path path, std::size_t read_connections);
  ~SqliteStore() override;

  std::string_view backend() const override { return "sqlite"; }
  void migrate() override;
  std::vector<int> applied_migrations() override;
  std::vector<int> known_migrations() const override;
  void ping() override;
  void compact_outbox_queue() override {}
  // The readers' pool (the writer is one connection behind a mutex).
  PoolStats pool_stats() const override;
  void read(const std::function<void(Transaction&)>& work) override;
  void write(const std::function<void(Transaction&)>& work) override;
  std::uint64_t wait_for_outbox(std::uint64_t seen, std::chrono::milliseconds timeout,
                                std::stop_token stop) override;

 private:
  std::unique_ptr<sqlite_detail::Connection> open_connection() const;
  // The versions in schema_migrations, read on the writer (write_mutex_ held).
  std::vector<int> applied_versions() REQUIRES(write_mutex_);
  std::unique_ptr<sqlite_detail::Connection> acquire_reader();
  void release_reader(std::unique_ptr<sqlite_detail::Connection> connection);

  std::filesystem::path path_;
  std::size_t max_readers_;

  runtime::Mutex write_mutex_;
  std::unique_ptr<sqlite_detail::Connection> writer_ GUARDED_BY(write_mutex_);

  mutable runtime::Mutex readers_mutex_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<sqlite_detail::Connection>> idle_readers_ GUARDED_BY(readers_mutex_);
  std::size_t open_readers_ GUARDED_BY(readers_mutex_) = 0;
  std::uint64_t reader_waits_ GUARDED_BY(readers_mutex_) = 0;

  OutboxSignal outbox_signal_;
};

}  // namespace docvault::store
