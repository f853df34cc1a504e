// A bounded pool of PostgreSQL connections, handed out as RAII leases.
//
// At most `capacity` connections exist at once. They are opened lazily, the
// first time no idle one is free, by the factory the pool was given (which is
// also where per-connection set-up such as prepared statements happens). A
// caller that finds every connection leased waits up to `acquire_timeout` for
// one to come back and then gets StoreUnavailable: a saturated database should
// turn into a retryable error, not an unbounded queue of blocked threads.
//
// A lease returns its connection to the pool when it is destroyed, unless the
// holder called mark_broken() (or the connection is visibly closed): such a
// connection is dropped and its slot freed, so the next acquire opens a fresh
// one. That is how the pool recovers from a server restart or a terminated
// backend without any health-check traffic.
//
// Thread-safety: acquire() may be called from any number of threads at once.
// A Lease, and the connection it holds, belongs to one thread at a time; it
// must be destroyed before the pool.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <pqxx/connection>

#include "runtime/clock.h"
#include "runtime/mutex.h"
#include "store/store.h"

namespace docvault::store::postgres {

class ConnectionPool {
 public:
  // Opens one connection or throws (StoreUnavailable when the server cannot
  // be reached). Called without the pool's lock held.
  using Factory = std::function<std::unique_ptr<pqxx::connection>()>;

  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    pqxx::connection& connection() { return *connection_; }
    // The connection failed in a way that makes it unfit for reuse; it is
    // closed instead of returned.
    void mark_broken() { broken_ = true; }
    bool broken() const { return broken_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}

    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> connection_;
    bool broken_ = false;
  };

  ConnectionPool(Factory factory, std::size_t capacity, std::chrono::milliseconds acquire_timeout);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // An idle connection, a new one if the pool is below capacity, or the first
  // one returned within acquire_timeout. Throws StoreUnavailable on timeout or
  // when a new connection cannot be opened.
  Lease acquire();

  std::size_t capacity() const { return capacity_; }
  PoolStats stats() const;
  std::chrono::milliseconds acquire_timeout() const { return acquire_timeout_; }

 private:
  void release(std::unique_ptr<pqxx::connection> connection, bool broken) noexcept;

  const Factory factory_;
  const std::size_t capacity_;
  const std::chrono::milliseconds acquire_timeout_;

  mutable runtime::Mutex mutex_;
  std::condition_variable_any returned_;
  std::uint64_t waits_ GUARDED_BY(mutex_) = 0;
  // Idle connections, most recently used last (reused first, so rarely used
  // ones are the ones that age out on the server side).
  std::vector<std::unique_ptr<pqxx::connection>> idle_ GUARDED_BY(mutex_);
  // Connections that exist or are being opened: idle, leased, or in the
  // factory right now. Never above capacity_.
  std::size_t open_ GUARDED_BY(mutex_) = 0;
};

}  // namespace docvault::store::postgres
