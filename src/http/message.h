// The request and response the routes see: plain data, no HTTP library in
// them. The server (http/server.cpp) fills a Request from a parsed request
// head and serializes a Response; everything about framing, limits and
// connections stays there.
//
// Header names compare case-insensitively; header values are kept exactly as
// received (never percent-decoded). The path is percent-decoded once for
// routing; query parameters are decoded as application/x-www-form-urlencoded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/trace.h"

namespace docvault::http {

// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  // The first value of `name`, or "" when absent.
  std::string get(std::string_view name) const;
  bool has(std::string_view name) const;
  std::size_t count(std::string_view name) const;
  // Adds a field (a response may carry a name more than once).
  void add(std::string name, std::string value);
  // Replaces every field named `name` with one.
  void set(std::string name, std::string value);
  void erase(std::string_view name);
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool iequals(std::string_view a, std::string_view b);

struct Request {
  std::string method;
  std::string target;  // as received: path and query
  std::string path;    // percent-decoded
  std::multimap<std::string, std::string> params;
  Headers headers;
  // The body of a route that takes it whole (Endpoint::body_limit); uploads stream instead.
  std::string body;
  // The route pattern's captures: matches[1] is the first group.
  std::vector<std::string> matches;
  std::string remote_addr;
  // The request's trace: continued from its traceparent/tracestate headers,
  // or a new one. The server makes it the thread's current trace
  // (domain/trace.h) whenever it calls the route, so the events the route
  // causes and its log lines carry it.
  Trace trace;

  std::string header(std::string_view name) const { return headers.get(name); }
  bool has_header(std::string_view name) const { return headers.has(name); }
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
  std::string param(const std::string& name) const;
};

// Streams `length` bytes from `offset` of a response body to `sink`; false
// (or an exception) ends the response early.
using ContentProvider = std::function<bool(std::uint64_t offset, std::uint64_t length,
                                           const std::function<bool(std::string_view)>& sink)>;

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // A streamed body of `content_length` bytes instead of `body`.
  ContentProvider provider;
  std::uint64_t content_length = 0;

  void set_header(std::string name, std::string value) { headers.set(std::move(name), std::move(value)); }
  std::string header(std::string_view name) const { return headers.get(name); }
  bool has_header(std::string_view name) const { return headers.has(name); }
  void set_content(std::string content, std::string content_type);
  void set_content_provider(std::uint64_t length, std::string content_type, ContentProvider content);
};

// "%41b+c" -> "Ab c" (with plus_as_space) ; invalid escapes are kept as is.
std::string percent_decode(std::string_view text, bool plus_as_space);

// Splits "a=1&b=2" into decoded pairs.
std::multimap<std::string, std::string> parse_query(std::string_view query);

}  // namespace docvault::http
#include "domain/trace.h"
