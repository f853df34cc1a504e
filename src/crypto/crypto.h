// Hashes, MACs and random bytes over OpenSSL 3, for every layer that needs them:
// content addressing (SHA-256), SigV4 (SHA-256, HMAC-SHA-256), SQS body checks
// (MD5), name-based UUIDs (SHA-1) and UUIDv4 (CSPRNG); and the hex and base64url
// encodings.
//
// A leaf: depends on nothing in docvault. All functions are thread-safe.
// Failures inside OpenSSL (which do not happen with valid arguments) throw
// std::runtime_error.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace docvault::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(std::string_view data);
std::array<std::uint8_t, 20> sha1(std::string_view data);
std::array<std::uint8_t, 16> md5(std::string_view data);
Sha256Digest hmac_sha256(std::span<const std::uint8_t> key, std::string_view data);
Sha256Digest hmac_sha256(std::string_view key, std::string_view data);

// Lowercase hexadecimal.
std::string hex(std::span<const std::uint8_t> bytes);

// RFC 4648 base64url without padding (JWTs, listing cursors); decoding
// accepts padding and gives nothing on an invalid character or length.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);
std::string sha256_hex(std::string_view data);
std::string md5_hex(std::string_view data);

// Bytes from the operating system's CSPRNG (OpenSSL RAND_bytes).
void random_bytes(std::span<std::uint8_t> out);

// SHA-256 over data that arrives in pieces (an upload streamed to disk).
// Not thread-safe: one owner at a time.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(Sha256Stream&&) noexcept;
  Sha256Stream& operator=(Sha256Stream&&) noexcept;
  void update(std::string_view data);
  Sha256Digest finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace docvault::crypto
