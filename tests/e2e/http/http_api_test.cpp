// Black-box tests of the REST API: start `docvault serve`, talk to it over
// HTTP with a real client, and look at the database and the blob folder.
#include <signal.h>

#include <fstream>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "docvault_instance.h"
#include "domain/uuid.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using docvault::testing::Process;
using nlohmann::json;

constexpr std::uint64_t kMaxUpload = 4096;

// A database backend and where the content goes (the filesystem, or the
// emulator's S3 bucket under a prefix of the test's own).
struct Setup {
  Backend backend;
  bool s3 = false;
};

std::string setup_name(const ::testing::TestParamInfo<Setup>& info) {
  return std::string(info.param.backend == Backend::sqlite ? "sqlite" : "postgresql") +
         (info.param.s3 ? "_s3" : "_filesystem");
}

class HttpApiTest : public ::testing::TestWithParam<Setup> {
 protected:
  void SetUp() override {
    storage_.emplace(GetParam().backend, dir_.path() / "var");
    if (!storage_->available()) {
      DOCVAULT_REQUIRE_ENV(url, "DOCVAULT_TEST_DATABASE_URL");
    }
    std::map<std::string, std::string> env{{"DOCVAULT_MAX_UPLOAD_BYTES", std::to_string(kMaxUpload)},
                                           {"ENABLE_DOCUMENT_CONSUMER", "false"}};
    if (GetParam().s3) {
      DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
      DOCVAULT_REQUIRE_ENV(bucket, "DOCVAULT_S3_BUCKET");
      env.insert({{"DOCVAULT_BLOB_STORE", "s3"},
                  {"DOCVAULT_S3_BUCKET", bucket},
                  {"DOCVAULT_S3_PREFIX", "e2e-" + uuid_v4() + "/"},
                  {"DOCVAULT_S3_FORCE_PATH_STYLE", "true"}});
    }
    server_.emplace(*storage_, dir_.path() / "serve.log", env);
    ASSERT_TRUE(server_->ready()) << server_->output();
    client_.emplace(server_->client());
  }

  void TearDown() override {
    if (server_ && HasFailure()) std::cerr << "--- docvault output ---\n" << server_->output();
  }

  std::filesystem::path data_dir() const { return storage_->data_dir(); }
  store::Store& store() { return storage_->store(); }

  httplib::Result upload(const std::string& content, const std::string& entity_id = "issuer-1",
                         const std::string& entity_type = "issuer", const std::string& filename = "report.pdf") {
    httplib::MultipartFormDataItems items{{"file", content, filename, "application/pdf"},
                                          {"entity_id", entity_id, "", ""},
                                          {"entity_type", entity_type, "", ""},
                                          {"document_type", "prospectus", "", ""}};
    return client_->Post("/v1/documents", items);
  }

  // Asserts the error body and that nothing was stored for issuer-1.
  void expect_error(const httplib::Result& res, int status, const std::string& code,
                    const std::optional<std::string>& field = std::nullopt) {
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, status) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    auto body = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    EXPECT_EQ(body["error"]["code"], code) << res->body;
    EXPECT_TRUE(body["error"]["message"].is_string());
    if (field) {
      EXPECT_EQ(body["error"]["field"], *field) << res->body;
    }
    EXPECT_FALSE(res->get_header_value("X-Request-Id").empty());
    expect_nothing_written();
  }

  void expect_nothing_written() {
    auto docs = store::read(store(), [](store::Transaction& tx) {
      return tx.list_documents({{"issuer-1", EntityType::issuer}, std::nullopt, 10, std::nullopt});
    });
    EXPECT_TRUE(docs.empty());
    auto outbox = store::read(store(), [](store::Transaction& tx) { return tx.outbox_messages("issuer-1"); });
    EXPECT_TRUE(outbox.empty());
    std::size_t blobs = 0;
    if (std::filesystem::exists(data_dir() / "blobs")) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(data_dir() / "blobs")) {
        blobs += e.is_regular_file();
      }
    }
    EXPECT_EQ(blobs, 0u);
  }

  docvault::testing::TempDir dir_;
  std::optional<docvault::testing::TestStorage> storage_;
  std::optional<docvault::testing::DocvaultInstance> server_;
  std::optional<httplib::Client> client_;
};

