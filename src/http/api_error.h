// The API's error responses: {"error": {"code", "message", "field"}}.
//
// Every 4xx and 5xx docvault answers has this body, whether a route produced
// it or the server did (malformed request, body too large, no route).
// Messages are written for the caller and never carry internals: an
// infrastructure failure is logged in full and answered as a bare 500.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "domain/result.h"
#include "http/message.h"

namespace docvault::http {

struct ApiError {
  int status;
  std::string code;
  std::string message;
  std::optional<std::string> field;

  static ApiError bad_field(const FieldError& error);
  static ApiError not_found(std::string message);
  static ApiError internal();
};

// Writes a JSON body with `status`.
void respond_json(Response& res, int status, const nlohmann::ordered_json& body);

// Writes the error as the response (status, JSON body, content type).
void respond(Response& res, const ApiError& error);

// The error body the server's own refusals get, by status.
ApiError error_for_status(int status);

}  // namespace docvault::http
