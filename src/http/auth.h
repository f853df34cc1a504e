// Authentication and authorization of API requests. A route states the scope
// it needs where it is registered (`require(scope, handler)` makes its
// Endpoint, http/server.h), and the server decides from the request head,
// before any byte of the body is read, whether the caller may use it.
//
// With a verifier (auth/jwt_verifier.h), an endpoint with a scope runs only
// for a request whose `Authorization: Bearer <JWT>` verifies and whose token
// grants the scope; otherwise the API's JSON error is answered:
//   401 unauthorized   no token, or one that does not verify, with
//                      WWW-Authenticate: Bearer realm="docvault" (no token, as
//                      RFC 6750 asks) or ..., error="invalid_token"
//   403 forbidden      a valid token without the scope, with
//                      WWW-Authenticate: Bearer error="insufficient_scope", scope="..."
// Every path under /v1 needs a valid token, even one with no route (401
// before 404), so the API's shape is not open to anonymous probing.
// The handler learns its caller as an Actor: {sub, "user"|"service"}.
// Without a verifier (DOCVAULT_AUTH=disabled) every request passes as
// Actor::anonymous().
//
// Tokens are never logged or echoed. Thread-safety: immutable; copies share
// the verifier; call from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/jwt_verifier.h"
#include "domain/events.h"
#include "http/message.h"

namespace docvault::http {

// Receives a request body as it arrives (a streamed upload). Runs on the
// connection's thread, one call at a time.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // The next bytes of the body. False when the reader has answered in `res`
  // (the rest of the body is not read; the connection closes).
  virtual bool consume(std::string_view bytes, Response& res) = 0;
  // The whole body has arrived: answer in `res`.
  virtual void finish(Response& res) = 0;
};

using ScopedHandler = std::function<void(const Request&, Response&, const Actor& caller)>;
using PlainHandler = std::function<void(const Request&, Response&)>;
// Makes the reader of a request's body once its head is accepted; nullptr
// after answering in `res` (the body is then not read).
using BodyReaderFactory =
    std::function<std::unique_ptr<BodyReader>(const Request&, Response&, const Actor& caller)>;

// What one method of one route does, and what it needs before it runs.
struct Endpoint {
  // A token granting this scope is needed (when authentication is enabled).
  std::optional<std::string> scope;
  ScopedHandler handler;
  // Largest body taken whole into Request::body; 0: the route takes no body
  // and a request with one is refused (413) unread.
  std::uint64_t body_limit = 0;
  // Set: the body (up to body_limit bytes) streams to a reader instead.
  BodyReaderFactory reader;

  Endpoint&& takes_body(std::uint64_t limit) && {
    body_limit = limit;
    return std::move(*this);
  }
};

// An endpoint anyone may call.
Endpoint open_endpoint(PlainHandler handler);

class Authenticator {
 public:
  // nullptr: authentication disabled.
  explicit Authenticator(std::shared_ptr<const auth::JwtVerifier> verifier = nullptr);

  bool enabled() const { return verifier_ != nullptr; }

  Endpoint require(std::string_view scope, ScopedHandler handler) const;
  Endpoint require(std::string_view scope, PlainHandler handler) const;
  // An endpoint whose body streams to the reader `make` returns.
  Endpoint require_streaming(std::string_view scope, std::uint64_t body_limit, BodyReaderFactory make) const;

  // True when it answered (401): a request under /v1 without a valid token,
  // decided before routing.
  bool refuse_unauthenticated(const Request& req, Response& res) const;
  // The caller of `endpoint`, or nothing after answering 401/403 in `res`.
  std::optional<Actor> authorize(const Request& req, const Endpoint& endpoint, Response& res) const;

 private:
  std::shared_ptr<const auth::JwtVerifier> verifier_;
};

// The Actor audit events name for a verified caller.
Actor actor_of(const auth::Principal& principal);

}  // namespace docvault::http
