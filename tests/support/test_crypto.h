// Keys, certificates and tokens made in the test with OpenSSL, independently
// of the code under test: RSA and EC P-256 key pairs, self-signed
// certificates, JWKs, JWTs signed HS256/RS256/ES256 (ES256 as JOSE's raw
// r||s, not DER), unsigned "alg: none" tokens, and SNS envelopes signed as
// Amazon SNS signs them.
//
// Header-only; suites that include it link OpenSSL::Crypto and nlohmann-json
// (docvault_crypto comes with the test support library).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"

namespace docvault::testing {

inline std::string b64url(std::string_view bytes) { return crypto::base64url_encode(bytes); }

inline std::string b64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline Pkey generate_rsa(unsigned bits = 2048) { return Pkey(EVP_RSA_gen(bits)); }
inline Pkey generate_ec() { return Pkey(EVP_EC_gen("P-256")); }

inline std::string public_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(out.get(), key);
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

inline std::string bignum_param(EVP_PKEY* key, const char* name) {
  BIGNUM* n = nullptr;
  EVP_PKEY_get_bn_param(key, name, &n);
  std::string out(static_cast<std::size_t>(BN_num_bytes(n)), '\0');
  BN_bn2bin(n, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(n);
  return out;
}

// The public half of `key` as a JWK.
inline nlohmann::json jwk(EVP_PKEY* key, const std::string& kid) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    return {{"kty", "RSA"}, {"kid", kid}, {"use", "sig"}, {"alg", "RS256"},
            {"n", b64url(bignum_param(key, OSSL_PKEY_PARAM_RSA_N))},
            {"e", b64url(bignum_param(key, OSSL_PKEY_PARAM_RSA_E))}};
  }
  auto pad = [](std::string s) { return std::string(32 - s.size(), '\0') + s; };
  return {{"kty", "EC"}, {"kid", kid}, {"crv", "P-256"}, {"alg", "ES256"},
          {"x", b64url(pad(bignum_param(key, OSSL_PKEY_PARAM_EC_PUB_X)))},
          {"y", b64url(pad(bignum_param(key, OSSL_PKEY_PARAM_EC_PUB_Y)))}};
}

inline std::string sign_digest(EVP_PKEY* key, const EVP_MD* md, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t length = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    throw std::runtime_error("sign init failed");
  }
  std::string out(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    throw std::runtime_error("sign failed");
  }
  out.resize(length);
  return out;
}

// DER ECDSA signature -> JOSE r||s (32 bytes each).
inline std::string der_to_jose(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string out(64, '\0');
  BN_bn2binpad(r, reinterpret_cast<unsigned char*>(out.data()), 32);
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return out;
}

inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Claims valid for five minutes from now, for `sub` with `scope`.
inline nlohmann::json claims(const std::string& sub, const std::string& scope) {
  return {{"sub", sub}, {"scope", scope}, {"iat", unix_now()}, {"exp", unix_now() + 300}};
}

inline std::string jwt_signing_input(const nlohmann::json& header, const nlohmann::json& payload) {
  return b64url(header.dump()) + "." + b64url(payload.dump());
}

inline std::string jwt_hs256(const std::string& secret, const nlohmann::json& payload,
                             nlohmann::json header = {{"alg", "HS256"}, {"typ", "JWT"}}) {
  auto input = jwt_signing_input(header, payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return input + "." + b64url(std::string(reinterpret_cast<char*>(mac), length));
}

// RS256 for an RSA key, ES256 for an EC key.
inline std::string jwt_signed(EVP_PKEY* key, const nlohmann::json& payload, const std::string& kid = "") {
  const bool rsa = EVP_PKEY_is_a(key, "RSA");
  nlohmann::json header = {{"alg", rsa ? "RS256" : "ES256"}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = kid;
  auto input = jwt_signing_input(header, payload);
  auto signature = sign_digest(key, EVP_sha256(), input);
  return input + "." + b64url(rsa ? signature : der_to_jose(signature));
}

inline std::string jwt_none(const nlohmann::json& payload) {
  return jwt_signing_input({{"alg", "none"}, {"typ", "JWT"}}, payload) + ".";
}

// A self-signed certificate for `key`, valid from an hour ago for a day.
inline std::string self_signed_certificate_pem(EVP_PKEY* key, const std::string& common_name) {
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_sign(cert.get(), key, EVP_sha256());
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(out.get(), cert.get());
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// An SNS Notification envelope around `message`, signed with `key` as SNS
// signs (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA).
inline nlohmann::json sns_envelope(EVP_PKEY* key, const std::string& topic_arn, const std::string& message,
                                   const std::string& cert_url, int version = 2,
                                   const std::optional<std::string>& subject = std::nullopt) {
  nlohmann::json envelope = {{"Type", "Notification"},
                             {"MessageId", "0b1f2c3d-0000-4000-8000-000000000001"},
                             {"TopicArn", topic_arn},
                             {"Message", message},
                             {"Timestamp", "2025-10-23T12:34:56.789Z"},
                             {"SignatureVersion", std::to_string(version)},
                             {"SigningCertURL", cert_url},
                             {"UnsubscribeURL", "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"}};
  if (subject) envelope["Subject"] = *subject;
  std::string to_sign = "Message\n" + message + "\nMessageId\n" + envelope["MessageId"].get<std::string>() + "\n";
  if (subject) to_sign += "Subject\n" + *subject + "\n";
  to_sign += "Timestamp\n" + envelope["Timestamp"].get<std::string>() + "\nTopicArn\n" + topic_arn +
             "\nType\nNotification\n";
  envelope["Signature"] = b64(sign_digest(key, version == 1 ? EVP_sha1() : EVP_sha256(), to_sign));
  return envelope;
}

}  // namespace docvault::testing
