// JwtVerifier: turns an `Authorization: Bearer <JWT>` header into the caller
// it proves (a Principal), or says why it does not.
//
// The configured keys fix the algorithms a token may use: an HS256 secret
// allows HS256 only; a PEM key or a JWKS allows RS256 (RSA keys) and/or ES256
// (EC P-256 keys) only. The token's header never chooses: "alg": "none", an
// HS256 token against a public key (the classic confusion, where the public
// key would be used as an HMAC secret) and any other algorithm are refused
// before libjwt sees the token. With a JWKS the key is chosen by the header's
// "kid" (no kid: only when the JWKS has exactly one key for the algorithm).
//
// Claims, after the signature holds:
//   exp   required; refused once now > exp + leeway
//   nbf   optional; refused while now + leeway < nbf
//   iss   must equal the configured issuer, when one is configured
//   aud   must be (or, as an array, contain) the configured audience, when one is
//   sub   required, a non-empty printable string of at most 255 bytes
//   scope a space-separated string, and/or scp, an array of strings (or a
//         string): the union is the Principal's scopes
// The caller is a "service" when the token is a machine's own (client
// credentials): client_id or azp equals sub, or gty is "client-credentials";
// otherwise a "user".
//
// Errors are values (Validated), never exceptions, and never contain the
// token. Construction throws KeyError for unusable key material.
//
// Thread-safety: immutable after construction; verify() from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "auth/public_key.h"
#include "domain/result.h"
#include "runtime/clock.h"

namespace docvault::auth {

inline constexpr std::string_view kScopeDocumentsRead = "documents:read";
inline constexpr std::string_view kScopeDocumentsWrite = "documents:write";
inline constexpr std::string_view kScopeDocumentsAdmin = "documents:admin";
inline constexpr std::string_view kScopeMetricsRead = "metrics:read";

struct Principal {
  std::string subject;
  std::string actor_type;  // "user" or "service"
  std::set<std::string, std::less<>> scopes;
  bool has_scope(std::string_view scope) const { return scopes.contains(scope); }
};

struct ClaimRules {
  std::string issuer;    // empty: not checked
  std::string audience;  // empty: not checked
  std::chrono::seconds leeway{60};
  // The clock exp and nbf are checked against (its wall time); must outlive
  // the verifier.
  const runtime::Clock* clock = &runtime::system_clock();
};

class JwtVerifier {
 public:
  // HS256 with a shared secret (at least 32 bytes: RFC 7518 wants a key as
  // long as the hash).
  static JwtVerifier with_secret(std::string secret, ClaimRules rules);
  // RS256/ES256 with the keys of a PEM public key, certificate or JWKS text.
  static JwtVerifier with_public_keys(std::string_view key_file_text, ClaimRules rules);

  // `authorization` is the whole header value ("Bearer <token>").
  Validated<Principal> verify(std::string_view authorization) const;
  Validated<Principal> verify_token(std::string_view token) const;

  const std::vector<VerificationKey>& keys() const { return keys_; }

 private:
  JwtVerifier(std::vector<VerificationKey> keys, ClaimRules rules);
  std::vector<VerificationKey> keys_;
  ClaimRules rules_;
};

// The FieldError field verify() uses: "authorization" when the header is
// missing, "token" when a token was given and refused.
inline constexpr std::string_view kMissingCredentials = "authorization";

}  // namespace docvault::auth
