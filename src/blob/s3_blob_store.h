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
#include <functional>
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
  // Spools to an anonymous temporary file (O_TMPFILE: gone when closed,
  // whatever happens), hashing on the way; commit() uploads it under its
  // address, in parts read back one at a time above `multipart_threshold`,
  // so memory stays at one part whatever the size.
  std::unique_ptr<BlobWriter> writer() override;
  std::optional<std::uint64_t> size(std::string_view sha256) override;
  void read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
            const std::function<bool(std::string_view chunk)>& sink) override;
  std::optional<BlobStat> stat(std::string_view sha256) override;
  void list(const std::function<void(const BlobStat&)>& visit) override;
  void remove(std::string_view sha256) override;
  std::optional<std::string> download_url(std::string_view sha256, const DownloadUrlOptions& options) override;

  std::string key_of(std::string_view sha256) const;

 private:
  friend class S3BlobWriter;
  // Fills `buffer` with `length` bytes of the content from `offset`.
  using PartReader = std::function<void(std::uint64_t offset, std::size_t length, std::string& buffer)>;
  void put_multipart(const std::string& key, std::uint64_t size, const PartReader& read_part);

  std::shared_ptr<const aws::S3Client> client_;
  S3BlobStoreOptions options_;
};

}  // namespace docvault::blob
