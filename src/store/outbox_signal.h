// Wakes the outbox relay when outbox rows may have been added.
//
// A generation counter under a mutex: a store bumps it after committing a
// transaction that appended outbox rows (and the PostgreSQL store also when
// another instance's NOTIFY arrives); the relay waits for it to move past the
// generation it last saw, with a timeout as the slow fallback poll.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>

#include "runtime/mutex.h"

namespace docvault::store {

class OutboxSignal {
 public:
  void notify() {
    {
      runtime::MutexLock lock(mutex_);
      ++generation_;
    }
    cv_.notify_all();
  }

  // Returns the current generation once it differs from `seen`, `timeout`
  // has passed, or `stop` was requested.
  std::uint64_t wait(std::uint64_t seen, std::chrono::milliseconds timeout, std::stop_token stop) {
    runtime::MutexLock lock(mutex_);
    cv_.wait_for(lock.native(), stop, timeout, [&]() REQUIRES(mutex_) { return generation_ != seen; });
    return generation_;
  }

 private:
  runtime::Mutex mutex_;
  std::condition_variable_any cv_;
  std::uint64_t generation_ GUARDED_BY(mutex_) = 0;
};

}  // namespace docvault::store
