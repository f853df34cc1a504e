// Test support shared by every suite.
//
// The test scripts (scripts/test) provide the real services: a throwaway
// PostgreSQL cluster (DOCVAULT_TEST_DATABASE_URL) and the local AWS emulator
// (the variables printed by scripts/local-aws env). A test that needs one
// calls DOCVAULT_REQUIRE_ENV: when the variable is missing it skips during
// local development, and fails when DOCVAULT_TEST_REQUIRE_ALL=1 (as
// scripts/test sets), so CI can never pass by skipping.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace docvault::testing {

// The value of an environment variable, if set and non-empty.
std::optional<std::string> env(const char* name);

// True when missing services must fail tests instead of skipping them.
bool require_all();

// The repository root.
std::filesystem::path source_dir();

// The docvault binary of this build.
std::filesystem::path docvault_binary();

// A fresh directory under the system temp folder, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Polls `condition` every few milliseconds until it holds or `timeout` passes.
// Returns whether it held. Tests wait on conditions this way, never on fixed sleeps.
bool wait_until(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

}  // namespace docvault::testing

// Declares the variable `var` holding the value of environment variable `name`,
// or skips (locally) / fails (scripts/test) the current test when it is unset.
#define DOCVAULT_REQUIRE_ENV(var, name)                                         \
  std::string var;                                                              \
  if (auto docvault_env_value_ = ::docvault::testing::env(name)) {              \
    var = *docvault_env_value_;                                                 \
  } else if (::docvault::testing::require_all()) {                              \
    FAIL() << name << " is not set; scripts/test provides it";                  \
  } else {                                                                      \
    GTEST_SKIP() << name << " is not set; run through scripts/test";            \
  }
