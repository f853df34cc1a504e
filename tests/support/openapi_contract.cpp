#include "openapi_contract.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "http/message.h"
#include "http/server.h"
#include "json_schema.h"
#include "test_env.h"

namespace docvault::testing {
namespace {

using nlohmann::json;

constexpr const char* kMethods[] = {"get", "put", "post", "delete", "patch", "head", "options"};
// Statuses the server answers before it knows the route (a slow or too large
// head, too many connections): any request may get them.
constexpr int kBeforeRouting[] = {408, 431, 503};

const json& document() {
  static const json doc = [] {
    std::ifstream in(source_dir() / "docs" / "openapi.json");
    if (!in) throw std::runtime_error("cannot read docs/openapi.json");
    return json::parse(in);
  }();
  return doc;
}

// What a local "$ref" names (followed until it is no reference).
const json& deref(const json& node) {
  const json* at = &node;
  for (int hops = 0; at->is_object() && at->contains("$ref") && hops < 16; ++hops) {
    const auto ref = (*at)["$ref"].get<std::string>();
    if (!ref.starts_with("#/")) throw std::runtime_error("not a local $ref: " + ref);
    at = &document().at(json::json_pointer(ref.substr(1)));
  }
  return *at;
}

// A validator for `schema` (a schema object of the document, possibly a
// $ref), built once: the schema under a root that also holds the document's
// components, so its "#/components/..." references resolve.
const valijson::Schema& compiled(const json& schema) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const valijson::Schema>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[schema.dump()];
  if (!slot) {
    slot = compile_schema({{"$ref", "#/definitions/target"},
                           {"definitions", {{"target", schema}}},
                           {"components", document().at("components")}});
  }
  return *slot;
}

// Empty when `value` satisfies `schema`; else each error on a line, prefixed.
std::string violations_of(const json& schema, const json& value, const std::string& what) {
  return schema_errors(compiled(schema), value, what + ": ");
}

// The document's path templates as a Router, so a path finds its template the
// way the server finds its route ("{name}" is one non-empty segment).
struct PathTable {
  http::Router router;
  std::vector<std::string> templates;  // in the router's route order
};

const PathTable& path_table() {
  static const PathTable table = [] {
    PathTable out;
    for (const auto& [templ, item] : document().at("paths").items()) {
      std::string pattern;
      for (std::size_t at = 0; at < templ.size();) {
        const auto open = templ.find('{', at);
        const auto close = open == std::string::npos ? open : templ.find('}', open);
        if (close == std::string::npos) {
          pattern += templ.substr(at);
          break;
        }
        pattern += templ.substr(at, open - at) + "([^/]+)";
        at = close + 1;
      }
      out.router.route(pattern, {});
      out.templates.push_back(templ);
    }
    return out;
  }();
  return table;
}

// The document's path item for `path`, or null.
const json* path_item(const std::string& path) {
  const auto& table = path_table();
  std::vector<std::string> matches;
  const auto* route = table.router.match(path, matches);
  if (!route) return nullptr;
  const auto index = static_cast<std::size_t>(route - table.router.routes().data());
  return &document().at("paths").at(table.templates.at(index));
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::optional<std::string> header_of(const ApiExchange& exchange, std::string_view name) {
  for (const auto& [key, value] : exchange.headers) {
    if (http::iequals(key, name)) return value;
  }
  return std::nullopt;
}

// "application/json; charset=utf-8" -> "application/json"
std::string media_type(std::string value) {
  value = value.substr(0, value.find(';'));
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return lower(value);
}

bool is_json(const std::string& media) { return media == "application/json" || media.ends_with("+json"); }

// The media type of `content` (a response's content map) the given one matches.
std::optional<std::string> matching_media(const json& content, const std::string& given) {
  for (const auto& [declared, object] : content.items()) {
    const auto want = lower(declared);
    if (want == given || want == "*/*") return declared;
    if (want.ends_with("/*") && given.starts_with(want.substr(0, want.size() - 1))) return declared;
  }
  return std::nullopt;
}

// What is wrong with the response against the document's response object.
std::string check_response(const json& response_ref, const ApiExchange& exchange, bool head_only,
                           const std::string& where) {
  const json& response = deref(response_ref);
  std::string found;
  const auto headers = response.value("headers", json::object());
  for (const auto& [name, header_ref] : headers.items()) {
    const json& header = deref(header_ref);
    auto value = header_of(exchange, name);
    if (!value) {
      if (header.value("required", false)) found += where + ": the required header " + name + " is missing\n";
      continue;
    }
    if (header.contains("schema"))
      found += violations_of(header["schema"], json(*value), where + " header " + name);
  }
  const auto content = response.value("content", json::object());
  const auto given = media_type(header_of(exchange, "Content-Type").value_or(""));
  if (content.empty()) {
    if (!head_only && !exchange.body.empty())
      found += where + ": a body, where the document has no content\n";
    return found;
  }
  auto media = matching_media(content, given);
  if (!media) return found + where + ": Content-Type '" + given + "' is not one the document lists\n";
  if (head_only || !is_json(lower(*media)) || !content[*media].contains("schema")) return found;
  auto body = json::parse(exchange.body, nullptr, false);
  if (body.is_discarded())
    return found + where + ": the body is not JSON: " + exchange.body.substr(0, 200) + "\n";
  return found + violations_of(content[*media]["schema"], body, where + " body");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> openapi_operations() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [path, item] : document().at("paths").items()) {
    for (const char* method : kMethods) {
      if (!item.contains(method)) continue;
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      out.emplace_back(std::move(upper), path);
    }
  }
  return out;
}

std::string openapi_violations(const ApiExchange& exchange) {
  const auto path =
      http::percent_decode(std::string_view(exchange.target).substr(0, exchange.target.find('?')), false);
  const bool head_only = exchange.method == "HEAD";
  const auto method = lower(head_only ? std::string("GET") : exchange.method);
  const auto status = std::to_string(exchange.status);
  const std::string where = exchange.method + " " + exchange.target + " -> " + status;

  const json* item = path_item(path);
  const json* operation = item && item->contains(method) ? &(*item)[method] : nullptr;
  if (operation) {
    const auto& responses = operation->at("responses");
    if (responses.contains(status)) return check_response(responses[status], exchange, head_only, where);
    if (std::find(std::begin(kBeforeRouting), std::end(kBeforeRouting), exchange.status) ==
        std::end(kBeforeRouting)) {
      return where + ": status " + status + " is not documented for " + lower(exchange.method) +
             " of this path\n";
    }
  }
  const auto& unrouted = document().at("x-docvault-unrouted-responses");
  if (!unrouted.contains(status)) {
    return where + ": no operation answers this request, and " + status +
           " is not among x-docvault-unrouted-responses\n";
  }
  return check_response(unrouted[status], exchange, head_only, where);
}

}  // namespace docvault::testing
