// Acknowledgements and visibility heartbeats for the consumer, in batches.
//
// Deletes are queued by the workers once a message's work has committed and
// sent by one background thread with DeleteMessageBatch, up to ten at a time;
// an entry that fails is retried on the next rounds (a few times) and logged.
// A message still being processed at half its visibility timeout gets a
// ChangeMessageVisibility heartbeat that extends it by the full timeout, so a
// large entity is never handed to a second consumer while the first works on
// it. release() makes messages visible again at once (shutdown).
//
// Thread-safety: all public members may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "consumer/message_source.h"
#include "runtime/clock.h"
#include "runtime/mutex.h"

namespace docvault::consumer {

class Acknowledger {
 public:
  // `clock` times the heartbeats and the ticks; it must outlive the acknowledger.
  Acknowledger(MessageSource& source, std::chrono::seconds visibility_timeout,
               const runtime::Clock& clock = runtime::system_clock());
  ~Acknowledger();
  Acknowledger(const Acknowledger&) = delete;
  Acknowledger& operator=(const Acknowledger&) = delete;

  void start();
  // Sends every queued delete (best effort, bounded by `deadline`) and stops.
  void stop(runtime::SteadyTime deadline);

  // A message a worker has started: heartbeats keep it invisible.
  void track(const std::string& message_id, const std::string& receipt_handle);
  // Its work committed: stop the heartbeat and delete it.
  void acknowledge(const std::string& message_id);
  // Its work failed: stop the heartbeat and leave it for redelivery.
  void forget(const std::string& message_id);
  // Makes messages visible again now (visibility 0), in batches.
  void release(const std::vector<std::string>& receipt_handles);

  std::size_t pending_deletes();

 private:
  struct Tracked {
    std::string receipt_handle;
    runtime::SteadyTime next_heartbeat;
  };
  struct PendingDelete {
    std::string message_id;
    std::string receipt_handle;
    int attempts = 0;
  };

  void run(std::stop_token stop);
  void flush_deletes(std::stop_token stop);
  void send_heartbeats(std::stop_token stop);

  MessageSource& source_;
  const std::chrono::seconds visibility_timeout_;
  const runtime::Clock& clock_;

  runtime::Mutex mutex_;
  std::condition_variable_any wake_;
  std::map<std::string, Tracked> tracked_ GUARDED_BY(mutex_);  // by message id
  std::deque<PendingDelete> deletes_ GUARDED_BY(mutex_);
  std::jthread thread_;
};

}  // namespace docvault::consumer
