// Acknowledgements and visibility heartbeats for the consumer, in batches.
//
// Deletes are queued by the workers once a message's work has committed and
// sent by one background thread with DeleteMessageBatch, up to ten at a time;
// while full batches wait, more threads send them at once, as many as the
// calls' round trip asks for (runtime/round_trip.h).
// A delete that fails (SQS unreachable, throttled) is retried with a capped,
// jittered backoff for as long as its receipt handle can still work: until
// the message would become visible again (its last receive or heartbeat plus
// the visibility timeout). Only then is it given up, logged, and left to come
// back as a duplicate. Each call is a single attempt of a few seconds, so an
// SQS that accepts connections and never answers holds no delete for long.
// A message still being processed at half its visibility timeout (counted
// from its receive) gets a ChangeMessageVisibility heartbeat that extends it
// by the full timeout, so a large entity is never handed to a second
// consumer while the first works on it. postpone() sets a failed message's
// visibility to its retry delay; release() makes messages visible again at
// once (shutdown).
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
#include "runtime/round_trip.h"

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

  // A message a worker has started, received at `received_at` (steady
  // time): heartbeats keep it invisible.
  void track(const std::string& message_id, const std::string& receipt_handle, runtime::SteadyTime received_at);
  // Its work committed: stop the heartbeat and delete it.
  void acknowledge(const std::string& message_id);
  // Its work failed: stop the heartbeat and leave it for redelivery.
  void forget(const std::string& message_id);
  // Its work failed: stop the heartbeat and make it visible again after
  // `delay` (ChangeMessageVisibility, now, from the caller's thread); false
  // when SQS did not take it (the message comes back at its visibility
  // timeout instead).
  bool postpone(const std::string& message_id, std::chrono::seconds delay);
  // Makes messages visible again now (visibility 0), in batches.
  void release(const std::vector<std::string>& receipt_handles);

  std::size_t pending_deletes();

 private:
  struct Tracked {
    std::string receipt_handle;
    runtime::SteadyTime next_heartbeat;
    runtime::SteadyTime visible_at;  // when SQS hands it out again unless extended
  };
  struct PendingDelete {
    std::string message_id;
    std::string receipt_handle;
    runtime::SteadyTime give_up_at;  // the receipt handle is no use after this
    runtime::SteadyTime next_try;
    int attempts = 0;
  };

  void run(std::stop_token stop);
  // Sends the deletes that are due (all of them when `everything`), in
  // batches of ten; failed ones are requeued with their backoff. With
  // `full_only`, only while ten are due.
  void flush_deletes(std::stop_token stop, bool everything, bool full_only = false);
  // A sender beside run()'s thread: sends full batches while they wait and
  // the deletes' round trip asks for more calls in flight than are.
  void send_full_batches(std::stop_token stop);
  void send_heartbeats(std::stop_token stop);

  MessageSource& source_;
  const std::chrono::seconds visibility_timeout_;
  const runtime::Clock& clock_;

  runtime::Mutex mutex_;
  std::condition_variable_any wake_;         // run()'s thread waits on it
  std::condition_variable_any senders_cv_;  // the other senders wait on it
  std::size_t active_senders_ GUARDED_BY(mutex_) = 0;  // of the other senders, sending
  std::map<std::string, Tracked> tracked_ GUARDED_BY(mutex_);  // by message id
  std::deque<PendingDelete> deletes_ GUARDED_BY(mutex_);
  bool deletes_queued_ GUARDED_BY(mutex_) = false;  // since the loop last looked
  runtime::RoundTrip round_trip_;  // of DeleteMessageBatch calls
  std::jthread thread_;
  std::vector<std::jthread> senders_;
};

}  // namespace docvault::consumer
