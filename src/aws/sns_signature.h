// Verification of SNS message signatures, so the consumer can trust that a
// message came from Amazon SNS and from an allowed topic, not from whoever can
// send to the queue.
//
// An SNS envelope ({"Type": "Notification", "Message": ..., "Signature": ...})
// is verified as AWS documents it: the string to sign is, for a Notification,
// "Message", "MessageId", "Subject" (only when present), "Timestamp",
// "TopicArn" and "Type", each name then its value, each on its own line ending
// in "\n"; SignatureVersion "1" is SHA1withRSA and "2" SHA256withRSA over it,
// with the public key of the certificate at SigningCertURL. That URL must be
// https://sns.<region>.amazonaws.com[.cn]/...pem (no user, no port, no query),
// so a forged message cannot point at its own certificate. Certificates are
// fetched through a CertificateFetcher (production: the aws HttpTransport,
// libcurl with TLS verification) and cached by URL. TopicArn must be one of
// the allowed topics. Only Notification messages are accepted; a raw delivery
// (no envelope) carries no signature and is refused.
//
// Thread-safety: verify() from any thread (the cache is guarded).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/http_transport.h"
#include "runtime/mutex.h"

namespace docvault::aws {

// Fetches a signing certificate (PEM) by URL. Throws (AwsError or another
// std::exception) when it cannot: the message is then not judged, but retried.
class CertificateFetcher {
 public:
  virtual ~CertificateFetcher() = default;
  virtual std::string fetch(const std::string& url) = 0;
};

// GETs the certificate through a transport (CurlTransport verifies TLS).
class TransportCertificateFetcher final : public CertificateFetcher {
 public:
  explicit TransportCertificateFetcher(std::shared_ptr<HttpTransport> transport);
  std::string fetch(const std::string& url) override;

 private:
  std::shared_ptr<HttpTransport> transport_;
};

struct SnsSignatureOptions {
  std::vector<std::string> allowed_topic_arns;
  std::size_t max_cached_certificates = 16;
};

class SnsSignatureVerifier {
 public:
  SnsSignatureVerifier(std::shared_ptr<CertificateFetcher> fetcher, SnsSignatureOptions options);
  ~SnsSignatureVerifier();
  SnsSignatureVerifier(const SnsSignatureVerifier&) = delete;
  SnsSignatureVerifier& operator=(const SnsSignatureVerifier&) = delete;

  // Nothing when `body` is a correctly signed Notification from an allowed
  // topic; otherwise why it is not. Throws when the certificate could not be
  // fetched (not the message's fault).
  std::optional<std::string> verify(std::string_view body) const;

  // Whether `url` may be fetched as a signing certificate.
  static bool is_signing_certificate_url(std::string_view url);

 private:
  struct PublicKey;
  std::shared_ptr<PublicKey> certificate_key(const std::string& url) const;

  std::shared_ptr<CertificateFetcher> fetcher_;
  SnsSignatureOptions options_;
  mutable runtime::Mutex cache_mutex_;
  mutable std::map<std::string, std::shared_ptr<PublicKey>> cache_ GUARDED_BY(cache_mutex_);
};

// The string to sign of a Notification envelope (a JSON object's text), or
// nothing when a required field is missing or not a string.
std::optional<std::string> sns_string_to_sign(std::string_view envelope_json);

}  // namespace docvault::aws
