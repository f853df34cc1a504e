// A fresh store on each backend, for tests that must pass on both.
//
// Header-only so that only suites linking docvault_store include it. Use with
// INSTANTIATE_TEST_SUITE_P(..., ::testing::Values(Backend::sqlite,
// Backend::postgresql), backend_name): SQLite gets a file in a temp folder,
// PostgreSQL a database of its own on the test cluster.
#pragma once

#include <memory>
#include <ostream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "store/store.h"
#include "test_database.h"
#include "test_env.h"

namespace docvault::testing {

enum class Backend { sqlite, postgresql };

// Keeps CTest's test names readable ("…/sqlite", not a byte dump).
inline void PrintTo(Backend backend, std::ostream* os) {
  *os << (backend == Backend::sqlite ? "sqlite" : "postgresql");
}

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::sqlite ? "sqlite" : "postgresql";
}

class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    store::StoreOptions options{"", dir_.path() / "test.sqlite3", 4};
    if (GetParam() == Backend::postgresql) {
      DOCVAULT_REQUIRE_ENV(url, "DOCVAULT_TEST_DATABASE_URL");
      database_.emplace(url);
      options.database_url = database_->url();
    }
    store_ = store::open_store(options);
    store_->migrate();
  }

  void TearDown() override { store_.reset(); }

  store::Store& store() { return *store_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::optional<TestDatabase> database_;
  std::unique_ptr<store::Store> store_;
};

}  // namespace docvault::testing
