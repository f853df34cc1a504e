// AWS Signature Version 4: the signature every AWS request carries.
//
// The signer turns a request (method, raw target, headers, payload) into the
// canonical request, the string to sign and the signature, following the
// published algorithm and checked byte for byte against the official test
// suite (tests/data/aws-sigv4-test-suite):
//   - path: dot segments removed and duplicate slashes collapsed when
//     `normalize_path` is on (every service but S3); each segment URI-encoded
//     with only RFC 3986 unreserved characters kept; with `double_encode_path`
//     (every service but S3) the target is taken as already encoded once and
//     encoded again, '%' included, as AWS expects;
//   - query: parameters decoded, re-encoded, sorted by key then value;
//   - headers: names lowercased, values trimmed with whitespace runs (line
//     folds included) collapsed to one space, repeated headers joined with ','
//     in their order, sorted by name. Hop-by-hop and tracing headers that
//     proxies rewrite (connection, expect, user-agent, x-amzn-trace-id) are not
//     signed; the headers the signer owns (authorization, x-amz-date,
//     x-amz-security-token, x-amz-content-sha256) are ignored if the caller
//     passed them, and produced by the signer.
//
// Two ways to carry the signature: `sign()` returns headers to add
// (Authorization, X-Amz-Date, X-Amz-Security-Token, x-amz-content-sha256);
// `presign()` returns a query string to append to the target (a presigned URL).
//
// A Signer is immutable after construction and safe to use from many threads.
// Deriving the signing key costs four HMACs; the signer caches derived keys by
// (secret, date, region, service) in a SigningKeyCache, which is thread-safe and
// may be shared between signers. The cache holds derived keys, never prints
// them, and forgets them when it grows past a small bound.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aws/credentials.h"
#include "crypto/crypto.h"
#include "runtime/mutex.h"

namespace docvault::aws {

struct Header {
  std::string name;
  std::string value;
};

// Multi-valued and order-preserving, as on the wire.
using Headers = std::vector<Header>;

// Payload hash for bodies that are not signed (S3 presigned URLs, streaming).
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct SigningOptions {
  bool normalize_path = true;
  bool double_encode_path = true;
  // Add and sign x-amz-content-sha256 (S3 requires it) in sign().
  bool add_content_sha256_header = false;
  // Leave the session token out of the signature and add it afterwards (the
  // STS/IoT presigning variant); the token is still sent.
  bool omit_session_token = false;
  // Lifetime of a presigned request, 1 s to 7 days.
  std::chrono::seconds expires = std::chrono::hours(1);

  // S3 signs the path as sent and wants the content hash header; every other
  // service normalizes and double-encodes.
  static SigningOptions for_service(std::string_view service);
};

// A request to sign. Views: the caller keeps the data alive during the call.
struct RequestToSign {
  std::string_view method;
  std::string_view target;          // path and query as in the request line: "/a/b?x=1"
  std::span<const Header> headers;  // must include Host
  std::string_view body;
  // When not empty, used instead of hashing `body`: a precomputed lowercase
  // hex SHA-256 or kUnsignedPayload.
  std::string_view payload_hash;
};

struct SigningResult {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lowercase hex
  // sign(): the headers to add to the request, in this order.
  Headers headers_to_add;
  // presign(): "X-Amz-Algorithm=...&...&X-Amz-Signature=...", to append to the
  // target after '?' (or '&' when it already has a query).
  std::string query_to_append;
};

// Derived signing keys by (secret, date, region, service). Thread-safe.
class SigningKeyCache {
 public:
  explicit SigningKeyCache(std::size_t max_entries = 64);
  crypto::Sha256Digest get(std::string_view secret, std::string_view date, std::string_view region,
                           std::string_view service);
  std::size_t size() const;

 private:
  std::size_t max_entries_;
  mutable runtime::SharedMutex mutex_;
  std::unordered_map<std::string, crypto::Sha256Digest> keys_ GUARDED_BY(mutex_);
};

// kSecret = "AWS4" + secret; HMAC chained over date, region, service, "aws4_request".
crypto::Sha256Digest derive_signing_key(std::string_view secret, std::string_view date,
                                        std::string_view region, std::string_view service);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept,
// everything else %XX with uppercase hex; '/' kept only when `keep_slash`.
std::string uri_encode(std::string_view text, bool keep_slash = false);
// The same ('/' escaped too), appended to `out`.
void append_uri_encoded(std::string& out, std::string_view text);

class Signer {
 public:
  // `cache` may be shared between signers; nullptr derives the key every time.
  Signer(std::string region, std::string service, SigningOptions options,
         std::shared_ptr<SigningKeyCache> cache = std::make_shared<SigningKeyCache>());
  Signer(std::string region, std::string service)
      : Signer(region, service, SigningOptions::for_service(service)) {}

  // Signs with the Authorization header. Throws std::invalid_argument when the
  // request has no Host header.
  SigningResult sign(const RequestToSign& request, const Credentials& credentials,
                     std::chrono::system_clock::time_point time) const;

  // Presigns with query parameters. Throws std::invalid_argument when the
  // request has no Host header or options.expires is out of range.
  SigningResult presign(const RequestToSign& request, const Credentials& credentials,
                        std::chrono::system_clock::time_point time) const;

  const std::string& region() const { return region_; }
  const std::string& service() const { return service_; }
  const SigningOptions& options() const { return options_; }

 private:
  SigningResult sign_impl(const RequestToSign& request, const Credentials& credentials,
                          std::chrono::system_clock::time_point time, bool presign) const;

  std::string region_;
  std::string service_;
  SigningOptions options_;
  std::shared_ptr<SigningKeyCache> cache_;
};

}  // namespace docvault::aws
