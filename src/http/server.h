// The HTTP API: cpp-httplib serving the document routes, health, readiness
// and metrics, with the cross-cutting parts every request gets: a request id
// (X-Request-Id accepted or minted, echoed back), a JSON error body for every
// failure, 405 with Allow for a known route and a wrong method, one access
// log line per request, and request counts and latencies by route.
//
// start() binds and serves on a background thread; stop() (or the destructor)
// stops accepting and waits for in-flight requests. Handlers run on the
// library's worker threads; everything they touch is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "auth/jwt_verifier.h"
#include "http/auth.h"
#include "http/connection_gate.h"
#include "metrics/metrics.h"
#include "service/admin_service.h"
#include "service/document_service.h"
#include "store/store.h"

namespace docvault::http {

// One part of /readyz: fills `detail` and says whether that part is ready.
struct ReadinessCheck {
  std::string name;
  std::function<bool(nlohmann::ordered_json& detail)> check;
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
  // Connections, slow clients, timeouts (connection_gate.h).
  ConnectionLimits limits;
  // The admin API (/v1/admin); nullptr: not served.
  service::AdminService* admin = nullptr;
};

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

// Registers a route pattern with its handler per method; every other method on
// a matching path gets 405 with an Allow header.
class Router {
 public:
  explicit Router(httplib::Server& server) : server_(server) {}
  void route(const std::string& pattern, std::map<std::string, Handler> handlers);

 private:
  httplib::Server& server_;
};

// The readiness check of the database: up when the store answers.
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
  int port() const { return port_; }
  // Wraps handlers in scope requirements (http/auth.h), for routes added later.
  const Authenticator& authenticator() const { return authenticator_; }

 private:
  GatedServer server_;
  HttpOptions options_;
  Authenticator authenticator_;
  int port_ = 0;
  std::jthread thread_;
};

}  // namespace docvault::http
