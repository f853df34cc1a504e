// JwtVerifier against tokens made here with OpenSSL: every algorithm and key
// form it accepts, and every way a token must be refused.
#include "auth/jwt_verifier.h"

#include <gtest/gtest.h>

#include <deque>

#include "fake_clock.h"

#include "test_crypto.h"

namespace docvault::auth {
namespace {

using docvault::testing::b64url;
using docvault::testing::claims;
using docvault::testing::jwt_hs256;
using docvault::testing::jwt_none;
using docvault::testing::jwt_signed;
using docvault::testing::unix_now;
using nlohmann::json;

const std::string kSecret = "an-hs256-secret-of-at-least-32-bytes!";

std::string bearer(const std::string& token) { return "Bearer " + token; }

ClaimRules rules_at(std::int64_t now_seconds, std::string issuer = "", std::string audience = "") {
  ClaimRules rules;
  rules.issuer = std::move(issuer);
  rules.audience = std::move(audience);
  // Each verifier gets a clock of its own, alive to the end of the suite.
  static std::deque<docvault::testing::FakeClock> clocks;
  auto& clock = clocks.emplace_back();
  clock.set_now(runtime::Timestamp(std::chrono::seconds(now_seconds)));
  rules.clock = &clock;
  return rules;
}

void expect_refused(const Validated<Principal>& result, const std::string& fragment) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().field, "token");
  EXPECT_NE(result.error().message.find(fragment), std::string::npos) << result.error().message;
}

TEST(JwtVerifierTest, Hs256TokenGivesItsPrincipal) {
  auto verifier = JwtVerifier::with_secret(kSecret, {});
  auto result = verifier.verify(bearer(jwt_hs256(kSecret, claims("alice", "documents:read documents:write"))));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->subject, "alice");
  EXPECT_EQ(result->actor_type, "user");
  EXPECT_TRUE(result->has_scope("documents:read"));
  EXPECT_TRUE(result->has_scope("documents:write"));
  EXPECT_FALSE(result->has_scope("documents:admin"));
}

TEST(JwtVerifierTest, SchemeIsCaseInsensitiveAndMissingHeaderIsToldApart) {
  auto verifier = JwtVerifier::with_secret(kSecret, {});
  EXPECT_TRUE(verifier.verify("bearer " + jwt_hs256(kSecret, claims("a", "x"))).ok());
  auto missing = verifier.verify("");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().field, kMissingCredentials);
  expect_refused(verifier.verify("Basic dXNlcjpwYXNz"), "Bearer");
  expect_refused(verifier.verify("Bearer "), "Bearer");
  expect_refused(verifier.verify("Bearer a.b"), "compact JWS");
  expect_refused(verifier.verify("Bearer a.b.c.d"), "compact JWS");
  expect_refused(verifier.verify("Bearer a b.c"), "compact JWS");
}

TEST(JwtVerifierTest, ShortSecretIsRefused) { EXPECT_THROW(JwtVerifier::with_secret("short", {}), KeyError); }

TEST(JwtVerifierTest, WrongSecretOrTamperedPayloadIsRefused) {
  auto verifier = JwtVerifier::with_secret(kSecret, {});
  expect_refused(verifier.verify_token(jwt_hs256("another-secret-that-is-32-bytes-long!", claims("a", "s"))),
                 "signature");
  auto token = jwt_hs256(kSecret, claims("alice", "documents:read"));
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  auto forged = token.substr(0, first + 1) + b64url(claims("mallory", "documents:admin").dump()) + token.substr(second);
  expect_refused(verifier.verify_token(forged), "signature");
}

TEST(JwtVerifierTest, AlgNoneIsRefusedWhateverTheKey) {
  auto rsa = docvault::testing::generate_rsa();
  for (const auto& verifier : {JwtVerifier::with_secret(kSecret, {}),
                               JwtVerifier::with_public_keys(docvault::testing::public_pem(rsa.get()), {})}) {
    expect_refused(verifier.verify_token(jwt_none(claims("a", "documents:read"))), "compact JWS");
    // With a dummy signature segment, it gets as far as the algorithm check.
    expect_refused(verifier.verify_token(jwt_none(claims("a", "documents:read")) + "AAAA"), "algorithm");
  }
}

