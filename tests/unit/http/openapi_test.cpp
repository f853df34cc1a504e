// docs/openapi.json against the server's route table: every route and method
// has an operation and every operation a route, with the scope and the body
// the endpoint really has; the document is the one compiled into the binary;
// and the checker the HTTP suites run on every response refuses what the
// document does not allow.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "blob/filesystem_blob_store.h"
#include "http/contract_routes.h"
#include "http/server.h"
#include "metrics/metrics.h"
#include "openapi_contract.h"
#include "runtime/clock.h"
#include "service/admin_service.h"
#include "service/document_service.h"
#include "store/store.h"
#include "test_env.h"

namespace docvault::http {
namespace {

using docvault::testing::ApiExchange;
using docvault::testing::openapi_violations;
using nlohmann::json;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

json openapi() { return json::parse(read_file(docvault::testing::source_dir() / "docs" / "openapi.json")); }

// "/v1/documents/{id}" and "/v1/documents/{document_id}" name the same route.
std::string shape(const std::string& path) {
  return std::regex_replace(path, std::regex(R"(\{[^}/]*\})"), "{}");
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A server with every route docvault has (admin API and /metrics included), never started.
class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::open_store(store::StoreOptions{"", dir_.path() / "docvault.sqlite3", 2});
    store_->migrate();
    blobs_ = std::make_unique<blob::FilesystemBlobStore>(dir_.path() / "blobs");
    documents_ = std::make_unique<service::DocumentService>(*store_, *blobs_, clock_);
    admin_ = std::make_unique<service::AdminService>(*store_, *documents_, clock_, nullptr);
    HttpOptions options;
    options.metrics = &metrics_;
    options.admin = admin_.get();
    server_ = std::make_unique<HttpServer>(*documents_, std::move(options));
  }

  // The document's operation for a route's method, or null.
  static const json* operation_of(const json& doc, const Route& route, const std::string& method) {
    for (const auto& [path, item] : doc["paths"].items()) {
      if (shape(path) == shape(route.label) && item.contains(lower(method))) return &item[lower(method)];
    }
    return nullptr;
  }

