// The consumer's work queue: messages wait here between receive and the
// workers, and messages of one entity never run at the same time.
//
// Each item has a key (the entity it is about; a message that does not parse
// gets its own message id). An item whose key is free is ready at once; one
// whose key is busy waits behind the items of that key, in arrival order, and
// becomes ready when the item ahead of it is done. So different entities run
// in parallel and one entity's events run one after another.
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

namespace docvault::consumer {

template <class Item>
class EntityQueue {
 public:
  void push(std::string key, Item item) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = waiting_.try_emplace(key);
    if (inserted) {
      ready_.push_back({std::move(key), std::move(item)});
      ready_cv_.notify_one();
    } else {
      it->second.push_back(std::move(item));
    }
  }

  // Blocks until an item is ready (returned with its key) or the queue is
  // closed (nothing).
  std::optional<std::pair<std::string, Item>> pop() {
    std::unique_lock lock(mutex_);
    ready_cv_.wait(lock, [&] { return !ready_.empty() || closed_; });
    if (ready_.empty()) return std::nullopt;
    auto front = std::move(ready_.front());
    ready_.pop_front();
    return front;
  }

  // The item of `key` is finished: the next one of that key becomes ready.
  void done(const std::string& key) {
    std::lock_guard lock(mutex_);
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
    std::lock_guard lock(mutex_);
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
    std::lock_guard lock(mutex_);
    closed_ = true;
    ready_cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_cv_;
  std::deque<std::pair<std::string, Item>> ready_;           // guarded by mutex_
  std::map<std::string, std::deque<Item>> waiting_;          // busy keys -> items behind; guarded by mutex_
  bool closed_ = false;                                      // guarded by mutex_
};

}  // namespace docvault::consumer
