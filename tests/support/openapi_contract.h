// The API's OpenAPI document (docs/openapi.json) as a checker of real
// exchanges: given a request's method and path and the response's status,
// headers and body, it finds the operation the document describes for them
// and says what in the response the document does not allow. The clients of
// tests/support/docvault_instance.h run it on every response they get, so
// every HTTP suite keeps the document true as it exercises the API.
//
// The rules (ARCHITECTURE.md, "Tests", says the same):
//   - the path (query removed, percent-decoded as the server decodes it)
//     finds its path template through an http::Router, as the server finds
//     its route ("{name}" is one non-empty segment); HEAD is checked as GET,
//     without a body;
//   - a request that reaches no operation (no such path: 404, 401 under /v1;
//     no such method: 405), or a status the operation does not list that the
//     server decides before it knows the route (408, 431, 503), must be one
//     of the document's x-docvault-unrouted-responses; any other status must
//     be listed by the operation;
//   - every header the response object marks required is there and matches
//     its schema;
//   - the Content-Type is one of the response's media types (or "*/*"); a
//     JSON one (application/json, +json) has a body that is JSON and
//     satisfies the schema (json_schema.h); a response without
//     content has an empty body.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace docvault::testing {

struct ApiExchange {
  std::string method;
  std::string target;  // path and query, as sent
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // the response's
  std::string body;                                          // the response's
};

// Empty when the document allows the response; otherwise what is wrong, one
// line per finding.
std::string openapi_violations(const ApiExchange& exchange);

// Every operation the document describes, as (METHOD, path template), e.g.
// ("GET", "/v1/documents/{id}").
std::vector<std::pair<std::string, std::string>> openapi_operations();

}  // namespace docvault::testing
