// Content storage, addressed by SHA-256.
//
// A blob is named by the lowercase hex SHA-256 of its bytes, never by anything
// a user supplied, so identical uploads share one blob and a name cannot be
// used to reach outside the store. put() is idempotent, and putting a blob
// that exists refreshes its modification time: the sweeper (service/
// blob_sweeper.h) only removes unreferenced blobs older than a grace period,
// so content an upload has just written, or re-written, is never swept before
// its document row commits. Content is written before that row; a blob whose
// transaction failed is left for the sweeper, because another document may
// share it.
//
// Thread-safety: implementations may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace docvault::blob {

class BlobError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct BlobInfo {
  std::string sha256;
  std::uint64_t size = 0;
};

// A stored blob as a listing sees it.
struct BlobStat {
  std::string sha256;
  std::uint64_t size = 0;
  std::chrono::system_clock::time_point modified;
};

// What a direct download URL should make the response say.
struct DownloadUrlOptions {
  std::chrono::seconds expires{300};
  std::string content_type;
  std::string content_disposition;
};

// Content taken as it arrives (a streamed upload), so it is never held whole.
// SHA-256 and size are computed on the way; commit() stores the content
// durably under its address, as put() would, and returns it. A writer
// destroyed without commit() leaves nothing behind (no blob, no temporary
// file). Not thread-safe: one owner at a time.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual void write(std::string_view bytes) = 0;
  virtual BlobInfo commit() = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Stores `content` durably and returns its address.
  virtual BlobInfo put(std::string_view content) = 0;
  // A writer for content that arrives in pieces. This default gathers the
  // pieces in memory and put()s them on commit (test doubles); the real
  // stores stream to a temporary file.
  virtual std::unique_ptr<BlobWriter> writer();
  // The size of a stored blob, or nothing when it is absent.
  virtual std::optional<std::uint64_t> size(std::string_view sha256) = 0;
  // Streams `length` bytes from `offset` to `sink` in chunks; the sink returns
  // false to stop early. Throws BlobError when the blob is absent or short.
  virtual void read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
                    const std::function<bool(std::string_view chunk)>& sink) = 0;

  // Size and modification time, or nothing when the blob is absent.
  virtual std::optional<BlobStat> stat(std::string_view sha256) = 0;
  // Every stored blob, once each, in no particular order. Anything in the
  // store that is not named by a SHA-256 is not listed (and so never swept).
  virtual void list(const std::function<void(const BlobStat&)>& visit) = 0;
  // Deletes a blob; deleting an absent blob is not an error.
  virtual void remove(std::string_view sha256) = 0;
  // A URL from which a client may fetch the blob itself, without docvault,
  // for `options.expires`; nothing when this store has no such URLs.
  virtual std::optional<std::string> download_url(std::string_view sha256, const DownloadUrlOptions& options) = 0;
};

// True when `text` is 64 lowercase hex characters.
bool is_sha256_hex(std::string_view text);

inline std::unique_ptr<BlobWriter> BlobStore::writer() {
  class Gathering final : public BlobWriter {
   public:
    explicit Gathering(BlobStore& store) : store_(store) {}
    void write(std::string_view bytes) override { content_.append(bytes); }
    BlobInfo commit() override { return store_.put(content_); }

   private:
    BlobStore& store_;
    std::string content_;
  };
  return std::make_unique<Gathering>(*this);
}

}  // namespace docvault::blob