  docvault::testing::TempDir dir_;
  SystemClock clock_;
  metrics::Registry metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<blob::FilesystemBlobStore> blobs_;
  std::unique_ptr<service::DocumentService> documents_;
  std::unique_ptr<service::AdminService> admin_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(OpenApiTest, EveryRouteHasAnOperationAndEveryOperationARoute) {
  std::set<std::string> routed;
  for (const auto& route : server_->router().routes()) {
    for (const auto& [method, endpoint] : route.endpoints) routed.insert(method + " " + shape(route.label));
  }
  std::set<std::string> documented;
  for (const auto& [method, path] : docvault::testing::openapi_operations())
    documented.insert(method + " " + shape(path));
  for (const auto& op : routed)
    EXPECT_TRUE(documented.contains(op)) << op << " is served but has no operation in docs/openapi.json";
  for (const auto& op : documented)
    EXPECT_TRUE(routed.contains(op)) << op << " is in docs/openapi.json but no route serves it";
  EXPECT_GE(routed.size(), 16u);  // the route table was really read
}

TEST_F(OpenApiTest, OperationsStateTheScopeAndBodyOfTheirEndpoint) {
  const auto doc = openapi();
  for (const auto& route : server_->router().routes()) {
    for (const auto& [method, endpoint] : route.endpoints) {
      const auto where = method + " " + route.label;
      const json* op = operation_of(doc, route, method);
      ASSERT_NE(op, nullptr) << where;
      const auto security = op->value("security", json::array());
      const auto& responses = (*op)["responses"];
      if (endpoint.scope) {
        EXPECT_TRUE(std::any_of(
            security.begin(), security.end(),
            [&](const json& r) { return r.value("bearerAuth", json()) == json::array({*endpoint.scope}); }))
            << where << " needs the scope " << *endpoint.scope << ": " << security.dump();
      } else {
        EXPECT_TRUE(security.empty() ||
                    std::any_of(security.begin(), security.end(), [](const json& r) { return r.empty(); }))
            << where << " is open: " << security.dump();
      }
      if (endpoint.scope || route.label == "/metrics") {
        EXPECT_TRUE(responses.contains("401") && responses.contains("403")) << where;
      }
      const bool takes_body = endpoint.body_limit > 0;
      EXPECT_EQ(op->contains("requestBody"), takes_body) << where;
      EXPECT_TRUE(responses.contains("413"))
          << where << ": every route refuses a body it does not take, or too large a one";
      EXPECT_TRUE(responses.contains("500") && responses.contains("400")) << where;
      for (const auto& [status, response] : responses.items()) {
        const auto& resolved = response.contains("$ref")
                                   ? doc.at(json::json_pointer(response["$ref"].get<std::string>().substr(1)))
                                   : response;
        EXPECT_TRUE(resolved.contains("headers") && resolved["headers"].contains("X-Request-Id"))
            << where << " " << status << " lacks X-Request-Id";
        if (status.front() == '4' || status.front() == '5') {
          if (route.label == "/readyz" && status == "503") continue;  // readiness answers its own body
          EXPECT_EQ(resolved["content"]["application/json"]["schema"],
                    json({{"$ref", "#/components/schemas/Error"}}))
              << where << " " << status;
        }
      }
    }
  }
  EXPECT_EQ(doc["openapi"], "3.1.0");
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
}

TEST_F(OpenApiTest, TheBinaryServesTheRepositoryFiles) {
  const auto docs = docvault::testing::source_dir() / "docs";
  EXPECT_EQ(contract_file("openapi.json"), read_file(docs / "openapi.json"));
  EXPECT_EQ(contract_file("api-reference.html"), read_file(docs / "api-reference.html"));
  for (const char* name : {"entity-event.json", "audit-event.json", "document-event.json"}) {
    EXPECT_EQ(contract_file(name), read_file(docs / "schemas" / name)) << name;
  }
  EXPECT_FALSE(contract_file("nope.json"));
}

ApiExchange document_exchange(json document) {
  return {"GET",
          "/v1/documents/0b7c6f0e-3f44-4a47-9d3e-0f1a2b3c4d5e",
          200,
          {{"X-Request-Id", "r-1"},
           {"Content-Type", "application/json"},
           {"ETag", "\"" + std::string(64, 'a') + "\""}},
          document.dump()};
}

json a_document() {
  return {{"id", "0b7c6f0e-3f44-4a47-9d3e-0f1a2b3c4d5e"},
          {"entity_id", "issuer-1"},
          {"entity_type", "issuer"},
          {"document_type", "general"},
          {"filename", "a.txt"},
          {"content_type", "text/plain"},
          {"size_bytes", 3},
          {"sha256", std::string(64, 'a')},
          {"status", "active"},
          {"archived_at", nullptr},
          {"archive_reason", nullptr},
          {"suspended_at", nullptr},
          {"created_at", "2025-10-23T12:34:56.789Z"},
          {"updated_at", "2025-10-23T12:34:56.789Z"}};
}

TEST(OpenApiChecker, AcceptsWhatTheDocumentAllows) {
  EXPECT_EQ(openapi_violations(document_exchange(a_document())), "");
  // No route: a 404 with the error body.
  EXPECT_EQ(openapi_violations({"GET",
                                "/nowhere?x=1",
                                404,
                                {{"X-Request-Id", "r"}, {"Content-Type", "application/json"}},
                                R"({"error":{"code":"not_found","message":"no such route"}})"}),
            "");
  // HEAD is GET without the body.
  EXPECT_EQ(openapi_violations(
                {"HEAD", "/healthz", 200, {{"X-Request-Id", "r"}, {"Content-Type", "application/json"}}, ""}),
            "");
}

TEST(OpenApiChecker, RefusesWhatTheDocumentDoesNotAllow) {
  auto missing_field = a_document();
  missing_field.erase("sha256");
  EXPECT_NE(openapi_violations(document_exchange(missing_field)), "");
  auto extra_field = a_document();
  extra_field["secret"] = "x";
  EXPECT_NE(openapi_violations(document_exchange(extra_field)), "");
  auto wrong_type = a_document();
  wrong_type["size_bytes"] = "3";
  EXPECT_NE(openapi_violations(document_exchange(wrong_type)), "");

  auto no_request_id = document_exchange(a_document());
  no_request_id.headers.erase(no_request_id.headers.begin());
  EXPECT_NE(openapi_violations(no_request_id), "");
  auto no_etag = document_exchange(a_document());
  no_etag.headers.pop_back();
  EXPECT_NE(openapi_violations(no_etag), "");
  auto bad_etag = document_exchange(a_document());
  bad_etag.headers.back().second = "W/\"x\"";
  EXPECT_NE(openapi_violations(bad_etag), "");
  auto wrong_media = document_exchange(a_document());
  wrong_media.headers[1].second = "text/html";
  EXPECT_NE(openapi_violations(wrong_media), "");

  // A status the operation does not list, and an error body of another shape.
  EXPECT_NE(openapi_violations({"GET",
                                "/healthz",
                                418,
                                {{"X-Request-Id", "r"}, {"Content-Type", "application/json"}},
                                R"({"error":{"code":"teapot","message":"no"}})"}),
            "");
  EXPECT_NE(openapi_violations({"GET",
                                "/nowhere",
                                404,
                                {{"X-Request-Id", "r"}, {"Content-Type", "application/json"}},
                                R"({"message":"no such route"})"}),
            "");
  // A method the path does not have is a 405 with Allow, nothing else.
  EXPECT_NE(openapi_violations({"DELETE",
                                "/healthz",
                                200,
                                {{"X-Request-Id", "r"}, {"Content-Type", "application/json"}},
                                R"({"status":"ok"})"}),
            "");
  EXPECT_NE(openapi_violations({"DELETE",
                                "/healthz",
                                405,
                                {{"X-Request-Id", "r"}, {"Content-Type", "application/json"}},
                                R"({"error":{"code":"method_not_allowed","message":"no"}})"}),
            "");
  // An upload's 201 names the new document.
  EXPECT_NE(openapi_violations({"POST",
                                "/v1/documents",
                                201,
                                {{"X-Request-Id", "r"}, {"Content-Type", "application/json"}},
                                a_document().dump()}),
            "");
}

}  // namespace
}  // namespace docvault::http
