// Authentication and authorization of API requests: a route's handler is
// wrapped in a requirement (`require(scope, handler)`), so the scope a route
// needs is written where the route is registered.
//
// With a verifier (auth/jwt_verifier.h), a wrapped handler runs only for a
// request whose `Authorization: Bearer <JWT>` verifies and whose token grants
// the scope; otherwise the API's JSON error is answered:
//   401 unauthorized   no token, or one that does not verify, with
//                      WWW-Authenticate: Bearer realm="docvault" (no token, as
//                      RFC 6750 asks) or ..., error="invalid_token"
//   403 forbidden      a valid token without the scope, with
//                      WWW-Authenticate: Bearer error="insufficient_scope", scope="..."
// The handler learns its caller as an Actor: {sub, "user"|"service"}.
// Without a verifier (DOCVAULT_AUTH=disabled) every request passes as
// Actor::anonymous().
//
// `refuse_unauthenticated` is for the pre-routing stage: it answers 401 for a
// request under /v1 without a valid token before its body is read, so an
// anonymous client cannot make the server take in an upload. (The scope is
// checked by the route, after the body; a caller with a valid token is
// accountable.) Such a response carries Connection: close when a body was
// left unread.
//
// Tokens are never logged or echoed. Thread-safety: immutable; copies share
// the verifier; call from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <httplib.h>

#include "auth/jwt_verifier.h"
#include "domain/events.h"

namespace docvault::http {

using ScopedHandler = std::function<void(const httplib::Request&, httplib::Response&, const Actor& caller)>;

class Authenticator {
 public:
  // nullptr: authentication disabled.
  explicit Authenticator(std::shared_ptr<const auth::JwtVerifier> verifier = nullptr);

  bool enabled() const { return verifier_ != nullptr; }

  std::function<void(const httplib::Request&, httplib::Response&)> require(std::string_view scope,
                                                                           ScopedHandler handler) const;
  std::function<void(const httplib::Request&, httplib::Response&)> require(
      std::string_view scope, std::function<void(const httplib::Request&, httplib::Response&)> handler) const;

  // True when it answered (401) and routing must stop.
  bool refuse_unauthenticated(const httplib::Request& req, httplib::Response& res) const;

 private:
  std::shared_ptr<const auth::JwtVerifier> verifier_;
};

// The Actor audit events name for a verified caller.
Actor actor_of(const auth::Principal& principal);

}  // namespace docvault::http
