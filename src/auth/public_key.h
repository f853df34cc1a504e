// Public keys for JWT verification, read from what operators have at hand: a
// PEM public key ("BEGIN PUBLIC KEY"), a PEM X.509 certificate, or a JWKS
// document ({"keys": [...]}) with RSA and EC P-256 keys.
//
// Each key comes out as the one algorithm it may verify (RSA -> RS256, EC
// P-256 -> ES256), with its key id when it has one, and as PEM text, which is
// what libjwt 1.10 takes (it cannot read JWKs; OpenSSL 3 converts them). A
// key of another kind, a weak RSA key (< 2048 bits), or a JWK whose "use" or
// "alg" says it is not an RS256/ES256 signing key is refused, so the
// configured keys alone decide which algorithms a token may use.
//
// A leaf over OpenSSL and nlohmann-json; thread-safe (pure functions).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace docvault::auth {

enum class Algorithm { hs256, rs256, es256 };
std::string_view to_string(Algorithm algorithm);  // "HS256", "RS256", "ES256"

struct VerificationKey {
  std::optional<std::string> kid;
  Algorithm algorithm;
  std::string material;  // the HS256 secret, or the public key as PEM
};

// Thrown when a key file cannot be used; the message says why (never the key).
class KeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The keys in `text`: a PEM public key or certificate (one key, no kid) or a
// JWKS document (its usable keys; throws when none is usable).
std::vector<VerificationKey> parse_public_keys(std::string_view text);

// A single JWK (an element of a JWKS "keys" array) as a PEM public key.
VerificationKey jwk_to_key(std::string_view jwk_json);

}  // namespace docvault::auth
