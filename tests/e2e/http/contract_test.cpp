// The published contracts, served by a running docvault with authentication
// on: /openapi.json, /docs and the event schemas under /schemas/ are open and
// are the repository's files byte for byte; an unknown schema is a 404 with
// the API's error body. (The browser test of /docs is tests/e2e/docs.)
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "docvault_instance.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using nlohmann::json;

std::string repository_file(const std::filesystem::path& relative) {
  std::ifstream in(docvault::testing::source_dir() / relative, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class ContractRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_.emplace(Backend::sqlite, dir_.path() / "var");
    server_.emplace(*storage_, dir_.path() / "serve.log",
                    std::map<std::string, std::string>{{"DOCVAULT_JWT_SECRET", std::string(40, 's')},
                                                       {"ENABLE_DOCUMENT_CONSUMER", "false"}});
    ASSERT_TRUE(server_->ready()) << server_->output();
    client_.emplace(server_->client());
  }

  // GETs `path` and expects 200 with `content_type` and the repository file as the body.
  httplib::Result expect_served(const std::string& path, const std::string& content_type,
                                const std::filesystem::path& file) {
    auto res = client_->Get(path);
    EXPECT_TRUE(res) << path;
    if (!res) return res;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(res->get_header_value("Content-Type"), content_type) << path;
    EXPECT_EQ(res->body, repository_file(file)) << path;
    return res;
  }

  void TearDown() override {
    if (server_ && HasFailure()) std::cerr << "--- docvault output ---\n" << server_->output();
  }

  docvault::testing::TempDir dir_;
  std::optional<docvault::testing::TestStorage> storage_;
  std::optional<docvault::testing::DocvaultInstance> server_;
  std::optional<httplib::Client> client_;
};

TEST_F(ContractRoutesTest, OpenApiDocumentIsTheRepositoryFile) {
  auto res = expect_served("/openapi.json", "application/json", "docs/openapi.json");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["openapi"], "3.1.0");
  // Protected routes stay protected: the document is open, the API is not.
  auto refused = client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
}

TEST_F(ContractRoutesTest, DocsPageIsServedOpenAndSelfContained) {
  auto res = expect_served("/docs", "text/html; charset=utf-8", "docs/api-reference.html");
  ASSERT_TRUE(res);
  EXPECT_NE(res->get_header_value("Content-Security-Policy").find("connect-src 'self'"), std::string::npos);
  // Nothing is loaded from another site.
  EXPECT_EQ(res->body.find("src=\"http"), std::string::npos);
  EXPECT_EQ(res->body.find("href=\"http"), std::string::npos);
  auto head = client_->Head("/docs");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
}

TEST_F(ContractRoutesTest, EventSchemasAreTheRepositoryFiles) {
  for (const char* name : {"entity-event.json", "audit-event.json", "document-event.json"}) {
    expect_served(std::string("/schemas/") + name, "application/schema+json",
                  std::filesystem::path("docs/schemas") / name);
  }
}

TEST_F(ContractRoutesTest, UnknownSchemaIsNotFound) {
  for (const char* path : {"/schemas/nope.json", "/schemas/openapi.json", "/schemas/..%2fopenapi.json",
                           "/schemas/entity-event", "/schemas/ENTITY-EVENT.JSON"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    auto body = json::parse(res->body, nullptr, false);
    EXPECT_EQ(body["error"]["code"], "not_found") << path << ": " << res->body;
  }
}

}  // namespace
}  // namespace docvault
