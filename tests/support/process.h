// A child process for black-box tests: the real docvault binary, started with
// an environment of the test's choosing, its stdout and stderr captured to a
// file the test can read while it runs. Killed (SIGKILL) on destruction if
// still running, so a failing test never leaves one behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace docvault::testing {

class Process {
 public:
  // Starts `program` with `args` and the current environment overlaid with
  // `env` (a value of "" removes the variable); output goes to `log_path`.
  Process(const std::filesystem::path& program, const std::vector<std::string>& args,
          const std::map<std::string, std::string>& env, std::filesystem::path log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // The exit code (or 128 + signal), once it has exited within `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  std::string output() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_path_;
};

}  // namespace docvault::testing
