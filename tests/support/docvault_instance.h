// A running `docvault` for black-box tests: the real binary, on a fresh
// database of the chosen backend, with the test's own environment, plus a
// store opened on that same database so the test can look at what it wrote,
// and HTTP clients whose every response is checked against the API's OpenAPI
// document (openapi_contract.h): a response the document does not allow
// fails the test.
//
// Header-only (suites that use it link docvault_store and cpp-httplib).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <httplib.h>

#include "backend_fixture.h"
#include "openapi_contract.h"
#include "process.h"

namespace docvault::testing {

// Checks every response `client` gets against docs/openapi.json from now on;
// one the document does not allow is a test failure naming what is wrong.
inline void check_responses_against_openapi(httplib::Client& client) {
  client.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    const auto found = openapi_violations(
        ApiExchange{req.method, req.path, res.status, {res.headers.begin(), res.headers.end()}, res.body});
    if (!found.empty()) {
      ADD_FAILURE() << "docs/openapi.json does not allow this response:\n" << found << res.body.substr(0, 500);
    }
  });
}

// The database a test's docvault processes share.
class TestStorage {
 public:
  // Fails the current test (via the returned false) when PostgreSQL is asked
  // for and DOCVAULT_TEST_DATABASE_URL is not set.
  TestStorage(Backend backend, std::filesystem::path data_dir) : backend_(backend), data_dir_(std::move(data_dir)) {
    if (backend_ == Backend::postgresql) {
      if (auto url = env("DOCVAULT_TEST_DATABASE_URL")) database_.emplace(*url);
    }
  }
  bool available() const { return backend_ == Backend::sqlite || database_.has_value(); }
  Backend backend() const { return backend_; }
  std::string database_url() const { return database_ ? database_->url() : ""; }
  const std::filesystem::path& data_dir() const { return data_dir_; }

  // The environment that points docvault at this storage.
  std::map<std::string, std::string> environment() const {
    return {{"DOCVAULT_DATA_DIR", data_dir_.string()}, {"DATABASE_URL", database_url()}};
  }

  // A store on the same database (migrated), for the test's own reads and seeding.
  store::Store& store() {
    if (!store_) {
      std::filesystem::create_directories(data_dir_);
      store_ = store::open_store({database_url(), data_dir_ / "docvault.sqlite3", 2});
      store_->migrate();
    }
    return *store_;
  }

 private:
  Backend backend_;
  std::filesystem::path data_dir_;
  std::optional<TestDatabase> database_;
  std::unique_ptr<store::Store> store_;
};

class DocvaultInstance {
 public:
  // Starts `docvault <subcommand>` with storage's environment, LOG_FORMAT=json,
  // an HTTP port of its own, the relay off, no queue or topic, and `env` on
  // top. Authentication is off (DOCVAULT_AUTH=disabled) unless `env` sets
  // DOCVAULT_AUTH or a key (tests/e2e/auth, test_crypto.h mints tokens).
  // For `serve`, `consume` and `relay` (all of which listen), waits for /healthz.
  DocvaultInstance(const TestStorage& storage, const std::filesystem::path& log_path,
                   std::map<std::string, std::string> env = {}, const std::string& subcommand = "serve")
      : port_(free_port()) {
    std::map<std::string, std::string> full = storage.environment();
    full["LOG_FORMAT"] = "json";
    full["DOCVAULT_HTTP_ADDR"] = "127.0.0.1:" + std::to_string(port_);
    // Nothing inherited from the environment scripts/test made (its shared
    // topology): the relay and the consumer get targets only from the test.
    full["DOCVAULT_OUTBOX_RELAY_ENABLED"] = "false";
    for (const char* name : {"DOCUMENT_VAULT_SQS_URL", "DOCUMENT_CONSUMER_DLQ_URL", "AUDIT_SNS_TOPIC_ARN",
                             "DOCUMENT_EVENTS_SQS_URL"}) {
      full[name] = "";
    }
    const bool own_auth = env.contains("DOCVAULT_AUTH") || env.contains("DOCVAULT_JWT_SECRET") ||
                          env.contains("DOCVAULT_JWT_PUBLIC_KEY_FILE");
    if (!own_auth) full["DOCVAULT_AUTH"] = "disabled";
    for (const char* name : {"DOCVAULT_JWT_SECRET", "DOCVAULT_JWT_PUBLIC_KEY_FILE", "DOCVAULT_JWT_ISSUER",
                             "DOCVAULT_JWT_AUDIENCE", "DOCVAULT_METRICS_AUTH"}) {
      full.try_emplace(name, "");
    }
    for (auto& [k, v] : env) full[k] = v;
    process_.emplace(docvault_binary(), std::vector<std::string>{subcommand}, full, log_path);
    if (subcommand == "serve" || subcommand == "consume" || subcommand == "relay") {
      auto client = this->client();
      ready_ = wait_until([&] {
        auto res = client.Get("/healthz");
        return res && res->status == 200;
      });
    }
  }

  bool ready() const { return ready_; }
  int port() const { return port_; }
  // A client of this instance (10 s read timeout) whose responses are
  // checked against the OpenAPI document.
  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(10, 0);
    check_responses_against_openapi(client);
    return client;
  }
  Process& process() { return *process_; }
  std::string output() const { return process_->output(); }
  // Waits until the log has `text` (lines are written after the fact).
  bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return wait_until([&] { return output().find(text) != std::string::npos; }, timeout);
  }

 private:
  int port_;
  std::optional<Process> process_;
  bool ready_ = true;
};

}  // namespace docvault::testing
