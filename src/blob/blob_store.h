// Content storage, addressed by SHA-256.
//
// A blob is named by the lowercase hex SHA-256 of its bytes, never by anything
// a user supplied, so identical uploads share one blob and a name cannot be
// used to reach outside the store. put() is idempotent. Content is written
// before the document row that points at it commits; a blob whose transaction
// failed is left for a sweeper, because another document may share it.
//
// Thread-safety: implementations may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
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

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Stores `content` durably and returns its address.
  virtual BlobInfo put(std::string_view content) = 0;
  // The size of a stored blob, or nothing when it is absent.
  virtual std::optional<std::uint64_t> size(std::string_view sha256) = 0;
  // Streams `length` bytes from `offset` to `sink` in chunks; the sink returns
  // false to stop early. Throws BlobError when the blob is absent or short.
  virtual void read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
                    const std::function<bool(std::string_view chunk)>& sink) = 0;
};

// True when `text` is 64 lowercase hex characters.
bool is_sha256_hex(std::string_view text);

}  // namespace docvault::blob
