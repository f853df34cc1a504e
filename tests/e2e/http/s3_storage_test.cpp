// docvault on the emulator's S3, black-box: an S3 endpoint that fails in the
// middle of a multipart upload (through a fault-injecting proxy) and the
// `admin gc-blobs` sweeper. The document API itself runs on S3 in
// http_api_test.cpp.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "aws/endpoint.h"
#include "aws/s3_client.h"
#include "crypto/crypto.h"
#include "docvault_instance.h"
#include "domain/uuid.h"
#include "s3_fault_proxy.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using docvault::testing::Process;
using nlohmann::json;

class S3StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
    DOCVAULT_REQUIRE_ENV(bucket, "DOCVAULT_S3_BUCKET");
    endpoint_ = endpoint;
    bucket_ = bucket;
    prefix_ = "e2e-" + uuid_v4() + "/";
    storage_.emplace(Backend::sqlite, dir_.path() / "var");
    client_.emplace(aws::S3ClientOptions{.bucket = bucket_, .force_path_style = true});
  }

  std::map<std::string, std::string> s3_env() const {
    return {{"DOCVAULT_BLOB_STORE", "s3"},
            {"DOCVAULT_S3_BUCKET", bucket_},
            {"DOCVAULT_S3_PREFIX", prefix_},
            {"DOCVAULT_S3_FORCE_PATH_STYLE", "true"},
            {"DOCVAULT_MAX_UPLOAD_BYTES", std::to_string(64 * 1024 * 1024)},
            {"ENABLE_DOCUMENT_CONSUMER", "false"},
            {"AWS_MAX_ATTEMPTS", "2"}};
  }

  static httplib::Result upload(httplib::Client& client, const std::string& content) {
    httplib::MultipartFormDataItems items{{"file", content, "big.bin", "application/octet-stream"},
                                          {"entity_id", "issuer-1", "", ""},
                                          {"entity_type", "issuer", "", ""}};
    return client.Post("/v1/documents", items);
  }

  std::vector<Document> documents() {
    return store::read(storage_->store(), [](store::Transaction& tx) {
      return tx.list_documents({{"issuer-1", EntityType::issuer}, std::nullopt, 10, std::nullopt});
    });
  }

  Process gc(const std::vector<std::string>& args) {
    std::map<std::string, std::string> env = storage_->environment();
    for (auto& [k, v] : s3_env()) env[k] = v;
    env["LOG_FORMAT"] = "json";
    std::vector<std::string> full{"admin", "gc-blobs"};
    full.insert(full.end(), args.begin(), args.end());
    return Process(testing::docvault_binary(), full, env, dir_.path() / ("gc-" + uuid_v4() + ".log"));
  }

  testing::TempDir dir_;
  std::string endpoint_;
  std::string bucket_;
  std::string prefix_;
  std::optional<testing::TestStorage> storage_;
  std::optional<aws::S3Client> client_;
};

TEST_F(S3StorageTest, AnS3FailureMidUploadIs500WithNoRowAndNoParts) {
  auto upstream = aws::parse_url(endpoint_);
  ASSERT_TRUE(upstream);
  testing::S3FaultProxy proxy(upstream->host, std::stoi(upstream->authority.substr(upstream->authority.rfind(':') + 1)));
  proxy.fail_when([](const httplib::Request& req) {
    return req.method == "PUT" && req.has_param("uploadId") && req.get_param_value("partNumber") == "3";
  });
  auto env = s3_env();
  env["AWS_ENDPOINT_URL_S3"] = proxy.url();
  testing::DocvaultInstance server(*storage_, dir_.path() / "serve.log", env);
  ASSERT_TRUE(server.ready()) << server.output();
  auto client = server.client();
  client.set_read_timeout(60, 0);

  std::string content(40 * 1024 * 1024, 'q');
  auto res = upload(client, content);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500) << res->body;
  EXPECT_EQ(json::parse(res->body)["error"]["code"], "internal_error");
  EXPECT_TRUE(documents().empty());

  bool aborted = false;
  std::string upload_id;
  for (const auto& call : proxy.calls()) {
    if (call.method == "DELETE" && call.has("uploadId")) {
      aborted = call.status == 204;
      upload_id = call.params.find("uploadId")->second;
    }
  }
  EXPECT_TRUE(aborted) << server.output();
  auto key = prefix_ + crypto::sha256_hex(content);
  try {
    client_->upload_part(key, upload_id, 9, "x", crypto::sha256_hex("x"));
    ADD_FAILURE() << "the multipart upload was left behind";
  } catch (const aws::AwsError& error) {
    EXPECT_EQ(error.code(), "NoSuchUpload");
  }
  EXPECT_EQ(client_->head_object(key), std::nullopt);
}

TEST_F(S3StorageTest, GcBlobsListsThenDeletesOnlyUnreferencedObjects) {
  std::string kept_sha;
  {
    testing::DocvaultInstance server(*storage_, dir_.path() / "serve.log", s3_env());
    ASSERT_TRUE(server.ready()) << server.output();
    auto client = server.client();
    auto res = upload(client, "kept content");
    ASSERT_EQ(res->status, 201) << res->body;
    kept_sha = json::parse(res->body)["sha256"];
  }
  // What a failed transaction leaves: an object and no row.
  const std::string orphan = "orphan content";
  const auto orphan_sha = crypto::sha256_hex(orphan);
  client_->put_object(prefix_ + orphan_sha, orphan, orphan_sha);

  auto young = gc({});
  ASSERT_EQ(young.wait(std::chrono::seconds(30)), 0) << young.output();
  EXPECT_NE(young.output().find("2 blobs scanned, 0 referenced, 2 younger"), std::string::npos) << young.output();

  auto dry = gc({"--grace-seconds", "0"});
  ASSERT_EQ(dry.wait(std::chrono::seconds(30)), 0) << dry.output();
  EXPECT_NE(dry.output().find("orphan " + orphan_sha), std::string::npos) << dry.output();
  EXPECT_EQ(dry.output().find(kept_sha), std::string::npos) << dry.output();
  EXPECT_TRUE(client_->head_object(prefix_ + orphan_sha));

  auto applied = gc({"--grace-seconds", "0", "--apply"});
  ASSERT_EQ(applied.wait(std::chrono::seconds(30)), 0) << applied.output();
  EXPECT_NE(applied.output().find("deleted " + orphan_sha), std::string::npos) << applied.output();
  EXPECT_EQ(client_->head_object(prefix_ + orphan_sha), std::nullopt);
  EXPECT_TRUE(client_->head_object(prefix_ + kept_sha));
}

}  // namespace
}  // namespace docvault
