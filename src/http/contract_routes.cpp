#include "http/contract_routes.h"

#include <string>
#include <utility>
#include <vector>

#include "http/api_error.h"

namespace docvault::http {

// Generated from docs/ by cmake/EmbedFiles.cmake (src/http/CMakeLists.txt).
extern const std::vector<std::pair<std::string_view, std::string_view>> kContractFiles;

namespace {

// The event schemas /schemas/{name} serves (docs/schemas/).
constexpr std::string_view kSchemaNames[] = {"entity-event.json", "audit-event.json", "document-event.json"};

// The page runs only its own inline script and talks only to this server.
constexpr const char* kPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void serve_file(Response& res, std::string_view name, std::string content_type) {
  res.set_content(std::string(*contract_file(name)), std::move(content_type));
  res.set_header("Cache-Control", "no-cache");
}

}  // namespace

std::optional<std::string_view> contract_file(std::string_view name) {
  for (const auto& [file, text] : kContractFiles) {
    if (file == name) return text;
  }
  return std::nullopt;
}

void register_contract_routes(Router& router) {
  router.route("/openapi.json", {{"GET", open_endpoint([](const Request&, Response& res) {
                                    serve_file(res, "openapi.json", "application/json");
                                  })}});
  router.route("/docs", {{"GET", open_endpoint([](const Request&, Response& res) {
                            serve_file(res, "api-reference.html", "text/html; charset=utf-8");
                            res.set_header("Content-Security-Policy", kPagePolicy);
                            res.set_header("X-Content-Type-Options", "nosniff");
                          })}});
  router.route("/schemas/([^/]+)", {{"GET", open_endpoint([](const Request& req, Response& res) {
                                       const auto& name = req.matches.at(1);
                                       for (auto known : kSchemaNames) {
                                         if (name == known)
                                           return serve_file(res, known, "application/schema+json");
                                       }
                                       respond(res, ApiError::not_found("no schema of this name"));
                                     })}});
}

}  // namespace docvault::http
