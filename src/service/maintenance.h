// Maintenance: docvault's periodic background work, on one thread.
//
// A process registers named tasks (the retention of processed events,
// rejected messages and idempotency keys; the purge of published outbox
// rows where the relay runs: app/application.cpp says which process runs
// what), then starts the runner. Each task runs once at start, then again a
// `period` after its last run ended; tasks run one at a time, in order of
// when they are due (at start, in the order they were added). A task that
// throws is logged under its component as "<name> failed; will retry" and
// runs again a period later, like any other. Every wait goes through the
// `Clock`, so a test's fake clock drives the runner, and stop() ends a wait
// at once; a task in progress gets the runner's stop token and is waited for.
//
// The sweep of unreferenced blobs (blob_sweeper.h) is no task here: it is
// run by an operator, `docvault admin gc-blobs`, dry run first.
//
// Thread-safety: add(), start() and stop() from one thread, add() only
// before start(); the tasks run on the runner's thread.
#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "domain/clock.h"

namespace docvault::service {

struct MaintenanceTask {
  std::string name;            // "retention purge": the subject of its failure's log line
  std::string_view component;  // the log component its lines go under
  std::chrono::milliseconds period;
  std::function<void(std::stop_token)> run;
};

class Maintenance {
 public:
  // `clock` must outlive the runner.
  explicit Maintenance(const Clock& clock);
  ~Maintenance();
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  void add(MaintenanceTask task);
  // Starts the thread (none when no task was added).
  void start();
  // Ends the wait at once, or waits for the task in progress (which sees
  // its stop token). Also run by the destructor.
  void stop();

 private:
  void run(std::stop_token stop);

  const Clock& clock_;
  std::vector<MaintenanceTask> tasks_;  // fixed once started
  std::jthread thread_;
};

}  // namespace docvault::service
