// The BlobStore contract, run against both implementations: the filesystem
// store in a temp folder and the S3 store on the local emulator's bucket
// (each test under a prefix of its own). Then what only S3 has: a multipart
// upload that fails midway is aborted, and a presigned URL works for a plain
// HTTP client. The blob sweeper runs over both.
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "aws/endpoint.h"
#include "aws/s3_client.h"
#include "blob/filesystem_blob_store.h"
#include "fake_clock.h"
#include "blob/s3_blob_store.h"
#include "crypto/crypto.h"
#include "domain/uuid.h"
#include "s3_fault_proxy.h"
#include "service/blob_sweeper.h"
#include "service/document_service.h"
#include "store/store.h"
#include "test_env.h"

namespace docvault {
namespace {

using blob::BlobError;
using blob::BlobStat;

constexpr std::size_t kMiB = 1024 * 1024;

enum class Kind { filesystem, s3 };

std::string kind_name(const ::testing::TestParamInfo<Kind>& info) {
  return info.param == Kind::filesystem ? "filesystem" : "s3";
}

// Bytes that do not compress and differ per seed, quickly.
std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::string out(size, '\0');
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    auto word = generator();
    std::memcpy(out.data() + i, &word, 8);
  }
  for (; i < size; ++i) out[i] = static_cast<char>(generator());
  return out;
}

blob::S3BlobStoreOptions under(const std::string& prefix) {
  blob::S3BlobStoreOptions options;
  options.prefix = prefix;
  return options;
}

std::string read_all(blob::BlobStore& store, const std::string& sha, std::uint64_t offset, std::uint64_t length) {
  std::string out;
  store.read(sha, offset, length, [&](std::string_view chunk) {
    out.append(chunk);
    return true;
  });
  return out;
}

// The process environment (scripts/test's emulator variables) with overrides.
aws::Environment environment_with(std::map<std::string, std::string, std::less<>> overrides) {
  return [overrides = std::move(overrides)](std::string_view name) -> std::optional<std::string> {
    if (auto it = overrides.find(name); it != overrides.end()) return it->second;
    return testing::env(std::string(name).c_str());
  };
}

std::shared_ptr<aws::S3Client> s3_client(const std::string& bucket, aws::Environment environment) {
  aws::ServiceClientOptions options;
  options.environment = std::move(environment);
  options.retry = aws::RetryPolicy{.max_attempts = 2,
                                   .base_delay = std::chrono::milliseconds(1),
                                   .max_delay = std::chrono::milliseconds(1)};
  return std::make_shared<aws::S3Client>(aws::S3ClientOptions{.bucket = bucket, .force_path_style = true},
                                         std::move(options));
}

class FixedClock final : public docvault::testing::FakeClock {
 public:
  explicit FixedClock(Timestamp now) { set_now(now); }
};

class BlobStoreContractTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::filesystem) {
      store_ = std::make_unique<blob::FilesystemBlobStore>(dir_.path() / "blobs");
      return;
    }
    DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
    DOCVAULT_REQUIRE_ENV(bucket, "DOCVAULT_S3_BUCKET");
    bucket_ = bucket;
    prefix_ = "contract-" + uuid_v4() + "/";
    client_ = s3_client(bucket_, environment_with({}));
    store_ = std::make_unique<blob::S3BlobStore>(client_, under(prefix_));
  }

  blob::BlobStore& store() { return *store_; }

  testing::TempDir dir_;
  std::string bucket_;
  std::string prefix_;
  std::shared_ptr<aws::S3Client> client_;
  std::unique_ptr<blob::BlobStore> store_;
};

TEST_P(BlobStoreContractTest, RoundTripsEmptyTinyMediumAndMultipartSizes) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, 5 * kMiB, 40 * kMiB}) {
    SCOPED_TRACE(size);
    auto content = random_bytes(size, size + 1);
    auto info = store().put(content);
    EXPECT_EQ(info.sha256, crypto::sha256_hex(content));
    EXPECT_EQ(info.size, size);
    EXPECT_EQ(store().size(info.sha256), size);
    auto back = read_all(store(), info.sha256, 0, size);
    EXPECT_EQ(back.size(), size);
    EXPECT_EQ(crypto::sha256_hex(back), info.sha256);
    // A second put of the same bytes is the same blob.
    EXPECT_EQ(store().put(content).sha256, info.sha256);
  }
}

