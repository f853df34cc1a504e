// The consumer's work queue: messages wait here between receive and the
// workers, and messages of one entity never run at the same time.
//
// Each item has a key (the entity it is about; a message that does not parse
// gets its own message id). An item whose key is free is ready at once; one
// whose key is busy waits behind the items of that key, in arrival order, and
// becomes ready when the item ahead of it is done. So different entities run
// in parallel and one entity's events run one after another. A worker may
// take several ready items at once (distinct keys, by construction) to
// handle them as one unit of work.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/mutex.h"

namespace docvault::consumer {

template <class Item>
class EntityQueue {
 public:
  void push(std::string key, Item item) {
    std::vector<std::pair<std::string, Item>> one;
    one.emplace_back(std::move(key), std::move(item));
    push_all(std::move(one));
  }

  // Pushes several items under one lock, so that a worker woken by the
  // first finds the others ready with it.
  void push_all(std::vector<std::pair<std::string, Item>> items) {
    std::size_t became_ready = 0;
    {
      runtime::MutexLock lock(mutex_);
      for (auto& [key, item] : items) {
        auto [it, inserted] = waiting_.try_emplace(key);
        if (inserted) {
          ready_.push_back({std::move(key), std::move(item)});
          ++became_ready;
        } else {
          it->second.push_back(std::move(item));
        }
      }
    }
    if (became_ready == 1) ready_cv_.notify_one();
    if (became_ready > 1) ready_cv_.notify_all();
  }

  // Blocks until an item is ready, then returns up to `max` ready items
  // (each with its key, all keys distinct), oldest first; nothing once the
  // queue is closed and no item is ready.
  std::vector<std::pair<std::string, Item>> pop_many(std::size_t max) {
    runtime::MutexLock lock(mutex_);
    ready_cv_.wait(lock.native(), [&]() REQUIRES(mutex_) { return !ready_.empty() || closed_; });
    std::vector<std::pair<std::string, Item>> out;
    while (!ready_.empty() && out.size() < max) {
      out.push_back(std::move(ready_.front()));
      ready_.pop_front();
    }
    return out;
  }

  std::optional<std::pair<std::string, Item>> pop() {
    auto one = pop_many(1);
    if (one.empty()) return std::nullopt;
    return std::move(one.front());
  }

  // The item of `key` is finished: the next one of that key becomes ready.
  void done(const std::string& key) {
    runtime::MutexLock lock(mutex_);
    auto it = waiting_.find(key);
    if (it == waiting_.end()) return;
    if (it->second.empty()) {
      waiting_.erase(it);
      return;
    }
    ready_.push_back({key, std::move(it->second.front())});
    it->second.pop_front();
    ready_cv_.notify_one();
  }

  // Removes and returns every item not yet popped (ready or waiting behind a
  // busy key), for release at shutdown.
  std::vector<Item> take_unstarted() {
    runtime::MutexLock lock(mutex_);
    std::vector<Item> out;
    for (auto& [key, item] : ready_) {
      // A ready item holds its key; nothing else will release it.
      out.push_back(std::move(item));
      if (auto it = waiting_.find(key); it != waiting_.end()) {
        for (auto& behind : it->second) out.push_back(std::move(behind));
        waiting_.erase(it);
      }
    }
    ready_.clear();
    // Keys still here are held by items in progress, whose done() releases them.
    for (auto& [key, items] : waiting_) {
      for (auto& behind : items) out.push_back(std::move(behind));
      items.clear();
    }
    return out;
  }

  // Wakes every pop() with nothing once no item is ready.
  void close() {
    runtime::MutexLock lock(mutex_);
    closed_ = true;
    ready_cv_.notify_all();
  }

 private:
  runtime::Mutex mutex_;
  std::condition_variable ready_cv_;
  std::deque<std::pair<std::string, Item>> ready_ GUARDED_BY(mutex_);
  std::map<std::string, std::deque<Item>> waiting_ GUARDED_BY(mutex_);  // busy keys -> items behind
  bool closed_ GUARDED_BY(mutex_) = false;
};

}  // namespace docvault::consumer
