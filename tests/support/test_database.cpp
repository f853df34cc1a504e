#include "test_database.h"

#include <random>

#include <pqxx/pqxx>

namespace docvault::testing {
namespace {

// Replaces the database name (the path) of a postgresql:// URL.
std::string with_database(const std::string& url, const std::string& database) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  auto query = url.find('?');
  std::string base = url.substr(0, slash == std::string::npos ? (query == std::string::npos ? url.size() : query) : slash);
  std::string params = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + database + params;
}

}  // namespace

TestDatabase::TestDatabase(const std::string& server_url) : server_url_(server_url) {
  std::random_device random;
  name_ = "docvault_test_" + std::to_string(random()) + std::to_string(random());
  pqxx::connection admin(server_url_);
  pqxx::nontransaction tx(admin);
  tx.exec0("CREATE DATABASE " + tx.quote_name(name_));
  url_ = with_database(server_url_, name_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(server_url_);
    pqxx::nontransaction tx(admin);
    tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // The cluster is thrown away at the end of the run anyway.
  }
}

}  // namespace docvault::testing
