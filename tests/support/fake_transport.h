// An in-memory HttpTransport for protocol tests: records every request and
// answers from a queue of canned responses (the last one repeats). Not
// thread-safe: one test thread drives it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aws/credentials.h"
#include "aws/http_transport.h"
#include "aws/service_client.h"

namespace docvault::aws::testing {

class FakeTransport final : public HttpTransport {
 public:
  void respond(long status, std::string body, Headers headers = {}) {
    responses_.push_back({status, std::move(headers), std::move(body)});
  }

  HttpResponse send(const HttpRequest& request, std::stop_token) override {
    // Kept with its body: what a body_view lends is gone after the call.
    requests.push_back(request);
    requests.back().body = std::string(request.payload());
    requests.back().body_view = {};
    if (responses_.empty()) return {200, {}, "{}"};
    auto response = responses_.front();
    if (responses_.size() > 1) responses_.erase(responses_.begin());
    return response;
  }

  std::vector<HttpRequest> requests;

 private:
  std::vector<HttpResponse> responses_;
};

// Client options over `transport`: fixed region and credentials, no
// endpoint override unless `endpoint` is given, retries without delay.
inline ServiceClientOptions fake_options(std::shared_ptr<HttpTransport> transport,
                                         std::string endpoint = {}) {
  std::map<std::string, std::string, std::less<>> variables{{"AWS_REGION", "us-east-1"}};
  if (!endpoint.empty()) variables["AWS_ENDPOINT_URL"] = endpoint;
  ServiceClientOptions options;
  options.environment = fixed_environment(std::move(variables));
  options.transport = std::move(transport);
  options.credentials =
      std::make_shared<StaticCredentialsProvider>(Credentials{"AKIDEXAMPLE", "secret", "", {}});
  options.retry = RetryPolicy{.max_attempts = 3,
                              .base_delay = std::chrono::milliseconds(0),
                              .max_delay = std::chrono::milliseconds(0)};
  return options;
}

// The value of header `name` (case-insensitive) in `request`, or "".
inline std::string header_of(const HttpRequest& request, std::string_view name) {
  HttpResponse view{0, request.headers, {}};
  const std::string* value = view.header(name);
  return value ? *value : "";
}

}  // namespace docvault::aws::testing
