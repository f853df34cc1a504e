// The open routes that publish docvault's contracts, for the teams that
// build on it: the OpenAPI 3.1 description of the API (GET /openapi.json),
// an API reference page that renders it (GET /docs), and the JSON Schemas of
// the events docvault consumes and emits (GET /schemas/{name}).
//
// What they serve are the repository's own files, compiled into the binary
// by cmake/EmbedFiles.cmake: docs/openapi.json, docs/api-reference.html and
// docs/schemas/*.json, byte for byte. The page is self-contained (inline
// script and style, nothing fetched from other sites but /openapi.json and
// the API itself), so it works with no internet. No route needs a token.
// Thread-safety: the files are immutable; call from any thread.
#pragma once

#include <optional>
#include <string_view>

#include "http/server.h"

namespace docvault::http {

void register_contract_routes(Router& router);

// An embedded file by name ("openapi.json", "api-reference.html",
// "audit-event.json", ...); nothing for another name.
std::optional<std::string_view> contract_file(std::string_view name);

}  // namespace docvault::http
