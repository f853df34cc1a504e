#include "http/auth.h"

#include "http/api_error.h"

namespace docvault::http {
namespace {

constexpr const char* kChallengeHeader = "WWW-Authenticate";

void unauthorized(Response& res, const FieldError& why) {
  const bool missing = why.field == auth::kMissingCredentials;
  res.set_header(kChallengeHeader, missing ? R"(Bearer realm="docvault")"
                                           : R"(Bearer realm="docvault", error="invalid_token")");
  respond(res, ApiError{401, "unauthorized", missing ? why.message : "invalid token: " + why.message,
                        std::nullopt});
}

void forbidden(Response& res, std::string_view scope) {
  res.set_header(kChallengeHeader,
                 R"(Bearer realm="docvault", error="insufficient_scope", scope=")" + std::string(scope) + "\"");
  respond(res, ApiError{403, "forbidden", "the token lacks the scope " + std::string(scope), std::nullopt});
}

bool under_api(const std::string& path) { return path == "/v1" || path.starts_with("/v1/"); }

}  // namespace

Actor actor_of(const auth::Principal& principal) { return Actor{principal.subject, principal.actor_type}; }

Endpoint open_endpoint(PlainHandler handler) {
  Endpoint endpoint;
  endpoint.handler = [handler = std::move(handler)](const Request& req, Response& res, const Actor&) {
    handler(req, res);
  };
  return endpoint;
}

Authenticator::Authenticator(std::shared_ptr<const auth::JwtVerifier> verifier) : verifier_(std::move(verifier)) {}

Endpoint Authenticator::require(std::string_view scope, ScopedHandler handler) const {
  Endpoint endpoint;
  endpoint.scope = std::string(scope);
  endpoint.handler = std::move(handler);
  return endpoint;
}

Endpoint Authenticator::require(std::string_view scope, PlainHandler handler) const {
  return require(scope, ScopedHandler([handler = std::move(handler)](const Request& req, Response& res,
                                                                     const Actor&) { handler(req, res); }));
}

Endpoint Authenticator::require_streaming(std::string_view scope, std::uint64_t body_limit,
                                          BodyReaderFactory make) const {
  Endpoint endpoint;
  endpoint.scope = std::string(scope);
  endpoint.body_limit = body_limit;
  endpoint.reader = std::move(make);
  return endpoint;
}

bool Authenticator::refuse_unauthenticated(const Request& req, Response& res) const {
  if (!verifier_ || !under_api(req.path)) return false;
  auto principal = verifier_->verify(req.header("Authorization"));
  if (principal) return false;
  unauthorized(res, principal.error());
  return true;
}

std::optional<Actor> Authenticator::authorize(const Request& req, const Endpoint& endpoint, Response& res) const {
  if (!verifier_ || !endpoint.scope) return Actor::anonymous();
  auto principal = verifier_->verify(req.header("Authorization"));
  if (!principal) {
    unauthorized(res, principal.error());
    return std::nullopt;
  }
  if (!principal->has_scope(*endpoint.scope)) {
    forbidden(res, *endpoint.scope);
    return std::nullopt;
  }
  return actor_of(*principal);
}

}  // namespace docvault::http