TEST_P(BlobStoreContractTest, WritersStreamTheSameBlobsAndLeaveNothingWhenDropped) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, 5 * kMiB, 40 * kMiB}) {
    SCOPED_TRACE(size);
    auto content = random_bytes(size, size + 7);
    auto writer = store().writer();
    for (std::size_t at = 0; at < size; at += 100 * 1000) writer->write(std::string_view(content).substr(at, 100 * 1000));
    auto info = writer->commit();
    EXPECT_EQ(info.sha256, crypto::sha256_hex(content));
    EXPECT_EQ(info.size, size);
    auto back = read_all(store(), info.sha256, 0, size);
    EXPECT_EQ(crypto::sha256_hex(back), info.sha256);
  }
  // Written again (small, and larger than a writer buffers): the same blob,
  // and no second copy or temporary file.
  auto again = store().writer();
  again->write(random_bytes(1, 2));
  EXPECT_EQ(again->commit().sha256, crypto::sha256_hex(random_bytes(1, 2)));
  auto large = random_bytes(5 * kMiB, 5 * kMiB + 7);
  auto large_again = store().writer();
  for (std::size_t at = 0; at < large.size(); at += kMiB) large_again->write(std::string_view(large).substr(at, kMiB));
  EXPECT_EQ(large_again->commit().sha256, crypto::sha256_hex(large));
  large_again.reset();
  std::size_t before = 0;
  store().list([&](const BlobStat&) { ++before; });
  {
    auto dropped = store().writer();
    dropped->write("never committed");
  }
  std::size_t after = 0;
  store().list([&](const BlobStat&) { ++after; });
  EXPECT_EQ(after, before);
  EXPECT_EQ(store().size(crypto::sha256_hex("never committed")), std::nullopt);
  if (GetParam() == Kind::filesystem) {
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "blobs" / "tmp")) << "temporary files left behind";
  }
}

TEST_P(BlobStoreContractTest, ReadsRangesAndStopsWhenTheSinkSaysSo) {
  auto content = random_bytes(kMiB + 17, 7);
  auto sha = store().put(content).sha256;
  EXPECT_EQ(read_all(store(), sha, 1000, 5000), content.substr(1000, 5000));
  EXPECT_EQ(read_all(store(), sha, content.size() - 10, 10), content.substr(content.size() - 10));
  EXPECT_EQ(read_all(store(), sha, 0, 1), content.substr(0, 1));
  EXPECT_EQ(read_all(store(), sha, 5, 0), "");

  std::size_t chunks = 0;
  store().read(sha, 0, content.size(), [&](std::string_view) {
    ++chunks;
    return false;
  });
  EXPECT_EQ(chunks, 1u);

  // Past the end is an error, not silence.
  EXPECT_THROW(read_all(store(), sha, content.size() - 10, 20), BlobError);
}

TEST_P(BlobStoreContractTest, AbsentBlobsAreReportedAbsent) {
  auto sha = crypto::sha256_hex("never stored " + uuid_v4());
  EXPECT_EQ(store().size(sha), std::nullopt);
  EXPECT_EQ(store().stat(sha), std::nullopt);
  EXPECT_THROW(read_all(store(), sha, 0, 1), BlobError);
  EXPECT_NO_THROW(store().remove(sha));
  EXPECT_THROW(store().size("../etc/passwd"), BlobError);
}

TEST_P(BlobStoreContractTest, ListsStatsAndRemoves) {
  auto a = store().put("blob a");
  auto b = store().put("blob bb");
  std::map<std::string, std::uint64_t> listed;
  store().list([&](const BlobStat& blob) { listed[blob.sha256] = blob.size; });
  EXPECT_EQ(listed, (std::map<std::string, std::uint64_t>{{a.sha256, 6}, {b.sha256, 7}}));

  auto stat = store().stat(a.sha256);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->size, 6u);
  EXPECT_LE(stat->modified, std::chrono::system_clock::now() + std::chrono::seconds(5));
  EXPECT_GE(stat->modified, std::chrono::system_clock::now() - std::chrono::minutes(5));

  store().remove(a.sha256);
  EXPECT_EQ(store().stat(a.sha256), std::nullopt);
  listed.clear();
  store().list([&](const BlobStat& blob) { listed[blob.sha256] = blob.size; });
  EXPECT_EQ(listed, (std::map<std::string, std::uint64_t>{{b.sha256, 7}}));
}

TEST_P(BlobStoreContractTest, PutOfAnExistingBlobRefreshesItsModificationTime) {
  auto sha = store().put("refresh me").sha256;
  auto first = store().stat(sha)->modified;
  // S3's Last-Modified has one-second resolution: put again until the time
  // shows a later second (a condition, not a fixed sleep).
  EXPECT_TRUE(docvault::testing::wait_until(
      [&] {
        store().put("refresh me");
        return store().stat(sha)->modified > first;
      },
      std::chrono::seconds(10)));
}

TEST_P(BlobStoreContractTest, DownloadUrlServesTheBytesToAPlainClient) {
  auto content = random_bytes(300 * 1024, 3);
  auto sha = store().put(content).sha256;
  auto url = store().download_url(sha, {std::chrono::seconds(60), "application/pdf", "attachment; filename=\"a.pdf\""});
  if (GetParam() == Kind::filesystem) {
    EXPECT_EQ(url, std::nullopt);
    return;
  }
  ASSERT_TRUE(url);
  auto parts = aws::parse_url(*url);
  ASSERT_TRUE(parts);
  EXPECT_NE(parts->path.find("X-Amz-Signature="), std::string::npos);
  EXPECT_NE(parts->path.find("X-Amz-Expires=60"), std::string::npos);
  httplib::Client plain(parts->scheme + "://" + parts->authority);
  auto res = plain.Get(parts->path.c_str());
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, content);
}

