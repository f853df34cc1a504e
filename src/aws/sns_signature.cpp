#include "aws/sns_signature.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "aws/error.h"

namespace docvault::aws {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxCertificateBytes = 64 * 1024;

std::optional<std::string> string_field(const json& envelope, const char* name) {
  auto it = envelope.find(name);
  if (it == envelope.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<std::string> string_to_sign(const json& envelope) {
  std::string out;
  auto add = [&](const char* name, bool required) {
    auto value = string_field(envelope, name);
    if (!value) return !required;
    out.append(name).append("\n").append(*value).append("\n");
    return true;
  };
  bool complete = add("Message", true) && add("MessageId", true) && add("Subject", false) &&
                  add("Timestamp", true) && add("TopicArn", true) && add("Type", true);
  if (!complete) return std::nullopt;
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

bool is_region(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

struct SnsSignatureVerifier::PublicKey {
  EVP_PKEY* key = nullptr;
  ~PublicKey() { EVP_PKEY_free(key); }
};

TransportCertificateFetcher::TransportCertificateFetcher(std::shared_ptr<HttpTransport> transport)
    : transport_(std::move(transport)) {}

std::string TransportCertificateFetcher::fetch(const std::string& url) {
  HttpRequest request;
  request.method = "GET";
  request.url = url;
  request.timeout = std::chrono::seconds(10);
  auto response = transport_->send(request);
  if (response.status != 200) {
    throw AwsError(static_cast<int>(response.status), "CertificateFetchFailed",
                   "the SNS signing certificate could not be fetched");
  }
  return std::move(response.body);
}

SnsSignatureVerifier::SnsSignatureVerifier(std::shared_ptr<CertificateFetcher> fetcher, SnsSignatureOptions options)
    : fetcher_(std::move(fetcher)), options_(std::move(options)) {}

SnsSignatureVerifier::~SnsSignatureVerifier() = default;

bool SnsSignatureVerifier::is_signing_certificate_url(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) return false;
  auto rest = url.substr(kScheme.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return false;
  auto host = rest.substr(0, slash);
  auto path = rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos || !path.ends_with(".pem")) return false;
  constexpr std::string_view kPrefix = "sns.";
  std::string_view region;
  for (std::string_view suffix : {std::string_view(".amazonaws.com"), std::string_view(".amazonaws.com.cn")}) {
    if (host.starts_with(kPrefix) && host.ends_with(suffix) && host.size() > kPrefix.size() + suffix.size()) {
      region = host.substr(kPrefix.size(), host.size() - kPrefix.size() - suffix.size());
      if (is_region(region)) return true;
    }
  }
  return false;
}

std::shared_ptr<SnsSignatureVerifier::PublicKey> SnsSignatureVerifier::certificate_key(const std::string& url) const {
  {
    runtime::MutexLock lock(cache_mutex_);
    if (auto it = cache_.find(url); it != cache_.end()) return it->second;
  }
  auto pem = fetcher_->fetch(url);  // throws: retried later, not cached
  if (pem.size() > kMaxCertificateBytes) return nullptr;
  std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> certificate(
      in ? PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  if (!certificate) return nullptr;
  // An expired (or not yet valid) certificate signs nothing.
  if (X509_cmp_current_time(X509_get0_notAfter(certificate.get())) <= 0 ||
      X509_cmp_current_time(X509_get0_notBefore(certificate.get())) >= 0) {
    return nullptr;
  }
  auto key = std::make_shared<PublicKey>();
  key->key = X509_get_pubkey(certificate.get());
  if (!key->key || !EVP_PKEY_is_a(key->key, "RSA")) return nullptr;
  runtime::MutexLock lock(cache_mutex_);
  if (cache_.size() >= options_.max_cached_certificates) cache_.clear();
  cache_[url] = key;
  return key;
}

std::optional<std::string> SnsSignatureVerifier::verify(std::string_view body) const {
  auto envelope = json::parse(body, nullptr, false);
  if (!envelope.is_object() || !envelope.contains("Type") || !envelope.contains("Signature")) {
    return "not a signed SNS envelope (raw message delivery cannot be verified)";
  }
  if (string_field(envelope, "Type") != "Notification") return "only Notification messages are accepted";
  auto topic = string_field(envelope, "TopicArn");
  if (!topic || std::find(options_.allowed_topic_arns.begin(), options_.allowed_topic_arns.end(), *topic) ==
                    options_.allowed_topic_arns.end()) {
    return "TopicArn is not an allowed topic";
  }
  auto version = string_field(envelope, "SignatureVersion");
  const EVP_MD* digest = version == "1" ? EVP_sha1() : version == "2" ? EVP_sha256() : nullptr;
  if (digest == nullptr) return "SignatureVersion must be 1 or 2";
  auto url = string_field(envelope, "SigningCertURL");
  if (!url || !is_signing_certificate_url(*url)) {
    return "SigningCertURL is not an https URL on sns.<region>.amazonaws.com";
  }
  auto text = string_to_sign(envelope);
  if (!text) return "a signed field is missing or not a string";
  auto signature = base64_decode(string_field(envelope, "Signature").value_or(""));
  if (!signature || signature->empty()) return "Signature is not base64";

  auto key = certificate_key(*url);
  if (!key) return "the signing certificate is not a valid RSA certificate";
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  bool valid = context && EVP_DigestVerifyInit(context.get(), nullptr, digest, nullptr, key->key) == 1 &&
               EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                                signature->size(), reinterpret_cast<const unsigned char*>(text->data()),
                                text->size()) == 1;
  if (!valid) return "the signature does not verify";
  return std::nullopt;
}

std::optional<std::string> sns_string_to_sign(std::string_view envelope_json) {
  auto envelope = json::parse(envelope_json, nullptr, false);
  if (!envelope.is_object()) return std::nullopt;
  return string_to_sign(envelope);
}

}  // namespace docvault::aws
