#include "http/server.h"

#include <chrono>
#include <string>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "domain/entity.h"
#include "domain/uuid.h"
#include "http/admin_routes.h"
#include "http/api_error.h"
#include "http/document_routes.h"
#include "log/log.h"

namespace docvault::http {
namespace {

constexpr std::string_view kComponent = "http";
constexpr const char* kRequestIdHeader = "X-Request-Id";
// Room for the multipart framing around the largest allowed file.
constexpr std::uint64_t kMultipartOverhead = 64 * 1024;

// A caller's request id is kept only if it is short printable text, so it
// cannot forge log lines or headers.
std::string request_id_for(const httplib::Request& req) {
  auto given = req.get_header_value(kRequestIdHeader);
  if (!given.empty() && given.size() <= 128 && is_printable_utf8(given)) return given;
  return uuid_v4();
}

// Set per request on the handling thread: the route label for metrics and
// when the request began. cpp-httplib runs the pre-routing handler, the route
// and the logger of one request on one thread.
thread_local std::string t_route;
thread_local std::chrono::steady_clock::time_point t_started;

// "/v1/documents/([^/]+)/content" -> "/v1/documents/{id}/content"
std::string route_label(const std::string& pattern) {
  std::string out = pattern;
  for (std::size_t pos; (pos = out.find("([^/]+)")) != std::string::npos;) out.replace(pos, 7, "{id}");
  return out;
}

void register_operational_routes(Router& router, const HttpOptions& options, const Authenticator& auth) {
  router.route("/healthz", {{"GET", [](const httplib::Request&, httplib::Response& res) {
                               res.set_content(R"({"status":"ok"})", "application/json");
                             }}});
  router.route("/readyz", {{"GET", [&options](const httplib::Request&, httplib::Response& res) {
                              nlohmann::ordered_json checks = nlohmann::ordered_json::object();
                              bool ready = true;
                              for (const auto& check : options.readiness) {
                                nlohmann::ordered_json detail = nlohmann::ordered_json::object();
                                bool ok = false;
                                try {
                                  ok = check.check(detail);
                                } catch (const std::exception& e) {
                                  detail["error"] = e.what();
                                }
                                if (!ok) log::warn(kComponent, "readiness check failed", {{"check", check.name}, {"detail", detail}});
                                ready = ready && ok;
                                checks[check.name] = std::move(detail);
                              }
                              nlohmann::ordered_json body = {{"status", ready ? "ready" : "not_ready"},
                                                             {"checks", std::move(checks)}};
                              res.status = ready ? 200 : 503;
                              res.set_content(body.dump(), "application/json");
                            }}});
  if (options.metrics) {
    Handler expose = [&options](const httplib::Request&, httplib::Response& res) {
      res.set_content(options.metrics->expose(), "text/plain; version=0.0.4");
    };
    // Open by default (scrapers inside the network); DOCVAULT_METRICS_AUTH=required asks for metrics:read.
    if (options.metrics_require_token) expose = auth.require(auth::kScopeMetricsRead, std::move(expose));
    router.route("/metrics", {{"GET", std::move(expose)}});
  }
}

}  // namespace

void Router::route(const std::string& pattern, std::map<std::string, Handler> handlers) {
  std::string allow;
  for (const auto& [method, handler] : handlers) allow += (allow.empty() ? "" : ", ") + method;
  Handler not_allowed = [allow](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", allow);
    respond(res, error_for_status(405));
  };
  auto pick = [&](const char* method) -> Handler {
    auto it = handlers.find(method);
    Handler handler = it == handlers.end() ? not_allowed : it->second;
    return [label = route_label(pattern), handler](const httplib::Request& req, httplib::Response& res) {
      t_route = label;
      handler(req, res);
    };
  };
  server_.Get(pattern, pick("GET"));
  server_.Post(pattern, pick("POST"));
  server_.Put(pattern, pick("PUT"));
  server_.Patch(pattern, pick("PATCH"));
  server_.Delete(pattern, pick("DELETE"));
  server_.Options(pattern, pick("OPTIONS"));
}

ReadinessCheck database_readiness(store::Store& store) {
  return ReadinessCheck{"database", [&store](nlohmann::ordered_json& detail) {
                          detail["backend"] = store.backend();
                          try {
                            store.ping();
                            detail["status"] = "up";
                            return true;
                          } catch (const store::StoreError& e) {
                            detail["status"] = "down";
                            detail["error"] = e.what();
                            return false;
                          }
                        }};
}

HttpServer::HttpServer(service::DocumentService& documents, HttpOptions options)
    : server_(options.limits), options_(std::move(options)), authenticator_(options_.jwt_verifier) {
  server_.set_payload_max_length(options_.max_upload_bytes + kMultipartOverhead);

  server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    res.set_header(kRequestIdHeader, request_id_for(req));
    t_route = "unmatched";
    t_started = std::chrono::steady_clock::now();
    // cpp-httplib 0.11 applies a Range header to whatever the route answers,
    // unchecked (a JSON error sliced, a range past the end thrown out of the
    // writer). The content route handles Range itself, so the library's
    // parsed ranges are dropped. The request object is not const (the library
    // owns it and hands it on as const), so clearing it is well-defined.
    const_cast<httplib::Request&>(req).ranges.clear();
    // No token, no API (and no upload body read): 401 before routing.
    if (authenticator_.refuse_unauthenticated(req, res)) return httplib::Server::HandlerResponse::Handled;
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Failures the library answers itself (bad framing, body too large, no
  // route) arrive here with an empty body; give them the API's error shape.
  server_.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& req, httplib::Response& res) {
        // Refusals made before routing (a Range header that does not parse
        // gets 416 there) have not been given a request id yet.
        if (!res.has_header(kRequestIdHeader)) res.set_header(kRequestIdHeader, request_id_for(req));
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        respond(res, error_for_status(res.status));
        return httplib::Server::HandlerResponse::Handled;
      }));

  server_.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::error(kComponent, "request failed",
               {{"request_id", res.get_header_value(kRequestIdHeader)}, {"method", req.method},
                {"path", req.path}, {"error", what}});
    respond(res, ApiError::internal());
  });

  server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (options_.metrics) {
      auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_started).count();
      options_.metrics
          ->counter("docvault_http_requests_total", "HTTP requests, by route, method and status.",
                    {{"route", t_route}, {"method", req.method}, {"status", std::to_string(res.status)}})
          .inc();
      options_.metrics
          ->histogram("docvault_http_request_duration_seconds", "HTTP request latency, by route.",
                      metrics::latency_buckets(), {{"route", t_route}})
          .observe(seconds);
    }
    log::info(kComponent, "request",
              {{"request_id", res.get_header_value(kRequestIdHeader)}, {"method", req.method},
               {"path", req.path}, {"status", res.status}, {"remote_addr", req.remote_addr}});
    // A request the library refuses before routing never sets these.
    t_route = "unmatched";
    t_started = std::chrono::steady_clock::now();
  });

  Router router(server_);
  register_operational_routes(router, options_, authenticator_);
  register_document_routes(router, documents, authenticator_, options_.max_upload_bytes, options_.content_url_ttl);
  if (options_.admin) register_admin_routes(router, *options_.admin, authenticator_);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  // Port 0 asks the kernel for a free port (tests); the socket is bound before
  // the thread starts, so connections made after start() returns are queued.
  bool bound = options_.port == 0
                   ? (port_ = server_.bind_to_any_port(options_.host)) > 0
                   : server_.bind_to_port(options_.host, port_ = options_.port);
  if (!bound) {
    throw std::runtime_error("cannot listen on " + options_.host + ":" + std::to_string(options_.port));
  }
  server_.widen_backlog();
  thread_ = std::jthread([this] { server_.listen_after_bind(); });
  log::info(kComponent, "HTTP server listening", {{"host", options_.host}, {"port", port_}});
}

void HttpServer::stop() {
  if (!thread_.joinable()) return;
  server_.stop();
  thread_.join();
  log::info(kComponent, "HTTP server stopped");
}

}  // namespace docvault::http
