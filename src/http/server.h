// The HTTP API: Boost.Beast on Boost.Asio serving the document routes,
// health, readiness, metrics and the published contracts (OpenAPI, the
// reference page, event schemas: http/contract_routes.h), with the cross-cutting parts every request
// gets: a request id (X-Request-Id accepted or minted, echoed back), a JSON
// error body for every failure, 405 with Allow for a known route and a wrong
// method, one access log line per request, and request counts and latencies
// by route.
//
// How a request is taken in (http/server.cpp):
//   1. The head (request line and headers) is read under `header_timeout`
//      and `max_header_bytes` (408 / 431, then close) and held to RFC 9112's
//      framing: one Content-Length of digits, or Transfer-Encoding: chunked
//      alone; both, several lengths, another coding, or an HTTP version other
//      than 1.0/1.1 get 400 and the connection closes. No framing header
//      means no body.
//   2. From the head alone: the route (404, 405 + Allow), the caller (401,
//      403; http/auth.h), whether the route takes a body at all and how large
//      (413), and its Content-Encoding (anything but identity: 415). A
//      refusal here reads no byte of the body and closes the connection.
//   3. The body, on either framing, is counted as it arrives: past the
//      route's limit, 413 and close at once. Each read waits at most
//      `read_timeout`, and past `read_timeout` the body must keep up an
//      average of 16 KiB/s from its first byte. An upload streams to its
//      reader (http/document_routes.h) and is never held whole.
//   4. The response is written under `write_timeout` per write; a download
//      streams from the blob store.
// Connections: at most `max_connections` open (503 and close beyond it), an
// idle keep-alive connection closes after `keep_alive_timeout`, a connection
// after `keep_alive_max_requests` requests; pipelined requests are answered
// in order. `worker_threads` threads run the I/O and the handlers: a handler
// holds a thread while it runs, a connection waiting for bytes holds none.
//
// start() binds and serves on background threads; stop() (or the
// destructor) stops accepting, closes idle connections, lets requests in
// progress finish (up to `drain_timeout`) and joins. Handlers run on the
// server's threads; everything they touch is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/jwt_verifier.h"
#include "http/auth.h"
#include "http/message.h"
#include "metrics/metrics.h"
#include "service/admin_service.h"
#include "service/document_service.h"
#include "store/store.h"

namespace docvault::http {

// One part of /readyz: fills `detail` and says whether that part is ready.
// `detail` is served to anyone: stable codes only, never error text.
struct ReadinessCheck {
  std::string name;
  std::function<bool(nlohmann::ordered_json& detail)> check;
};

struct ConnectionLimits {
  std::size_t max_connections = 512;
  std::size_t worker_threads = 16;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds keep_alive_timeout{5000};
  std::size_t keep_alive_max_requests = 100;
  std::size_t max_header_bytes = 16384;
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  // How long stop() lets requests in progress finish.
  std::chrono::milliseconds drain_timeout{10000};
};

struct HttpOptions {
  std::string host = "0.0.0.0";
  int port = 8080;
  std::uint64_t max_upload_bytes = 50ull * 1024 * 1024;
  // Validity of the presigned URL a redirected download (?redirect=true) gets.
  std::chrono::seconds content_url_ttl{300};
  // Where HTTP metrics go and what /metrics exposes; must outlive the server.
  metrics::Registry* metrics = nullptr;
  // /readyz: ready when every check is.
  std::vector<ReadinessCheck> readiness;
  // Verifies the Bearer tokens of /v1 (and of /metrics when it is protected);
  // nullptr: authentication disabled, every caller anonymous.
  std::shared_ptr<const auth::JwtVerifier> jwt_verifier;
  // /metrics needs a token with the metrics:read scope.
  bool metrics_require_token = false;
  ConnectionLimits limits;
  // The admin API (/v1/admin); nullptr: not served.
  service::AdminService* admin = nullptr;
  // False: only /healthz, /readyz and /metrics (what the `consume` and
  // `relay` processes serve, for their orchestrator and scraper).
  bool serve_api = true;
};

// A route: a path pattern ("/v1/documents/([^/]+)/content": literal segments,
// and "([^/]+)" for one non-empty segment, which becomes one of
// Request::matches) and an endpoint per method. Every other method on a
// matching path gets 405 with an Allow header; HEAD is served by GET without
// the body. Matching compares segments (no regular expressions: a long path
// costs its length, never a deep recursion).
struct Route {
  std::vector<std::string> segments;
  std::string label;  // for metrics: "/v1/documents/{id}"
  std::map<std::string, Endpoint> endpoints;
  std::string allow;
};

class Router {
 public:
  void route(const std::string& pattern, std::map<std::string, Endpoint> endpoints);
  // The route whose pattern matches the whole path (captures in `matches`).
  const Route* match(const std::string& path, std::vector<std::string>& matches) const;
  // Every route, in the order registered (the OpenAPI parity test lists them).
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// The readiness check of the database: up when the store answers. When it
// does not, the answer says "down" with the reason "unreachable"; the error
// itself goes to the log (with any password removed).
ReadinessCheck database_readiness(store::Store& store);

class HttpServer {
 public:
  HttpServer(service::DocumentService& documents, HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the address (throws std::runtime_error when it cannot) and serves.
  void start();
  void stop();
  int port() const;
  const Authenticator& authenticator() const { return authenticator_; }
  // The routes this server answers (fixed at construction).
  const Router& router() const { return router_; }

 private:
  class Impl;
  HttpOptions options_;
  Authenticator authenticator_;
  Router router_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace docvault::http
