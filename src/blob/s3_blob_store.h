// BlobStore on Amazon S3: one object per blob, key <prefix><sha256>.
//
// put() sends the content with its SHA-256 signed as the payload hash (S3
// refuses a body that does not match it). Above `multipart_threshold` it
// uses a multipart upload of `part_size` parts, sent one at a time straight
// from the caller's buffer (no copy, so memory stays bounded whatever the
// size); if any step fails the upload is aborted, so no parts are left behind
// and billed, and put() throws. (A process killed mid-upload cannot abort: a
// bucket lifecycle rule AbortIncompleteMultipartUpload covers that.)
// read() streams a ranged GetObject to the sink; download_url() presigns a GET
// that carries the document's type and file name (a blob is shared, so the
// object itself has neither). Objects under the prefix not named by a SHA-256
// are ignored by list() and so never swept.
//
// Every S3 failure surfaces as BlobError naming the call, with S3's code.
// Thread-safety: any number of threads may call one S3BlobStore at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "aws/s3_client.h"
#include "blob/blob_store.h"

namespace docvault::blob {

struct S3BlobStoreOptions {
  std::string prefix;  // "blobs/": keys are "blobs/<sha256>"
  aws::S3Encryption encryption;
  std::size_t multipart_threshold = 16ull * 1024 * 1024;  // larger contents go in parts
  std::size_t part_size = 8ull * 1024 * 1024;              // S3's minimum is 5 MiB (but the last)
};

class S3BlobStore final : public BlobStore {
 public:
  S3BlobStore(std::shared_ptr<const aws::S3Client> client, S3BlobStoreOptions options);

  BlobInfo put(std::string_view content) override;
  std::optional<std::uint64_t> size(std::string_view sha256) override;
  void read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
            const std::function<bool(std::string_view chunk)>& sink) override;
  std::optional<BlobStat> stat(std::string_view sha256) override;
  void list(const std::function<void(const BlobStat&)>& visit) override;
  void remove(std::string_view sha256) override;
  std::optional<std::string> download_url(std::string_view sha256, const DownloadUrlOptions& options) override;

  std::string key_of(std::string_view sha256) const;

 private:
  void put_multipart(const std::string& key, std::string_view content);

  std::shared_ptr<const aws::S3Client> client_;
  S3BlobStoreOptions options_;
};

}  // namespace docvault::blob
