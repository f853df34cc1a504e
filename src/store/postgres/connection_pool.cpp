#include "store/postgres/connection_pool.h"

#include <stdexcept>
#include <string>
#include <utility>

#include "store/store.h"

namespace docvault::store::postgres {

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      connection_(std::move(other.connection_)),
      broken_(other.broken_) {}

ConnectionPool::Lease::~Lease() {
  if (pool_ != nullptr && connection_ != nullptr) {
    pool_->release(std::move(connection_), broken_);
  }
}

ConnectionPool::ConnectionPool(Factory factory, std::size_t capacity,
                               std::chrono::milliseconds acquire_timeout)
    : factory_(std::move(factory)), capacity_(capacity), acquire_timeout_(acquire_timeout) {
  if (capacity_ == 0) {
    throw std::invalid_argument("connection pool capacity must be at least 1");
  }
}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease ConnectionPool::acquire() {
  const auto deadline = runtime::system_clock().steady_now() + acquire_timeout_;
  {
    runtime::MutexLock lock(mutex_);
    if (idle_.empty() && open_ >= capacity_) ++waits_;
    const bool available = runtime::system_clock().wait_until(
        returned_, lock.native(), {}, deadline, [&]() REQUIRES(mutex_) { return !idle_.empty() || open_ < capacity_; });
    if (!available) {
      throw StoreUnavailable("no database connection became free within " +
                             std::to_string(acquire_timeout_.count()) + " ms (pool size " +
                             std::to_string(capacity_) + ")");
    }
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection));
    }
    ++open_;  // reserve the slot before connecting, outside the lock
  }
  try {
    return Lease(this, factory_());
  } catch (...) {
    {
      runtime::MutexLock lock(mutex_);
      --open_;
    }
    returned_.notify_one();
    throw;
  }
}

PoolStats ConnectionPool::stats() const {
  runtime::MutexLock lock(mutex_);
  return PoolStats{capacity_, open_, open_ - idle_.size(), waits_};
}

void ConnectionPool::release(std::unique_ptr<pqxx::connection> connection, bool broken) noexcept {
  const bool reusable = !broken && connection->is_open();
  {
    runtime::MutexLock lock(mutex_);
    if (reusable) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
    }
  }
  returned_.notify_one();
  // A dropped connection is closed here, after the lock is released, since
  // closing talks to the server.
  connection.reset();
}

}  // namespace docvault::store::postgres
