#include "auth/public_key.h"

#include <memory>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"

namespace docvault::auth {
namespace {

constexpr int kMinRsaBits = 2048;

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

std::string pem_of(EVP_PKEY* key) {
  Owned<BIO> out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PUBKEY(out.get(), key) != 1) throw KeyError("cannot encode the public key as PEM");
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// The algorithm a key may verify, or a KeyError for a key docvault refuses.
Algorithm algorithm_of(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < kMinRsaBits) throw KeyError("RSA keys must have at least 2048 bits");
    return Algorithm::rs256;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    std::size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &length) != 1 ||
        std::string_view(group, length) != "prime256v1") {
      throw KeyError("EC keys must be on P-256 (ES256)");
    }
    return Algorithm::es256;
  }
  throw KeyError("the key is neither RSA nor EC P-256");
}

VerificationKey key_from_pem(std::string_view text) {
  Owned<BIO> in(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  Owned<EVP_PKEY> key;
  if (text.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
    Owned<X509> certificate(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
    if (!certificate) throw KeyError("the PEM certificate does not parse");
    key.reset(X509_get_pubkey(certificate.get()));
  } else {
    key.reset(PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr));
  }
  if (!key) throw KeyError("the file holds no PEM public key, certificate or JWKS");
  auto algorithm = algorithm_of(key.get());
  return VerificationKey{std::nullopt, algorithm, pem_of(key.get())};
}

std::string member(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) throw KeyError(std::string("JWK member ") + name + " is missing");
  return it->get<std::string>();
}

std::string decoded_member(const nlohmann::json& jwk, const char* name) {
  auto bytes = crypto::base64url_decode(member(jwk, name));
  if (!bytes || bytes->empty()) throw KeyError(std::string("JWK member ") + name + " is not base64url");
  return *bytes;
}

Owned<EVP_PKEY> key_from_params(const char* type, OSSL_PARAM_BLD* builder) {
  Owned<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(builder));
  Owned<EVP_PKEY_CTX> context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    throw KeyError(std::string("the JWK is not a valid ") + type + " public key");
  }
  Owned<EVP_PKEY> key(raw);
  // Rejects, among others, an EC point that is not on the curve.
  Owned<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    throw KeyError(std::string("the JWK is not a valid ") + type + " public key");
  }
  return key;
}

Owned<BIGNUM> big_number(const std::string& bytes) {
  Owned<BIGNUM> n(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()),
                            nullptr));
  if (!n) throw KeyError("cannot read a JWK number");
  return n;
}

VerificationKey key_from_jwk(const nlohmann::json& jwk) {
  if (!jwk.is_object()) throw KeyError("a JWK must be a JSON object");
  if (auto use = jwk.find("use"); use != jwk.end() && *use != "sig") throw KeyError("the JWK is not for signatures");
  auto kty = member(jwk, "kty");
  Owned<OSSL_PARAM_BLD> builder(OSSL_PARAM_BLD_new());
  if (!builder) throw KeyError("out of memory");
  Owned<EVP_PKEY> key;
  if (kty == "RSA") {
    auto n = big_number(decoded_member(jwk, "n"));
    auto e = big_number(decoded_member(jwk, "e"));
    OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
    key = key_from_params("RSA", builder.get());
  } else if (kty == "EC") {
    if (member(jwk, "crv") != "P-256") throw KeyError("EC JWKs must be on P-256 (ES256)");
    auto x = decoded_member(jwk, "x");
    auto y = decoded_member(jwk, "y");
    if (x.size() != 32 || y.size() != 32) throw KeyError("the JWK's P-256 coordinates must be 32 bytes");
    std::string point = "\x04" + x + y;  // uncompressed SEC1 point
    OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    key = key_from_params("EC", builder.get());
  } else {
    throw KeyError("JWK kty " + kty + " is not supported (RSA or EC)");
  }
  VerificationKey out{std::nullopt, algorithm_of(key.get()), pem_of(key.get())};
  if (auto alg = jwk.find("alg"); alg != jwk.end() && *alg != to_string(out.algorithm)) {
    throw KeyError("the JWK's alg does not match its key type");
  }
  if (auto kid = jwk.find("kid"); kid != jwk.end()) {
    if (!kid->is_string()) throw KeyError("a JWK kid must be a string");
    out.kid = kid->get<std::string>();
  }
  return out;
}

}  // namespace

std::string_view to_string(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::hs256:
      return "HS256";
    case Algorithm::rs256:
      return "RS256";
    case Algorithm::es256:
      return "ES256";
  }
  return "";
}

std::vector<VerificationKey> parse_public_keys(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) throw KeyError("the key file is empty");
  if (text[first] != '{') return {key_from_pem(text)};
  auto document = nlohmann::json::parse(text, nullptr, false);
  if (!document.is_object() || !document.contains("keys") || !document["keys"].is_array()) {
    throw KeyError("the JWKS document has no \"keys\" array");
  }
  std::vector<VerificationKey> keys;
  std::string last_error = "it is empty";
  for (const auto& jwk : document["keys"]) {
    try {
      keys.push_back(key_from_jwk(jwk));
    } catch (const KeyError& e) {
      last_error = e.what();  // keys of other kinds (encryption, Ed25519, ...) are skipped
    }
  }
  if (keys.empty()) throw KeyError("the JWKS has no usable RS256/ES256 signing key: " + last_error);
  return keys;
}

VerificationKey jwk_to_key(std::string_view jwk_json) {
  return key_from_jwk(nlohmann::json::parse(jwk_json, nullptr, false));
}

}  // namespace docvault::auth
