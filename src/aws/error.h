// The failure type of the aws layer: every call that talks to AWS (or to a
// metadata endpoint on the way there) and cannot complete throws an AwsError
// or a subclass. Callers catch it at one place per worker loop and turn it into
// a retry, a log line and a metric.
//
// An AwsError carries what AWS said, when it said something: the HTTP status
// (0 when no response arrived: DNS, connect, timeout), the AWS error code
// ("AWS.SimpleQueueService.NonExistentQueue", "Throttling", ...), the message
// and the request id support asks for. what() combines them and never holds
// credentials; code that builds an AwsError must not put secrets into it.
//
// Immutable after construction; safe to share between threads.
#pragma once

#include <stdexcept>
#include <string>

namespace docvault::aws {

class AwsError : public std::runtime_error {
 public:
  AwsError(int http_status, std::string code, std::string message, std::string request_id = {});

  // 0 when the request never got an HTTP response.
  int http_status() const noexcept { return http_status_; }
  const std::string& code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& request_id() const noexcept { return request_id_; }

 private:
  int http_status_;
  std::string code_;
  std::string message_;
  std::string request_id_;
};

// No source of the credential chain produced credentials, or a configured
// source failed. The message lists each source tried and why it gave nothing;
// it never contains a key, a secret or a token.
class CredentialsError : public AwsError {
 public:
  explicit CredentialsError(std::string message);
};

}  // namespace docvault::aws
