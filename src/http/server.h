// The HTTP API: cpp-httplib serving the document routes, health and
// readiness, with the cross-cutting parts every request gets: a request id
// (X-Request-Id accepted or minted, echoed back), a JSON error body for every
// failure, 405 with Allow for a known route and a wrong method, and one access
// log line per request.
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

#include "service/document_service.h"
#include "store/store.h"

namespace docvault::http {

struct HttpOptions {
  std::string host = "0.0.0.0";
  int port = 8080;
  std::uint64_t max_upload_bytes = 50ull * 1024 * 1024;
  // Validity of the presigned URL a redirected download (?redirect=true) gets.
  std::chrono::seconds content_url_ttl{300};
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

class HttpServer {
 public:
  HttpServer(service::DocumentService& documents, store::Store& store, HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the address (throws std::runtime_error when it cannot) and serves.
  void start();
  void stop();
  int port() const { return port_; }

 private:
  httplib::Server server_;
  HttpOptions options_;
  int port_ = 0;
  std::jthread thread_;
};

}  // namespace docvault::http