TEST_P(HttpApiTest, UploadGetListDownloadArchiveRoundTrip) {
  const std::string content = "%PDF-1.7 pretend\x00\x01\xff bytes";
  auto created = upload(content, "issuer-1", "issuer", "Q3 report \"final\";.pdf");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  auto doc = json::parse(created->body);
  const std::string id = doc["id"];
  EXPECT_EQ(created->get_header_value("Location"), "/v1/documents/" + id);
  EXPECT_EQ(doc["entity_id"], "issuer-1");
  EXPECT_EQ(doc["entity_type"], "issuer");
  EXPECT_EQ(doc["document_type"], "prospectus");
  EXPECT_EQ(doc["size_bytes"], content.size());
  EXPECT_EQ(doc["status"], "active");
  EXPECT_TRUE(doc["archived_at"].is_null());

  auto meta = client_->Get("/v1/documents/" + id);
  ASSERT_EQ(meta->status, 200);
  EXPECT_EQ(json::parse(meta->body), doc);

  auto listed = client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer");
  ASSERT_EQ(listed->status, 200);
  auto page = json::parse(listed->body);
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0], doc);
  EXPECT_TRUE(page["next_cursor"].is_null());

  auto download = client_->Get("/v1/documents/" + id + "/content");
  ASSERT_EQ(download->status, 200);
  EXPECT_EQ(download->body, content);
  EXPECT_EQ(download->get_header_value("Content-Type"), "application/pdf");
  EXPECT_EQ(download->get_header_value("Content-Length"), std::to_string(content.size()));
  EXPECT_EQ(download->get_header_value("ETag"), "\"" + doc["sha256"].get<std::string>() + "\"");
  // cpp-httplib's client percent-decodes header values, so filename* reads
  // back as the original name here; its encoding is checked in unit/http.
  EXPECT_EQ(download->get_header_value("Content-Disposition"),
            "attachment; filename=\"Q3 report _final__.pdf\"; filename*=UTF-8''Q3 report \"final\";.pdf");

  httplib::Headers if_none_match{{"If-None-Match", download->get_header_value("ETag")}};
  EXPECT_EQ(client_->Get("/v1/documents/" + id + "/content", if_none_match)->status, 304);

  auto archived = client_->Post("/v1/documents/" + id + "/archive", "", "application/json");
  ASSERT_EQ(archived->status, 200) << archived->body;
  auto archived_doc = json::parse(archived->body);
  EXPECT_EQ(archived_doc["status"], "archived");
  EXPECT_EQ(archived_doc["archive_reason"], "manual");
  EXPECT_TRUE(archived_doc["archived_at"].is_string());

  auto again = client_->Post("/v1/documents/" + id + "/archive", "", "application/json");
  ASSERT_EQ(again->status, 200);
  EXPECT_EQ(json::parse(again->body), archived_doc);

  auto only_archived = json::parse(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer&status=archived")->body);
  EXPECT_EQ(only_archived["items"].size(), 1u);
  auto only_active = json::parse(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer&status=active")->body);
  EXPECT_EQ(only_active["items"].size(), 0u);

  // created and archived: an audit event and a document event each
  auto outbox = store::read(store(), [](store::Transaction& tx) { return tx.outbox_messages("issuer-1"); });
  EXPECT_EQ(outbox.size(), 4u);
}

TEST_P(HttpApiTest, ListingPagesWithCursor) {
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) created.insert(json::parse(upload("doc " + std::to_string(i))->body)["id"]);
  std::set<std::string> seen;
  std::string cursor;
  for (int pages = 0; pages < 10; ++pages) {
    auto res = client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer&limit=2" +
                            (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(res->status, 200) << res->body;
    auto page = json::parse(res->body);
    EXPECT_LE(page["items"].size(), 2u);
    for (const auto& item : page["items"]) seen.insert(item["id"].get<std::string>());
    if (page["next_cursor"].is_null()) break;
    cursor = page["next_cursor"];
  }
  EXPECT_EQ(seen, created);
}

TEST_P(HttpApiTest, BadUploadsAreRefusedAndWriteNothing) {
  // Not multipart at all.
  expect_error(client_->Post("/v1/documents", R"({"entity_id":"issuer-1"})", "application/json"), 415,
               "unsupported_media_type");
  // Multipart framing that does not parse.
  expect_error(client_->Post("/v1/documents", "--xx\r\ngarbage", "multipart/form-data; boundary=xx"), 400,
               "malformed_request");
  // Missing parts.
  expect_error(client_->Post("/v1/documents",
                             httplib::MultipartFormDataItems{{"entity_id", "issuer-1", "", ""},
                                                             {"entity_type", "issuer", "", ""}}),
               400, "invalid_field", "file");
  expect_error(client_->Post("/v1/documents",
                             httplib::MultipartFormDataItems{{"file", "x", "a.txt", "text/plain"},
                                                             {"entity_type", "issuer", "", ""}}),
               400, "invalid_field", "entity_id");
  // Invalid values.
  expect_error(upload("x", "issuer-1", "fund"), 400, "invalid_field", "entity_type");
  expect_error(upload("x", std::string(256, 'a')), 400, "invalid_field", "entity_id");
  expect_error(upload("x", "issuer-1", "issuer", "bad\x01name.pdf"), 400, "invalid_filename", "filename");
  // Too large: over the file limit, and far over it (refused from Content-Length).
  expect_error(upload(std::string(kMaxUpload + 1, 'x')), 413, "payload_too_large", "file");
  expect_error(upload(std::string(kMaxUpload + 200 * 1024, 'x')), 413, "payload_too_large");
  // The exact limit is fine (on another entity, so the checks above still hold).
  EXPECT_EQ(upload(std::string(kMaxUpload, 'x'), "issuer-2")->status, 201);
}

TEST_P(HttpApiTest, BadPathsMethodsAndQueriesGetJsonErrors) {
  expect_error(client_->Get("/v1/documents/not-a-uuid"), 400, "invalid_field", "id");
  expect_error(client_->Get("/v1/documents/not-a-uuid/content"), 400, "invalid_field", "id");
  expect_error(client_->Post("/v1/documents/not-a-uuid/archive", "", "application/json"), 400, "invalid_field", "id");
  const std::string unknown = "/v1/documents/0b7e3c1e-2b8f-4d4a-9a57-1c2d3e4f5a6b";
  expect_error(client_->Get(unknown), 404, "not_found");
  expect_error(client_->Get(unknown + "/content"), 404, "not_found");
  expect_error(client_->Post(unknown + "/archive", "", "application/json"), 404, "not_found");
  expect_error(client_->Get("/v2/nothing"), 404, "not_found");

  auto wrong_method = client_->Delete(unknown);
  expect_error(wrong_method, 405, "method_not_allowed");
  EXPECT_EQ(wrong_method->get_header_value("Allow"), "GET");
  auto put = client_->Put("/v1/documents", "{}", "application/json");
  expect_error(put, 405, "method_not_allowed");
  EXPECT_EQ(put->get_header_value("Allow"), "GET, POST");

  expect_error(client_->Get("/v1/documents?entity_type=issuer"), 400, "invalid_field", "entity_id");
  expect_error(client_->Get("/v1/documents?entity_id=issuer-1"), 400, "invalid_field", "entity_type");
  expect_error(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer&limit=0"), 400, "invalid_field", "limit");
  expect_error(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer&status=gone"), 400, "invalid_field", "status");
  expect_error(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer&cursor=abc"), 400, "invalid_field", "cursor");
}

TEST_P(HttpApiTest, RequestIdIsEchoedOrMinted) {
  auto given = client_->Get("/healthz", httplib::Headers{{"X-Request-Id", "trace-123"}});
  EXPECT_EQ(given->get_header_value("X-Request-Id"), "trace-123");
  auto minted = client_->Get("/healthz");
  EXPECT_EQ(minted->get_header_value("X-Request-Id").size(), 36u);
  // The access log line is written after the response has gone out.
  EXPECT_TRUE(server_->wait_for_log(R"("request_id":"trace-123")"));
}

TEST_P(HttpApiTest, HealthAndReadiness) {
  auto health = client_->Get("/healthz");
  EXPECT_EQ(health->status, 200);
  auto ready = client_->Get("/readyz");
  ASSERT_EQ(ready->status, 200) << ready->body;
  auto body = json::parse(ready->body);
  EXPECT_EQ(body["status"], "ready");
  EXPECT_EQ(body["checks"]["database"]["status"], "up");
  EXPECT_EQ(body["checks"]["database"]["backend"], GetParam().backend == Backend::sqlite ? "sqlite" : "postgresql");
}

TEST_P(HttpApiTest, SigtermStopsCleanly) {
  server_->process().signal(SIGTERM);
  EXPECT_EQ(server_->process().wait(std::chrono::seconds(5)), 0);
  EXPECT_NE(server_->output().find("docvault stopped"), std::string::npos);
}

TEST_P(HttpApiTest, RangesRedirectsAndTheirErrors) {
  auto created = upload("0123456789");
  ASSERT_EQ(created->status, 201) << created->body;
  const std::string path = "/v1/documents/" + json::parse(created->body)["id"].get<std::string>() + "/content";

  auto middle = client_->Get(path, httplib::Headers{{"Range", "bytes=2-4"}});
  ASSERT_EQ(middle->status, 206) << middle->body;
  EXPECT_EQ(middle->body, "234");
  EXPECT_EQ(middle->get_header_value("Content-Range"), "bytes 2-4/10");
  EXPECT_EQ(middle->get_header_value("Content-Length"), "3");
  auto tail = client_->Get(path, httplib::Headers{{"Range", "bytes=-3"}});
  EXPECT_EQ(tail->status, 206);
  EXPECT_EQ(tail->body, "789");
  auto open_ended = client_->Get(path, httplib::Headers{{"Range", "bytes=7-100"}});
  EXPECT_EQ(open_ended->status, 206);
  EXPECT_EQ(open_ended->body, "789");
  EXPECT_EQ(open_ended->get_header_value("Content-Range"), "bytes 7-9/10");
  // Several ranges: the whole content, as RFC 9110 allows.
  auto several = client_->Get(path, httplib::Headers{{"Range", "bytes=0-1,4-5"}});
  EXPECT_EQ(several->status, 200);
  EXPECT_EQ(several->body, "0123456789");

  auto past_end = client_->Get(path, httplib::Headers{{"Range", "bytes=10-"}});
  ASSERT_EQ(past_end->status, 416);
  EXPECT_EQ(past_end->get_header_value("Content-Range"), "bytes */10");
  EXPECT_EQ(json::parse(past_end->body)["error"]["code"], "range_not_satisfiable");
  // A Range on an error answer leaves it whole.
  auto unknown = client_->Get("/v1/documents/0b7e3c1e-2b8f-4d4a-9a57-1c2d3e4f5a6b/content",
                              httplib::Headers{{"Range", "bytes=500-"}});
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(json::parse(unknown->body)["error"]["code"], "not_found");

  EXPECT_EQ(client_->Get(path + "?redirect=maybe")->status, 400);
  auto redirected = client_->Get(path + "?redirect=true");
  if (!GetParam().s3) {
    // The filesystem store has no direct URLs: redirect=true is ignored.
    EXPECT_EQ(redirected->status, 200);
    EXPECT_EQ(redirected->body, "0123456789");
    return;
  }
  ASSERT_EQ(redirected->status, 302) << redirected->body;
  EXPECT_EQ(redirected->get_header_value("Cache-Control"), "no-store");
  auto location = redirected->get_header_value("Location");
  EXPECT_NE(location.find("X-Amz-Expires=300"), std::string::npos) << location;
  auto scheme_end = location.find("://");
  auto path_start = location.find('/', scheme_end + 3);
  httplib::Client plain(location.substr(0, path_start));
  auto fetched = plain.Get(location.substr(path_start).c_str());
  ASSERT_TRUE(fetched);
  EXPECT_EQ(fetched->status, 200);
  EXPECT_EQ(fetched->body, "0123456789");
}

INSTANTIATE_TEST_SUITE_P(Backends, HttpApiTest,
                         ::testing::Values(Setup{Backend::sqlite, false}, Setup{Backend::postgresql, false},
                                           Setup{Backend::sqlite, true}, Setup{Backend::postgresql, true}),
                         setup_name);

TEST_P(HttpApiTest, AnIdempotencyKeyReplaysARetryAndRefusesAnotherRequest) {
  httplib::MultipartFormDataItems items{{"file", "retried content", "r.pdf", "application/pdf"},
                                        {"entity_id", "issuer-2", "", ""},
                                        {"entity_type", "issuer", "", ""}};
  const httplib::Headers key{{"Idempotency-Key", "\"upload-7f3a\""}};
  auto first = client_->Post("/v1/documents", key, items);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 201) << first->body;
  EXPECT_FALSE(first->has_header("Idempotent-Replayed"));
  // The client timed out and sends the same request again: the same answer.
  auto retry = client_->Post("/v1/documents", key, items);
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 201) << retry->body;
  EXPECT_EQ(retry->get_header_value("Idempotent-Replayed"), "true");
  EXPECT_EQ(json::parse(retry->body)["id"], json::parse(first->body)["id"]);
  EXPECT_EQ(retry->get_header_value("Location"), first->get_header_value("Location"));
  auto stored = store::read(store(), [](store::Transaction& tx) {
    return tx.list_documents({{"issuer-2", EntityType::issuer}, std::nullopt, 10, std::nullopt});
  });
  EXPECT_EQ(stored.size(), 1u);
  EXPECT_EQ(store::read(store(), [](store::Transaction& tx) { return tx.outbox_messages("issuer-2"); }).size(), 2u);

  // The same key for another request: 422, no document and no event (its
  // content, received before the key could be compared, is left for
  // gc-blobs); a malformed key: 400.
  httplib::MultipartFormDataItems other{{"file", "other", "r.pdf", "application/pdf"},
                                        {"entity_id", "issuer-1", "", ""},
                                        {"entity_type", "issuer", "", ""}};
  auto expect_refused = [&](const httplib::Result& res, int status, const std::string& code) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    auto error = json::parse(res->body)["error"];
    EXPECT_EQ(error["code"], code) << res->body;
    EXPECT_EQ(error["field"], "Idempotency-Key") << res->body;
    EXPECT_TRUE(store::read(store(), [](store::Transaction& tx) {
                  return tx.list_documents({{"issuer-1", EntityType::issuer}, std::nullopt, 10, std::nullopt});
                }).empty());
    EXPECT_TRUE(store::read(store(), [](store::Transaction& tx) { return tx.outbox_messages("issuer-1"); }).empty());
  };
  expect_refused(client_->Post("/v1/documents", key, other), 422, "idempotency_key_reused");
  expect_refused(client_->Post("/v1/documents", {{"Idempotency-Key", std::string(256, 'k')}}, other), 400,
                 "invalid_field");
}

TEST(Cli, BadConfigurationExitsTwoNamingTheVariable) {
  docvault::testing::TempDir dir;
  Process p(docvault::testing::docvault_binary(), {"serve"},
            {{"DOCVAULT_HTTP_ADDR", "localhost"}, {"DOCVAULT_DATA_DIR", (dir.path() / "var").string()}},
            dir.path() / "out.log");
  EXPECT_EQ(p.wait(std::chrono::seconds(10)), 2);
  EXPECT_NE(p.output().find("DOCVAULT_HTTP_ADDR=\"localhost\""), std::string::npos) << p.output();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "var"));
}

TEST(Cli, ConfigCheckRedactsSecrets) {
  docvault::testing::TempDir dir;
  Process p(docvault::testing::docvault_binary(), {"config", "check"},
            {{"DATABASE_URL", "postgresql://app:hunter2@db.internal/docvault"}}, dir.path() / "out.log");
  EXPECT_EQ(p.wait(std::chrono::seconds(10)), 0);
  EXPECT_NE(p.output().find("DATABASE_URL=postgresql://app:***@db.internal/docvault"), std::string::npos) << p.output();
  EXPECT_EQ(p.output().find("hunter2"), std::string::npos);
}

TEST(Cli, MigrateAppliesTheSchema) {
  docvault::testing::TempDir dir;
  Process p(docvault::testing::docvault_binary(), {"migrate"}, {{"DOCVAULT_DATA_DIR", dir.path().string()}, {"DATABASE_URL", ""}},
            dir.path() / "out.log");
  ASSERT_EQ(p.wait(std::chrono::seconds(10)), 0) << p.output();
  auto store = store::open_store({"", dir.path() / "docvault.sqlite3", 1});
  EXPECT_EQ(store->applied_migrations(), store->known_migrations());
}

}  // namespace
}  // namespace docvault