TEST_P(BlobStoreContractTest, SweeperDeletesOnlyOldBlobsNoDocumentReferences) {
  auto db = store::open_store({"", dir_.path() / "docvault.sqlite3", 2});
  db->migrate();
  FixedClock now(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  service::DocumentService documents(*db, store(), now);
  auto kept = documents.create({"issuer-1", "issuer", std::nullopt, "kept.txt", "text/plain"}, "referenced bytes",
                               Actor::anonymous());
  ASSERT_TRUE(kept);
  auto orphan = store().put("orphaned bytes").sha256;

  // Within the grace period: nothing is an orphan yet.
  service::BlobSweeper fresh(*db, store(), now);
  auto report = fresh.sweep({std::chrono::hours(1), true, {}});
  EXPECT_EQ(report.scanned, 2u);
  EXPECT_EQ(report.recent, 2u);
  EXPECT_EQ(report.deleted, 0u);

  // Two hours on: a dry run names the orphan and deletes nothing.
  FixedClock later(now.now() + std::chrono::hours(2));
  service::BlobSweeper sweeper(*db, store(), later);
  std::vector<std::string> named;
  report = sweeper.sweep({std::chrono::hours(1), false, [&](const BlobStat& blob, bool deleted) {
                            named.push_back(blob.sha256);
                            EXPECT_FALSE(deleted);
                          }});
  EXPECT_EQ(named, std::vector<std::string>{orphan});
  EXPECT_EQ(report.referenced, 1u);
  EXPECT_EQ(report.orphans, 1u);
  EXPECT_EQ(report.deleted, 0u);
  EXPECT_TRUE(store().stat(orphan));

  report = sweeper.sweep({std::chrono::hours(1), true, {}});
  EXPECT_EQ(report.deleted, 1u);
  EXPECT_EQ(store().stat(orphan), std::nullopt);
  EXPECT_TRUE(store().stat(kept->sha256));
  // An archived document still owns its content.
  ASSERT_TRUE(documents.archive(DocumentId::parse(kept->id).value(), Actor::anonymous()));
  EXPECT_EQ(sweeper.sweep({std::chrono::hours(1), true, {}}).deleted, 0u);
  EXPECT_TRUE(store().stat(kept->sha256));
}

INSTANTIATE_TEST_SUITE_P(Stores, BlobStoreContractTest, ::testing::Values(Kind::filesystem, Kind::s3), kind_name);

// Only the S3 store has multipart uploads to abandon.
TEST(S3BlobStore, AFailedMultipartUploadIsAbortedAndLeavesNothing) {
  DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
  DOCVAULT_REQUIRE_ENV(bucket, "DOCVAULT_S3_BUCKET");
  auto upstream = aws::parse_url(endpoint);
  ASSERT_TRUE(upstream);
  testing::S3FaultProxy proxy(upstream->host, std::stoi(upstream->authority.substr(upstream->authority.rfind(':') + 1)));
  // The second part fails every time; everything else goes through.
  proxy.fail_when([](const httplib::Request& req) {
    return req.method == "PUT" && req.has_param("uploadId") && req.get_param_value("partNumber") == "2";
  });
  auto through_proxy = s3_client(bucket, environment_with({{"AWS_ENDPOINT_URL_S3", proxy.url()}}));
  std::string prefix = "abort-" + uuid_v4() + "/";
  blob::S3BlobStore store(through_proxy, under(prefix));
  auto content = random_bytes(20 * kMiB, 20);
  EXPECT_THROW(store.put(content), BlobError);

  std::string upload_id;
  bool aborted = false;
  for (const auto& call : proxy.calls()) {
    if (call.method == "POST" && call.has("uploads")) {
      EXPECT_EQ(call.status, 200);
    }
    if (call.method == "DELETE" && call.has("uploadId")) {
      upload_id = call.params.find("uploadId")->second;
      aborted = call.status == 204;
    }
  }
  EXPECT_TRUE(aborted) << "no successful AbortMultipartUpload";
  ASSERT_FALSE(upload_id.empty());
  // The upload is gone at the emulator: no part can be added to it, and no object exists.
  auto direct = s3_client(bucket, environment_with({}));
  auto key = prefix + crypto::sha256_hex(content);
  try {
    direct->upload_part(key, upload_id, 3, "x", crypto::sha256_hex("x"));
    ADD_FAILURE() << "the upload still exists";
  } catch (const aws::AwsError& error) {
    EXPECT_EQ(error.code(), "NoSuchUpload") << error.what();
  }
  EXPECT_EQ(direct->head_object(key), std::nullopt);
}

}  // namespace
}  // namespace docvault
