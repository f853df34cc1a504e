// Amazon S3 over its REST protocol: the calls docvault's blob store needs, on
// one bucket.
//
// Every request is signed with SigV4 for "s3" (path signed as sent, payload
// hash in x-amz-content-sha256: the real SHA-256 of every body we send, so S3
// rejects a body damaged on the way) and retried as service_client.h says.
// Addressing: virtual-hosted (https://<bucket>.s3.<region>.amazonaws.com/<key>)
// by default; path-style (<endpoint>/<bucket>/<key>) when asked for, which
// emulators need, and always for bucket names with dots (a dotted host would
// not match S3's TLS certificate). The endpoint comes from AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL or the region (endpoint.h).
//
// Downloads stream: get_object hands the body to a sink chunk by chunk, and if
// the connection drops after some bytes went out it resumes with a Range from
// the first byte not delivered, so a caller never sees a byte twice.
// Keys are passed as they are stored; the client URI-encodes them.
//
// A failed call throws AwsError with S3's Code, Message and RequestId (for a
// bodiless answer such as HEAD's, a code derived from the status: NotFound,
// Forbidden, ...). RequestCancelled when the stop token fires.
//
// Thread-safety: immutable after construction; any number of threads may call
// one S3Client at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "aws/endpoint.h"
#include "aws/service_client.h"

namespace docvault::aws {

struct S3ClientOptions {
  std::string bucket;
  bool force_path_style = false;
  // One request, connect to last byte: a large part or a download to a slow
  // HTTP client takes a while.
  std::chrono::milliseconds transfer_timeout = std::chrono::minutes(15);
};

// Server-side encryption asked for on writes; empty algorithm: the bucket's default.
struct S3Encryption {
  std::string algorithm;   // "", "AES256" or "aws:kms"
  std::string kms_key_id;  // with aws:kms; empty: the AWS managed key
};

struct S3PutOptions {
  std::string content_type = "application/octet-stream";
  S3Encryption encryption;
};

struct S3ObjectInfo {
  std::uint64_t size = 0;
  std::string etag;
  std::chrono::system_clock::time_point last_modified;
};

struct S3ListedObject {
  std::string key;
  std::uint64_t size = 0;
  std::chrono::system_clock::time_point last_modified;
};

struct S3ListPage {
  std::vector<S3ListedObject> objects;
  std::string next_continuation_token;  // empty on the last page
};

struct S3CompletedPart {
  int part_number = 0;
  std::string etag;
};

// Response overrides a presigned GET may carry (S3's response-* parameters).
struct S3PresignOptions {
  std::string response_content_type;
  std::string response_content_disposition;
};

class S3Client {
 public:
  // Throws AwsError("InvalidConfiguration") when no region or endpoint can be
  // resolved, std::invalid_argument without a bucket.
  explicit S3Client(S3ClientOptions options, ServiceClientOptions client = {});

  // `sha256_hex` is the body's SHA-256, signed as its payload hash.
  void put_object(std::string_view key, std::string_view body, std::string_view sha256_hex,
                  const S3PutOptions& options = {}, std::stop_token stop = {}) const;

  // Returns the upload id.
  std::string create_multipart_upload(std::string_view key, const S3PutOptions& options = {},
                                      std::stop_token stop = {}) const;
  // Returns the part's ETag. `body` is sent without a copy.
  std::string upload_part(std::string_view key, std::string_view upload_id, int part_number,
                          std::string_view body, std::string_view sha256_hex, std::stop_token stop = {}) const;
  void complete_multipart_upload(std::string_view key, std::string_view upload_id,
                                 std::span<const S3CompletedPart> parts, std::stop_token stop = {}) const;
  void abort_multipart_upload(std::string_view key, std::string_view upload_id, std::stop_token stop = {}) const;

  // Nothing when the object does not exist.
  std::optional<S3ObjectInfo> head_object(std::string_view key, std::stop_token stop = {}) const;

  // Streams bytes [offset, offset + length) (to the end when length is
  // nothing) to `sink`; returns how many were delivered. The sink may return
  // false to stop early.
  std::uint64_t get_object(std::string_view key, std::uint64_t offset, std::optional<std::uint64_t> length,
                           const BodySink& sink, std::stop_token stop = {}) const;

  // Succeeds when the object is absent too, as S3 does.
  void delete_object(std::string_view key, std::stop_token stop = {}) const;

  // One page (at most max_keys, up to 1000) of the keys under `prefix`, in key order.
  S3ListPage list_objects_v2(std::string_view prefix, std::string_view continuation_token = {},
                             int max_keys = 1000, std::stop_token stop = {}) const;

  // A GET URL for the object that anyone holding it may use for `expires`.
  std::string presign_get_object(std::string_view key, std::chrono::seconds expires,
                                 const S3PresignOptions& options = {}) const;

  const std::string& bucket() const { return options_.bucket; }

 private:
  ServiceRequest request_for(std::string_view method, std::string_view key, std::string query = {}) const;

  S3ClientOptions options_;
  Endpoint endpoint_;        // where requests go (the bucket's host when virtual-hosted)
  std::string path_prefix_;  // "/<bucket>" when path-style, else ""
  ServiceClient client_;
};

// The AwsError an S3 error response stands for. Exposed for tests.
AwsError parse_s3_error(const HttpResponse& response);

}  // namespace docvault::aws
