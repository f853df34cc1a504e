#include "service/maintenance.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <string>

#include "log/log.h"

namespace docvault::service {

Maintenance::Maintenance(const Clock& clock) : clock_(clock) {}

Maintenance::~Maintenance() { stop(); }

void Maintenance::add(MaintenanceTask task) { tasks_.push_back(std::move(task)); }

void Maintenance::start() {
  if (tasks_.empty() || thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void Maintenance::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

void Maintenance::run(std::stop_token stop) {
  std::vector<runtime::SteadyTime> due(tasks_.size(), clock_.steady_now());
  while (true) {
    // The earliest due; of those due together, the first added.
    const auto next = static_cast<std::size_t>(std::min_element(due.begin(), due.end()) - due.begin());
    if (!clock_.wait_until(due[next], stop)) return;
    auto& task = tasks_[next];
    std::optional<std::string> error;
    try {
      task.run(stop);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    if (error) log::warn(task.component, task.name + " failed; will retry", {{"error", *error}});
    due[next] = clock_.steady_now() + task.period;
  }
}

}  // namespace docvault::service
