#include "auth/jwt_verifier.h"

#include <cmath>
#include <memory>

#include <jwt.h>
#include <nlohmann/json.hpp>

#include "crypto/crypto.h"

namespace docvault::auth {
namespace {

using nlohmann::json;

// Far above any real token; keeps a hostile header from costing much.
constexpr std::size_t kMaxTokenBytes = 8192;
constexpr std::size_t kMinSecretBytes = 32;
constexpr std::size_t kMaxSubjectBytes = 255;

FieldError refused(std::string message) { return FieldError{"token", std::move(message)}; }

jwt_alg_t libjwt_algorithm(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::hs256:
      return JWT_ALG_HS256;
    case Algorithm::rs256:
      return JWT_ALG_RS256;
    case Algorithm::es256:
      return JWT_ALG_ES256;
  }
  return JWT_ALG_INVAL;
}

struct JwtFree {
  void operator()(jwt_t* p) const { jwt_free(p); }
};

bool is_base64url_or_dot(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

std::optional<json> decode_segment(std::string_view segment) {
  auto bytes = crypto::base64url_decode(segment);
  if (!bytes) return std::nullopt;
  auto value = json::parse(*bytes, nullptr, false);
  if (!value.is_object()) return std::nullopt;
  return value;
}

// A NumericDate claim (seconds since the epoch, possibly fractional).
std::optional<double> numeric_date(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  double value = it->get<double>();
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

bool printable(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string string_claim(const json& claims, const char* name) {
  auto it = claims.find(name);
  return it != claims.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

JwtVerifier::JwtVerifier(std::vector<VerificationKey> keys, ClaimRules rules)
    : keys_(std::move(keys)), rules_(std::move(rules)) {}

JwtVerifier JwtVerifier::with_secret(std::string secret, ClaimRules rules) {
  if (secret.size() < kMinSecretBytes) throw KeyError("the HS256 secret must be at least 32 bytes");
  return JwtVerifier({VerificationKey{std::nullopt, Algorithm::hs256, std::move(secret)}}, std::move(rules));
}

JwtVerifier JwtVerifier::with_public_keys(std::string_view key_file_text, ClaimRules rules) {
  return JwtVerifier(parse_public_keys(key_file_text), std::move(rules));
}

Validated<Principal> JwtVerifier::verify(std::string_view authorization) const {
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  if (authorization.empty()) return FieldError{std::string(kMissingCredentials), "a Bearer token is required"};
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return refused("the Authorization header must be Bearer <token>");
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return refused("the Authorization header must be Bearer <token>");
  }
  auto token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return verify_token(token);
}

Validated<Principal> JwtVerifier::verify_token(std::string_view token) const {
  if (token.empty() || token.size() > kMaxTokenBytes) return refused("the token is empty or too long");
  for (char c : token) {
    if (!is_base64url_or_dot(c)) return refused("the token is not a compact JWS");
  }
  auto first_dot = token.find('.');
  auto second_dot = first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos ||
      second_dot + 1 == token.size()) {
    return refused("the token is not a signed compact JWS");
  }
  auto header = decode_segment(token.substr(0, first_dot));
  auto claims = decode_segment(token.substr(first_dot + 1, second_dot - first_dot - 1));
  if (!header || !claims) return refused("the token's header or payload is not a JSON object");
  if (header->contains("crit")) return refused("the token has critical header extensions");

  // The configured keys decide the algorithm; the header only has to agree.
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return refused("the token has no alg");
  std::optional<std::string> kid;
  if (auto it = header->find("kid"); it != header->end()) {
    if (!it->is_string()) return refused("the token's kid is not a string");
    kid = it->get<std::string>();
  }
  const VerificationKey* key = nullptr;
  std::size_t candidates = 0;
  bool algorithm_allowed = false;
  for (const auto& k : keys_) {
    if (to_string(k.algorithm) != alg->get<std::string>()) continue;
    algorithm_allowed = true;
    if (kid && k.kid && *k.kid != *kid) continue;
    if (kid && !k.kid && keys_.size() > 1) continue;
    ++candidates;
    key = &k;
  }
  if (!algorithm_allowed) return refused("the token's algorithm is not allowed");
  if (key == nullptr) return refused("no configured key matches the token's kid");
  if (candidates > 1) return refused("the token has no kid and several keys could verify it");

  // libjwt checks the signature (it takes the algorithm from the header,
  // which is why that was pinned above, and again below).
  const std::string text(token);
  jwt_t* raw = nullptr;
  int rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key->material.data()),
                      static_cast<int>(key->material.size()));
  std::unique_ptr<jwt_t, JwtFree> decoded(raw);
  if (rc != 0 || !decoded) return refused("the token's signature does not verify");
  if (jwt_get_alg(decoded.get()) != libjwt_algorithm(key->algorithm)) {
    return refused("the token's algorithm is not allowed");
  }

  const auto now = std::chrono::duration<double>(rules_.clock->now().time_since_epoch()).count();
  const auto leeway = static_cast<double>(rules_.leeway.count());
  auto exp = numeric_date(*claims, "exp");
  if (!exp) return refused("the token has no exp");
  if (now > *exp + leeway) return refused("the token has expired");
  if (claims->contains("nbf")) {
    auto nbf = numeric_date(*claims, "nbf");
    if (!nbf) return refused("the token's nbf is not a number");
    if (now + leeway < *nbf) return refused("the token is not valid yet");
  }
  if (!rules_.issuer.empty() && string_claim(*claims, "iss") != rules_.issuer) {
    return refused("the token's issuer is not accepted");
  }
  if (!rules_.audience.empty()) {
    bool accepted = false;
    if (auto aud = claims->find("aud"); aud != claims->end()) {
      if (aud->is_string()) accepted = *aud == rules_.audience;
      if (aud->is_array()) {
        for (const auto& a : *aud) accepted = accepted || (a.is_string() && a == rules_.audience);
      }
    }
    if (!accepted) return refused("the token's audience is not accepted");
  }

  Principal principal;
  principal.subject = string_claim(*claims, "sub");
  if (principal.subject.empty() || principal.subject.size() > kMaxSubjectBytes || !printable(principal.subject)) {
    return refused("the token's sub is missing or not a short printable string");
  }
  if (auto scope = claims->find("scope"); scope != claims->end() && scope->is_string()) {
    const auto& list = scope->get_ref<const std::string&>();
    std::size_t start = 0;
    while (start < list.size()) {
      auto end = list.find(' ', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) principal.scopes.insert(list.substr(start, end - start));
      start = end + 1;
    }
  }
  if (auto scp = claims->find("scp"); scp != claims->end()) {
    if (scp->is_string()) principal.scopes.insert(scp->get<std::string>());
    if (scp->is_array()) {
      for (const auto& s : *scp) {
        if (s.is_string()) principal.scopes.insert(s.get<std::string>());
      }
    }
  }
  const bool machine = string_claim(*claims, "client_id") == principal.subject ||
                       string_claim(*claims, "azp") == principal.subject ||
                       string_claim(*claims, "gty") == "client-credentials";
  principal.actor_type = machine ? "service" : "user";
  return principal;
}

}  // namespace docvault::auth
