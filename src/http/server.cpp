#include "http/server.h"

#include <chrono>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "domain/entity.h"
#include "domain/uuid.h"
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

void register_health_routes(Router& router, store::Store& store) {
  router.route("/healthz", {{"GET", [](const httplib::Request&, httplib::Response& res) {
                               res.set_content(R"({"status":"ok"})", "application/json");
                             }}});
  router.route("/readyz", {{"GET", [&store](const httplib::Request&, httplib::Response& res) {
                              nlohmann::ordered_json database = {{"backend", store.backend()}};
                              bool ready = true;
                              try {
                                store.ping();
                                database["status"] = "up";
                              } catch (const store::StoreError& e) {
                                ready = false;
                                database["status"] = "down";
                                log::warn(kComponent, "readiness check failed", {{"error", e.what()}});
                              }
                              nlohmann::ordered_json body = {{"status", ready ? "ready" : "not_ready"},
                                                             {"checks", {{"database", database}}}};
                              res.status = ready ? 200 : 503;
                              res.set_content(body.dump(), "application/json");
                            }}});
}

}  // namespace

void Router::route(const std::string& pattern, std::map<std::string, Handler> handlers) {
  std::string allow;
  for (const auto& [method, handler] : handlers) allow += (allow.empty() ? "" : ", ") + method;
  Handler not_allowed = [allow](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", allow);
    respond(res, error_for_status(405));
  };
  auto pick = [&](const char* method) {
    auto it = handlers.find(method);
    return it == handlers.end() ? not_allowed : it->second;
  };
  server_.Get(pattern, pick("GET"));
  server_.Post(pattern, pick("POST"));
  server_.Put(pattern, pick("PUT"));
  server_.Patch(pattern, pick("PATCH"));
  server_.Delete(pattern, pick("DELETE"));
  server_.Options(pattern, pick("OPTIONS"));
}

HttpServer::HttpServer(service::DocumentService& documents, store::Store& store, HttpOptions options)
    : options_(std::move(options)) {
  server_.set_payload_max_length(options_.max_upload_bytes + kMultipartOverhead);

  server_.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    res.set_header(kRequestIdHeader, request_id_for(req));
    // cpp-httplib 0.11 applies a Range header to whatever the route answers,
    // unchecked (a JSON error sliced, a range past the end thrown out of the
    // writer). The content route handles Range itself, so the library's
    // parsed ranges are dropped. The request object is not const (the library
    // owns it and hands it on as const), so clearing it is well-defined.
    const_cast<httplib::Request&>(req).ranges.clear();
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Failures the library answers itself (bad framing, body too large, no
  // route) arrive here with an empty body; give them the API's error shape.
  server_.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& res) {
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

  server_.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    log::info(kComponent, "request",
              {{"request_id", res.get_header_value(kRequestIdHeader)}, {"method", req.method},
               {"path", req.path}, {"status", res.status}, {"remote_addr", req.remote_addr}});
  });

  Router router(server_);
  register_health_routes(router, store);
  register_document_routes(router, documents, options_.max_upload_bytes, options_.content_url_ttl);
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