TEST(JwtVerifierTest, Hs256SignedWithThePublicKeyIsRefused) {
  // The confusion attack: an HS256 token whose HMAC key is the PEM text of
  // the server's public key.
  auto rsa = docvault::testing::generate_rsa();
  auto pem = docvault::testing::public_pem(rsa.get());
  auto verifier = JwtVerifier::with_public_keys(pem, {});
  expect_refused(verifier.verify_token(jwt_hs256(pem, claims("mallory", "documents:admin"))), "algorithm");
  // And the other way round: an RS256 token against an HS256 configuration.
  auto hs = JwtVerifier::with_secret(kSecret, {});
  expect_refused(hs.verify_token(jwt_signed(rsa.get(), claims("a", "s"))), "algorithm");
}

TEST(JwtVerifierTest, Rs256AndEs256WithPemKeysAndCertificates) {
  auto rsa = docvault::testing::generate_rsa();
  auto ec = docvault::testing::generate_ec();
  auto rs = JwtVerifier::with_public_keys(docvault::testing::public_pem(rsa.get()), {});
  auto es = JwtVerifier::with_public_keys(docvault::testing::public_pem(ec.get()), {});
  EXPECT_TRUE(rs.verify_token(jwt_signed(rsa.get(), claims("svc", "documents:read"))).ok());
  EXPECT_TRUE(es.verify_token(jwt_signed(ec.get(), claims("svc", "documents:read"))).ok());
  expect_refused(rs.verify_token(jwt_signed(ec.get(), claims("svc", "s"))), "algorithm");
  expect_refused(es.verify_token(jwt_signed(rsa.get(), claims("svc", "s"))), "algorithm");
  // Another key of the same kind.
  auto other = docvault::testing::generate_ec();
  expect_refused(es.verify_token(jwt_signed(other.get(), claims("svc", "s"))), "signature");
  // A certificate works as a key file too.
  auto from_cert = JwtVerifier::with_public_keys(
      docvault::testing::self_signed_certificate_pem(rsa.get(), "issuer.example"), {});
  EXPECT_TRUE(from_cert.verify_token(jwt_signed(rsa.get(), claims("svc", "s"))).ok());
}

TEST(JwtVerifierTest, WeakOrUnusableKeysAreRefusedAtConstruction) {
  auto weak = docvault::testing::generate_rsa(1024);
  EXPECT_THROW(JwtVerifier::with_public_keys(docvault::testing::public_pem(weak.get()), {}), KeyError);
  EXPECT_THROW(JwtVerifier::with_public_keys("not a key", {}), KeyError);
  EXPECT_THROW(JwtVerifier::with_public_keys(R"({"keys": []})", {}), KeyError);
  EXPECT_THROW(JwtVerifier::with_public_keys(R"({"keys": [{"kty": "oct", "k": "AAAA"}]})", {}), KeyError);
}

TEST(JwtVerifierTest, JwksSelectsTheKeyByKid) {
  auto rsa = docvault::testing::generate_rsa();
  auto ec = docvault::testing::generate_ec();
  auto ec2 = docvault::testing::generate_ec();
  json jwks = {{"keys", {docvault::testing::jwk(rsa.get(), "rsa-1"), docvault::testing::jwk(ec.get(), "ec-1"),
                         docvault::testing::jwk(ec2.get(), "ec-2"),
                         {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}, {"kid", "skipped"}}}}};
  auto verifier = JwtVerifier::with_public_keys(jwks.dump(), {});
  EXPECT_EQ(verifier.keys().size(), 3u);
  EXPECT_TRUE(verifier.verify_token(jwt_signed(rsa.get(), claims("a", "s"), "rsa-1")).ok());
  EXPECT_TRUE(verifier.verify_token(jwt_signed(ec.get(), claims("a", "s"), "ec-1")).ok());
  EXPECT_TRUE(verifier.verify_token(jwt_signed(ec2.get(), claims("a", "s"), "ec-2")).ok());
  // The only RSA key needs no kid; two EC keys do.
  EXPECT_TRUE(verifier.verify_token(jwt_signed(rsa.get(), claims("a", "s"))).ok());
  expect_refused(verifier.verify_token(jwt_signed(ec.get(), claims("a", "s"))), "several keys");
  expect_refused(verifier.verify_token(jwt_signed(ec.get(), claims("a", "s"), "ec-2")), "signature");
  expect_refused(verifier.verify_token(jwt_signed(ec.get(), claims("a", "s"), "unknown")), "kid");
}

