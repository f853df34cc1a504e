#include "aws/service_client.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "runtime/parse.h"

namespace docvault::aws {

namespace {

// SQS's query-compatible codes carry a namespace ("AWS.SimpleQueueService.RequestThrottled").
std::string_view last_component(std::string_view code) {
  auto dot = code.rfind('.');
  return dot == std::string_view::npos ? code : code.substr(dot + 1);
}

bool is_transient_error(std::string_view code) {
  static constexpr std::array<std::string_view, 5> kTransient = {
      "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure",
      "ServiceUnavailable"};
  return std::find(kTransient.begin(), kTransient.end(), last_component(code)) != kTransient.end();
}

}  // namespace

RetryPolicy RetryPolicy::from_environment(const Environment& environment) {
  RetryPolicy policy;
  if (auto text = environment("AWS_MAX_ATTEMPTS")) {
    if (auto value = runtime::parse_integer<int>(*text); value && *value > 0) policy.max_attempts = *value;
  }
  return policy;
}

std::chrono::milliseconds RetryPolicy::delay_before(int retry) const {
  // random(0, min(max_delay, base_delay * 2^(retry-1))): "full jitter".
  return runtime::Backoff{.base = base_delay, .cap = max_delay, .jitter = runtime::Backoff::Jitter::full}.delay(
      std::max(0, retry - 1));
}

bool is_throttling_error(std::string_view code) {
  static constexpr std::array<std::string_view, 15> kThrottling = {
      "Throttling",
      "ThrottlingException",
      "ThrottledException",
      "RequestThrottledException",
      "TooManyRequestsException",
      "ProvisionedThroughputExceededException",
      "TransactionInProgressException",
      "RequestLimitExceeded",
      "BandwidthLimitExceeded",
      "LimitExceededException",
      "RequestThrottled",
      "SlowDown",
      "PriorRequestNotComplete",
      "EC2ThrottledException",
      "KMSThrottlingException"};
  return std::find(kThrottling.begin(), kThrottling.end(), last_component(code)) !=
         kThrottling.end();
}

bool is_retryable(const AwsError& error) {
  if (dynamic_cast<const RequestCancelled*>(&error) != nullptr) return false;
  if (dynamic_cast<const CredentialsError*>(&error) != nullptr) return false;
  int status = error.http_status();
  if (status == 0 || status == 429 || status >= 500) return true;
  return is_throttling_error(error.code()) || is_transient_error(error.code());
}

namespace {

// The category a code names whatever the HTTP status, if it names one.
std::optional<std::string_view> category_of_code(std::string_view code) {
  static constexpr std::array<std::string_view, 14> kAccessDenied = {
      "AccessDenied", "AccessDeniedException", "AuthorizationError", "AuthorizationErrorException",
      "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "IncompleteSignature",
      "InvalidAccessKeyId", "ExpiredToken", "ExpiredTokenException", "MissingAuthenticationToken",
      "InvalidSecurity", "KMSAccessDeniedException"};
  static constexpr std::array<std::string_view, 8> kNotFound = {
      "NonExistentQueue", "QueueDoesNotExist", "NotFound", "NotFoundException", "NoSuchBucket", "NoSuchKey",
      "ResourceNotFoundException", "TopicNotFound"};
  const auto name = last_component(code);
  auto in = [&name](const auto& set) { return std::find(set.begin(), set.end(), name) != set.end(); };
  if (name == "RequestCancelled") return "cancelled";
  if (name == "CredentialsUnavailable") return "credentials_unavailable";
  if (name == "InvalidConfiguration") return "invalid_configuration";
  if (name == "NetworkError") return "network_error";
  if (in(kAccessDenied)) return "access_denied";
  if (in(kNotFound)) return "not_found";
  if (is_throttling_error(code)) return "throttled";
  if (is_transient_error(code)) return "service_error";
  return std::nullopt;
}

}  // namespace

std::string_view error_category(const AwsError& error) {
  if (dynamic_cast<const RequestCancelled*>(&error) != nullptr) return "cancelled";
  if (dynamic_cast<const CredentialsError*>(&error) != nullptr) return "credentials_unavailable";
  if (auto category = category_of_code(error.code())) return *category;
  const int status = error.http_status();
  if (status == 0) return error.code().empty() ? "network_error" : "other";
  if (status == 401 || status == 403) return "access_denied";
  if (status == 404) return "not_found";
  if (status == 429) return "throttled";
  if (status >= 500) return "service_error";
  if (status >= 400) return "request_refused";
  return "other";
}

std::string_view error_category(const std::exception& error) {
  const auto* aws_error = dynamic_cast<const AwsError*>(&error);
  return aws_error != nullptr ? error_category(*aws_error) : "other";
}

std::string_view entry_error_category(std::string_view code, bool sender_fault) {
  if (auto category = category_of_code(code)) return *category;
  return sender_fault ? "request_refused" : "service_error";
}

ServiceClient::ServiceClient(std::string service, ServiceClientOptions options,
                             ErrorParser parse_error)
    : service_(std::move(service)), options_(std::move(options)), parse_error_(std::move(parse_error)) {
  if (!options_.transport) options_.transport = std::make_shared<CurlTransport>();
  if (!options_.credentials) {
    CredentialsChainOptions chain;
    chain.environment = options_.environment;
    chain.clock = options_.clock;
    options_.credentials = std::make_shared<DefaultCredentialsChain>(std::move(chain));
  }
  retry_ = options_.retry ? *options_.retry : RetryPolicy::from_environment(options_.environment);
  retry_.max_attempts = std::max(1, retry_.max_attempts);
}

HttpResponse ServiceClient::call(const ServiceRequest& request, std::stop_token stop) const {
  ServiceCalls calls(*this);
  calls.start(0, request);
  auto done = calls.wait(stop);
  if (done.front().error) std::rethrow_exception(done.front().error);
  return std::move(done.front().response);
}

HttpRequest ServiceClient::prepare(const ServiceRequest& request, BodySink sink) const {
  auto url_parts = parse_url(request.endpoint.url);
  if (!url_parts) {
    throw AwsError(0, "InvalidConfiguration", "not an http(s) endpoint: " + request.endpoint.url);
  }
  // The endpoint may carry a path prefix (an override behind a gateway).
  std::string target = url_parts->path == "/" ? request.path : url_parts->path + request.path;
  if (!request.query.empty()) target += "?" + request.query;
  HttpRequest http;
  http.method = request.method;
  http.url = url_parts->scheme + "://" + url_parts->authority + target;
  http.timeout = request.timeout;
  // The body is lent, not copied: the ServiceRequest outlives its attempts.
  http.body_view = request.body_view.empty() ? std::string_view(request.body) : request.body_view;
  http.body_sink = std::move(sink);
  http.headers.reserve(request.headers.size() + 5);
  http.headers.push_back({"Host", url_parts->authority});
  http.headers.insert(http.headers.end(), request.headers.begin(), request.headers.end());

  auto credentials = options_.credentials->credentials();
  Signer signer(request.endpoint.region, service_, SigningOptions::for_service(service_), key_cache_);
  auto signed_request = signer.sign({.method = http.method,
                                     .target = target,
                                     .headers = http.headers,
                                     .body = http.body_view,
                                     .payload_hash = request.payload_hash},
                                    *credentials, options_.clock->now());
  for (auto& header : signed_request.headers_to_add) http.headers.push_back(std::move(header));
  return http;
}

std::string ServiceClient::presign(const ServiceRequest& request, std::chrono::seconds expires) const {
  auto url_parts = parse_url(request.endpoint.url);
  if (!url_parts) {
    throw AwsError(0, "InvalidConfiguration", "not an http(s) endpoint: " + request.endpoint.url);
  }
  std::string target = url_parts->path == "/" ? request.path : url_parts->path + request.path;
  if (!request.query.empty()) target += "?" + request.query;
  Headers headers{{"Host", url_parts->authority}};
  headers.insert(headers.end(), request.headers.begin(), request.headers.end());
  auto options = SigningOptions::for_service(service_);
  options.expires = expires;
  Signer signer(request.endpoint.region, service_, options, key_cache_);
  auto credentials = options_.credentials->credentials();
  auto signed_request = signer.presign(
      {.method = request.method, .target = target, .headers = headers, .body = {}, .payload_hash = kUnsignedPayload},
      *credentials, options_.clock->now());
  target += request.query.empty() ? "?" : "&";
  target += signed_request.query_to_append;
  return url_parts->scheme + "://" + url_parts->authority + target;
}

// One call: its request, the attempt in flight (or the time of the next), and
// whether its sink has had bytes (then it is not retried).
struct ServiceCalls::Call {
  std::uint64_t id = 0;  // the transport's tag for its attempts
  Tag tag = 0;
  const ServiceRequest* request = nullptr;
  int max_attempts = 1;
  int attempts = 0;
  bool streamed = false;
  HttpRequest http;                             // the attempt in flight
  std::optional<runtime::SteadyTime> retry_at;  // waiting to retry
};

ServiceCalls::ServiceCalls(const ServiceClient& client)
    : client_(client), requests_(client.options_.transport->concurrent()) {}

ServiceCalls::~ServiceCalls() = default;

void ServiceCalls::start(Tag tag, const ServiceRequest& request) {
  const int limit = client_.retry_.max_attempts;
  const auto id = next_id_++;
  auto& call = calls_[id];
  call.id = id;
  call.tag = tag;
  call.request = &request;
  call.max_attempts = request.max_attempts > 0 ? std::min(request.max_attempts, limit) : limit;
  try {
    send_attempt(call);
  } catch (...) {
    calls_.erase(id);
    throw;
  }
}

void ServiceCalls::send_attempt(Call& call) {
  BodySink sink;
  if (call.request->body_sink) {
    sink = [&call](std::string_view chunk) {
      call.streamed = true;
      return call.request->body_sink(chunk);
    };
  }
  ++call.attempts;
  call.retry_at.reset();
  // Signed afresh for each attempt: a new X-Amz-Date, the current credentials.
  call.http = client_.prepare(*call.request, std::move(sink));
  requests_->start(call.id, call.http);
}

void ServiceCalls::attempt_ended(ConcurrentRequests::Done attempt, std::vector<Done>& done) {
  auto it = calls_.find(attempt.tag);
  if (it == calls_.end()) return;
  Call& call = it->second;
  std::exception_ptr error = attempt.error;
  if (!error && (attempt.response.status < 200 || attempt.response.status >= 300)) {
    error = std::make_exception_ptr(client_.parse_error_(attempt.response));
  }
  if (error) {
    bool retry = false;
    try {
      std::rethrow_exception(error);
    } catch (const AwsError& e) {
      retry = call.attempts < call.max_attempts && is_retryable(e) && !call.streamed;
    } catch (...) {
    }
    if (retry) {
      call.retry_at = client_.options_.clock->steady_now() + client_.retry_.delay_before(call.attempts);
      return;
    }
  }
  done.push_back({call.tag, error ? HttpResponse{} : std::move(attempt.response), error});
  calls_.erase(it);
}

void ServiceCalls::cancel_all(std::vector<Done>& done) {
  // Abandons the attempts in flight before their requests go.
  requests_.reset();
  for (auto& [id, call] : calls_) done.push_back({call.tag, {}, std::make_exception_ptr(RequestCancelled())});
  calls_.clear();
  requests_ = client_.options_.transport->concurrent();
}

std::vector<ServiceCalls::Done> ServiceCalls::wait(std::stop_token stop) {
  const runtime::Clock& clock = *client_.options_.clock;
  std::vector<Done> done;
  while (done.empty() && !calls_.empty()) {
    if (stop.stop_requested()) {
      cancel_all(done);
      break;
    }
    // Attempts whose backoff is over go out; the next backoff bounds the wait.
    const auto now = clock.steady_now();
    std::optional<runtime::SteadyTime> next_retry;
    for (auto it = calls_.begin(); it != calls_.end();) {
      Call& call = it->second;
      if (call.retry_at && *call.retry_at <= now) {
        try {
          send_attempt(call);
        } catch (...) {
          // Not sent (signing failed, say): the call ends with that error.
          done.push_back({call.tag, {}, std::current_exception()});
          it = calls_.erase(it);
          continue;
        }
      } else if (call.retry_at && (!next_retry || *call.retry_at < *next_retry)) {
        next_retry = call.retry_at;
      }
      ++it;
    }
    if (!done.empty()) break;
    if (requests_->in_flight() == 0) {
      // Only backoffs left: sleep through the first (a stop cuts it short).
      if (next_retry) clock.wait_until(*next_retry, stop);
      continue;
    }
    auto max_wait = std::chrono::milliseconds(1000);
    if (next_retry) {
      max_wait = std::min(max_wait, std::chrono::ceil<std::chrono::milliseconds>(*next_retry - now));
    }
    for (auto& attempt : requests_->wait(max_wait, stop)) attempt_ended(std::move(attempt), done);
  }
  return done;
}

}  // namespace docvault::aws
