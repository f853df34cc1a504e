// BlobStore on a local filesystem: <root>/<aa>/<sha256>.
//
// A put writes to a unique temporary file in <root>/tmp, fsyncs it, renames it
// into place and fsyncs the directory, so a blob is either whole or absent,
// even after a crash; a put of a blob that exists only touches its mtime. The
// path is built only from the SHA-256 the store computed itself.
#pragma once

#include <filesystem>

#include "blob/blob_store.h"

namespace docvault::blob {

class FilesystemBlobStore final : public BlobStore {
 public:
  explicit FilesystemBlobStore(std::filesystem::path root);

  BlobInfo put(std::string_view content) override;
  // Streams to a temporary file in <root>/tmp, hashing on the way; commit()
  // fsyncs and renames it into place (or drops it when the blob exists).
  std::unique_ptr<BlobWriter> writer() override;
  std::optional<std::uint64_t> size(std::string_view sha256) override;
  void read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
            const std::function<bool(std::string_view chunk)>& sink) override;
  std::optional<BlobStat> stat(std::string_view sha256) override;
  void list(const std::function<void(const BlobStat&)>& visit) override;
  void remove(std::string_view sha256) override;
  // Always nothing: these blobs are served by docvault only.
  std::optional<std::string> download_url(std::string_view sha256, const DownloadUrlOptions& options) override;

  std::filesystem::path path_of(std::string_view sha256) const;

 private:
  friend class FilesystemBlobWriter;
  std::filesystem::path root_;
};

}  // namespace docvault::blob