TEST(JwtVerifierTest, ExpiryAndNotBeforeUseTheClockAndTheLeeway) {
  const std::int64_t now = 1'800'000'000;
  auto verifier = JwtVerifier::with_secret(kSecret, rules_at(now));
  auto with = [&](json extra) {
    json c = {{"sub", "a"}, {"scope", "s"}};
    c.update(extra);
    return verifier.verify_token(jwt_hs256(kSecret, c));
  };
  EXPECT_TRUE(with({{"exp", now + 10}}).ok());
  EXPECT_TRUE(with({{"exp", now - 59}}).ok());  // within the 60 s leeway
  expect_refused(with({{"exp", now - 61}}), "expired");
  expect_refused(with(json::object()), "no exp");
  expect_refused(with({{"exp", "tomorrow"}}), "no exp");
  EXPECT_TRUE(with({{"exp", now + 100}, {"nbf", now + 59}}).ok());
  expect_refused(with({{"exp", now + 100}, {"nbf", now + 61}}), "not valid yet");
  expect_refused(with({{"exp", now + 100}, {"nbf", "soon"}}), "nbf");
}

TEST(JwtVerifierTest, IssuerAndAudienceWhenConfigured) {
  const auto now = unix_now();
  auto verifier = JwtVerifier::with_secret(kSecret, rules_at(now, "https://idp.example", "docvault"));
  auto with = [&](json extra) {
    auto c = claims("a", "s");
    c.update(extra);
    return verifier.verify_token(jwt_hs256(kSecret, c));
  };
  EXPECT_TRUE(with({{"iss", "https://idp.example"}, {"aud", "docvault"}}).ok());
  EXPECT_TRUE(with({{"iss", "https://idp.example"}, {"aud", {"other", "docvault"}}}).ok());
  expect_refused(with({{"iss", "https://evil.example"}, {"aud", "docvault"}}), "issuer");
  expect_refused(with({{"aud", "docvault"}}), "issuer");
  expect_refused(with({{"iss", "https://idp.example"}, {"aud", "other"}}), "audience");
  expect_refused(with({{"iss", "https://idp.example"}, {"aud", {"other"}}}), "audience");
  expect_refused(with({{"iss", "https://idp.example"}}), "audience");
  // Not configured: not checked.
  auto open = JwtVerifier::with_secret(kSecret, {});
  EXPECT_TRUE(open.verify_token(jwt_hs256(kSecret, claims("a", "s"))).ok());
}

TEST(JwtVerifierTest, SubjectIsRequiredAndBounded) {
  auto verifier = JwtVerifier::with_secret(kSecret, {});
  auto with_sub = [&](json sub) {
    auto c = claims("x", "s");
    c["sub"] = sub;
    return verifier.verify_token(jwt_hs256(kSecret, c));
  };
  expect_refused(with_sub(""), "sub");
  expect_refused(with_sub(42), "sub");
  expect_refused(with_sub(std::string(256, 'a')), "sub");
  expect_refused(with_sub(std::string("a\nb")), "sub");
}

TEST(JwtVerifierTest, ScopesFromScopeStringAndScpArray) {
  auto verifier = JwtVerifier::with_secret(kSecret, {});
  auto c = claims("a", "documents:read  metrics:read");
  c["scp"] = {"documents:write"};
  auto result = verifier.verify_token(jwt_hs256(kSecret, c));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->scopes, (std::set<std::string, std::less<>>{"documents:read", "documents:write", "metrics:read"}));
  c = claims("a", "");
  c.erase("scope");
  c["scp"] = "documents:admin";
  result = verifier.verify_token(jwt_hs256(kSecret, c));
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->has_scope("documents:admin"));
}

TEST(JwtVerifierTest, ServiceOrUserFromTheClientClaims) {
  auto verifier = JwtVerifier::with_secret(kSecret, {});
  auto actor = [&](json extra) {
    auto c = claims("svc-1", "s");
    c.update(extra);
    return verifier.verify_token(jwt_hs256(kSecret, c))->actor_type;
  };
  EXPECT_EQ(actor(json::object()), "user");
  EXPECT_EQ(actor({{"client_id", "svc-1"}}), "service");
  EXPECT_EQ(actor({{"azp", "svc-1"}}), "service");
  EXPECT_EQ(actor({{"gty", "client-credentials"}}), "service");
  EXPECT_EQ(actor({{"azp", "web-app"}}), "user");
}

TEST(JwtVerifierTest, CriticalHeadersAndGarbageAreRefused) {
  auto verifier = JwtVerifier::with_secret(kSecret, {});
  expect_refused(verifier.verify_token(jwt_hs256(kSecret, claims("a", "s"),
                                                 {{"alg", "HS256"}, {"crit", {"exp"}}, {"exp", 1}})),
                 "critical");
  expect_refused(verifier.verify_token(b64url("not json") + "." + b64url("{}") + ".AAAA"), "JSON");
  expect_refused(verifier.verify_token(std::string(9000, 'a')), "too long");
}

}  // namespace
}  // namespace docvault::auth
