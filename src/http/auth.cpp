#include "http/auth.h"

#include "http/api_error.h"

namespace docvault::http {
namespace {

constexpr const char* kChallengeHeader = "WWW-Authenticate";

void unauthorized(httplib::Response& res, const FieldError& why) {
  const bool missing = why.field == auth::kMissingCredentials;
  res.set_header(kChallengeHeader, missing ? R"(Bearer realm="docvault")"
                                           : R"(Bearer realm="docvault", error="invalid_token")");
  respond(res, ApiError{401, "unauthorized", missing ? why.message : "invalid token: " + why.message,
                        std::nullopt});
}

void forbidden(httplib::Response& res, std::string_view scope) {
  res.set_header(kChallengeHeader,
                 R"(Bearer realm="docvault", error="insufficient_scope", scope=")" + std::string(scope) + "\"");
  respond(res, ApiError{403, "forbidden", "the token lacks the scope " + std::string(scope), std::nullopt});
}

bool under_api(const std::string& path) { return path == "/v1" || path.starts_with("/v1/"); }

bool has_unread_body(const httplib::Request& req) {
  auto length = req.get_header_value("Content-Length");
  return (!length.empty() && length != "0") || req.has_header("Transfer-Encoding");
}

}  // namespace

Actor actor_of(const auth::Principal& principal) { return Actor{principal.subject, principal.actor_type}; }

Authenticator::Authenticator(std::shared_ptr<const auth::JwtVerifier> verifier) : verifier_(std::move(verifier)) {}

std::function<void(const httplib::Request&, httplib::Response&)> Authenticator::require(std::string_view scope,
                                                                                        ScopedHandler handler) const {
  return [verifier = verifier_, scope = std::string(scope), handler = std::move(handler)](
             const httplib::Request& req, httplib::Response& res) {
    if (!verifier) return handler(req, res, Actor::anonymous());
    auto principal = verifier->verify(req.get_header_value("Authorization"));
    if (!principal) return unauthorized(res, principal.error());
    if (!principal->has_scope(scope)) return forbidden(res, scope);
    handler(req, res, actor_of(*principal));
  };
}

std::function<void(const httplib::Request&, httplib::Response&)> Authenticator::require(
    std::string_view scope, std::function<void(const httplib::Request&, httplib::Response&)> handler) const {
  return require(scope, [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                                       const Actor&) { handler(req, res); });
}

bool Authenticator::refuse_unauthenticated(const httplib::Request& req, httplib::Response& res) const {
  if (!verifier_ || !under_api(req.path)) return false;
  auto principal = verifier_->verify(req.get_header_value("Authorization"));
  if (principal) return false;
  unauthorized(res, principal.error());
  if (has_unread_body(req)) res.set_header("Connection", "close");
  return true;
}

}  // namespace docvault::http
