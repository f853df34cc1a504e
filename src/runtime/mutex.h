// A std::mutex the thread-safety analysis understands (thread_annotations.h),
// and its scoped lock.
//
//   runtime::Mutex mutex_;
//   std::deque<Job> jobs_ GUARDED_BY(mutex_);
//   ...
//   runtime::MutexLock lock(mutex_);          // held to the end of the scope
//   cv_.wait(lock.native(), [&]() REQUIRES(mutex_) { return !jobs_.empty(); });
//
// `MutexLock::native()` is the std::unique_lock for condition variables and
// Clock::wait_until; a wait releases and retakes the mutex, and the
// analysis (rightly) treats the lock as held throughout. `unlock()`/`lock()`
// on a MutexLock let a scope drop the mutex for a while.
//
// Thread-safety: a Mutex is what makes other things thread-safe; a MutexLock
// belongs to the thread that made it.
#pragma once

#include <mutex>
#include <shared_mutex>

#include "runtime/thread_annotations.h"

namespace docvault::runtime {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mutex_.try_lock(); }

  std::mutex& native() { return mutex_; }

 private:
  std::mutex mutex_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ACQUIRE(mutex) : lock_(mutex.native()) {}
  // Only takes the mutex if it is free; owns_lock() says whether it did.
  MutexLock(Mutex& mutex, std::try_to_lock_t) TRY_ACQUIRE(true, mutex) : lock_(mutex.native(), std::try_to_lock) {}
  ~MutexLock() RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void unlock() RELEASE() { lock_.unlock(); }
  void lock() ACQUIRE() { lock_.lock(); }
  bool owns_lock() const { return lock_.owns_lock(); }

  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

// A std::shared_mutex: many readers (ReaderLock) or one writer (WriterLock).
class CAPABILITY("shared mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mutex_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mutex_.unlock_shared(); }

 private:
  std::shared_mutex mutex_;
};

class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mutex) ACQUIRE_SHARED(mutex) : mutex_(mutex) { mutex_.lock_shared(); }
  ~ReaderLock() RELEASE() { mutex_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mutex_;
};

class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  ~WriterLock() RELEASE() { mutex_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mutex_;
};

}  // namespace docvault::runtime
