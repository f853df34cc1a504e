// A fresh, empty PostgreSQL database for one test, dropped afterwards.
//
// Made on the throwaway cluster scripts/test starts (DOCVAULT_TEST_DATABASE_URL
// points at its maintenance database), so tests never see each other's rows.
#pragma once

#include <string>

namespace docvault::testing {

class TestDatabase {
 public:
  // `server_url`: a postgresql:// URL of any database on the cluster.
  explicit TestDatabase(const std::string& server_url);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string server_url_;
  std::string name_;
  std::string url_;
};

}  // namespace docvault::testing
