#include "aws/error.h"

#include <utility>

namespace docvault::aws {

namespace {

std::string describe(int http_status, const std::string& code, const std::string& message,
                     const std::string& request_id) {
  std::string text = "AWS error";
  if (!code.empty()) text += " " + code;
  if (http_status != 0) text += " (HTTP " + std::to_string(http_status) + ")";
  if (!message.empty()) text += ": " + message;
  if (!request_id.empty()) text += " [request id " + request_id + "]";
  return text;
}

}  // namespace

AwsError::AwsError(int http_status, std::string code, std::string message, std::string request_id)
    : std::runtime_error(describe(http_status, code, message, request_id)),
      http_status_(http_status),
      code_(std::move(code)),
      message_(std::move(message)),
      request_id_(std::move(request_id)) {}

CredentialsError::CredentialsError(std::string message)
    : AwsError(0, "CredentialsUnavailable", std::move(message)) {}

}  // namespace docvault::aws
