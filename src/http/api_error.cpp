#include "http/api_error.h"

#include <nlohmann/json.hpp>

namespace docvault::http {

ApiError ApiError::bad_field(const FieldError& error) {
  return ApiError{400, "invalid_field", error.field + " " + error.message, error.field};
}

ApiError ApiError::not_found(std::string message) {
  return ApiError{404, "not_found", std::move(message), std::nullopt};
}

ApiError ApiError::internal() {
  return ApiError{500, "internal_error", "the server failed to handle the request", std::nullopt};
}

void respond_json(Response& res, int status, const nlohmann::ordered_json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void respond(Response& res, const ApiError& error) {
  nlohmann::ordered_json body = {{"code", error.code}, {"message", error.message}};
  if (error.field) body["field"] = *error.field;
  res.status = error.status;
  res.set_content(nlohmann::ordered_json{{"error", body}}.dump(), "application/json");
}

ApiError error_for_status(int status) {
  switch (status) {
    case 400: return ApiError{400, "malformed_request", "the request could not be parsed", std::nullopt};
    case 404: return ApiError::not_found("no such route");
    case 405: return ApiError{405, "method_not_allowed", "the method is not allowed on this route", std::nullopt};
    case 408: return ApiError{408, "request_timeout", "the request came too slowly", std::nullopt};
    case 413: return ApiError{413, "payload_too_large", "the request body is larger than allowed", std::nullopt};
    case 414: return ApiError{414, "uri_too_long", "the request URI is too long", std::nullopt};
    case 415: return ApiError{415, "unsupported_media_type", "the request body has an unsupported content type", std::nullopt};
    case 431: return ApiError{431, "headers_too_large", "the request head is too large", std::nullopt};
    case 423: return ApiError{423, "suspended", "the resource is suspended", std::nullopt};
    case 503: return ApiError{503, "unavailable", "the service is not ready", std::nullopt};
    default:
      if (status >= 500) return ApiError::internal();
      return ApiError{status, "request_error", "the request was refused", std::nullopt};
  }
}

}  // namespace docvault::http
