// A signed, retrying caller of one AWS service: what the SQS and SNS clients
// share below their protocols.
//
// `ServiceClient::call` signs a request with SigV4 for its service and the
// endpoint's region, sends it through the HttpTransport, and turns a non-2xx
// response into an AwsError with the protocol's error parser. It retries as
// the SDKs' "standard" mode does:
//   - up to `max_attempts` attempts in all (3 by default, AWS_MAX_ATTEMPTS);
//   - on throttling codes (Throttling, ThrottlingException, RequestThrottled,
//     TooManyRequestsException, ProvisionedThroughputExceededException,
//     RequestLimitExceeded, SlowDown, ...), transient codes (RequestTimeout,
//     InternalError, ...), HTTP 429 and 5xx, and network errors (status 0);
//     never on another 4xx, a cancellation or a credentials failure;
//   - after a delay of random(0, min(max_delay, base_delay * 2^(retry-1))),
//     retry = 1 before the second attempt ("full jitter"); a stop request
//     cuts the delay short;
//   - each attempt is signed afresh, with a new X-Amz-Date and the provider's
//     current credentials.
// The final failure is rethrown as it was: callers see the last AwsError.
//
// Thread-safety: a ServiceClient is immutable after construction; any number
// of threads may call it at once (the transport and credentials provider it
// holds must allow that, as the defaults do).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/endpoint.h"
#include "aws/error.h"
#include "aws/http_transport.h"
#include "aws/sigv4.h"
#include "runtime/backoff.h"
#include "runtime/clock.h"

namespace docvault::aws {

struct RetryPolicy {
  int max_attempts = 3;
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_delay = std::chrono::seconds(20);

  // AWS_MAX_ATTEMPTS when set to a positive number, else the defaults.
  static RetryPolicy from_environment(const Environment& environment);

  // The delay before retry number `retry` (1 for the second attempt):
  // runtime::Backoff with full jitter.
  std::chrono::milliseconds delay_before(int retry) const;
};

bool is_throttling_error(std::string_view code);
// Whether standard mode retries this failure.
bool is_retryable(const AwsError& error);

// What kind of failure this was, as one of a closed set of stable names, for
// answers that must not carry AWS's own text (an error message names queues,
// topics, hosts and accounts): "network_error" (no HTTP answer: DNS, connect,
// timeout), "credentials_unavailable", "access_denied", "not_found",
// "throttled", "service_error" (5xx or a transient code), "request_refused"
// (another 4xx), "invalid_configuration", "cancelled", "other". Never AWS's
// code itself: that is any text the endpoint sends.
std::string_view error_category(const AwsError& error);
// The same for any exception: "other" when it is not an AwsError.
std::string_view error_category(const std::exception& error);
// The same for one failed entry of a batch call (no HTTP status of its own):
// by its code, else "request_refused" when the sender is at fault, else
// "service_error".
std::string_view entry_error_category(std::string_view code, bool sender_fault);

// What the clients share: construct once per process and hand to each client.
// Null members get defaults: a CurlTransport, and the default credentials
// chain over `environment`.
struct ServiceClientOptions {
  Environment environment = process_environment();
  std::shared_ptr<HttpTransport> transport;
  std::shared_ptr<CredentialsProvider> credentials;
  // Unset: RetryPolicy::from_environment(environment).
  std::optional<RetryPolicy> retry;
  // The signing time and the waits between attempts; tests pin or advance
  // it. Must outlive the clients.
  const runtime::Clock* clock = &runtime::system_clock();
};

// Bounds one call more tightly than the client's defaults. A probe of a
// dependency that was down, or a call its caller retries on a schedule of its
// own (the consumer's deletes), wants one short attempt: standard mode's
// retries of full-length requests would hold it for minutes against an
// endpoint that accepts connections and never answers.
struct CallLimits {
  std::chrono::milliseconds timeout{0};  // each attempt, connect included; zero: the call's own
  int max_attempts = 0;                  // zero: the client's RetryPolicy; never more than it

  // One attempt of at most `timeout`.
  static CallLimits single(std::chrono::milliseconds timeout) { return {timeout, 1}; }
};

// One request of a protocol, before signing.
struct ServiceRequest {
  Endpoint endpoint;
  std::string method = "POST";
  std::string path = "/";  // URI-encoded as it goes on the wire
  std::string query;       // "a=b&c" already encoded, without '?'; may be empty
  Headers headers;         // protocol headers: Content-Type, X-Amz-Target, Range
  std::string body;
  // When not empty, sent instead of `body` without a copy (S3 parts).
  std::string_view body_view;
  // The body's lowercase hex SHA-256 when the caller has it already; empty:
  // hashed for each attempt.
  std::string payload_hash;
  // Streams a 2xx response body (see HttpRequest::body_sink). A streamed call
  // is retried only while nothing has reached the sink: bytes cannot be taken
  // back, so after the first chunk a failure is the caller's to resume.
  BodySink body_sink;
  std::chrono::milliseconds timeout{0};  // zero: the transport's default
  int max_attempts = 0;                  // zero: the client's RetryPolicy; never more than it

  // Applies the caller's limits: a timeout replaces the request's own, and
  // the attempts are capped.
  void limit(const CallLimits& limits) {
    if (limits.timeout.count() > 0) timeout = limits.timeout;
    if (limits.max_attempts > 0) max_attempts = limits.max_attempts;
  }
};

// Builds the AwsError for a non-2xx response (status, code, message, request id).
using ErrorParser = std::function<AwsError(const HttpResponse& response)>;

class ServiceCalls;

class ServiceClient {
 public:
  // `service` is the signing name: "sqs", "sns".
  ServiceClient(std::string service, ServiceClientOptions options, ErrorParser parse_error);

  // A 2xx response, or throws the last AwsError (RequestCancelled on stop).
  // A ServiceCalls of one call.
  HttpResponse call(const ServiceRequest& request, std::stop_token stop = {}) const;

  // The request as a presigned URL (SigV4 in the query, UNSIGNED-PAYLOAD),
  // valid for `expires` (1 s to 7 days) from now, signed with the provider's
  // current credentials. Only method, endpoint, path, query and headers count.
  std::string presign(const ServiceRequest& request, std::chrono::seconds expires) const;

  const std::string& service() const { return service_; }

 private:
  friend class ServiceCalls;
  // The HTTP request of one attempt, signed now.
  HttpRequest prepare(const ServiceRequest& request, BodySink sink) const;

  std::string service_;
  ServiceClientOptions options_;
  RetryPolicy retry_;
  ErrorParser parse_error_;
  std::shared_ptr<SigningKeyCache> key_cache_ = std::make_shared<SigningKeyCache>();
};

// Calls of one ServiceClient in flight at once, each retried as call()
// retries (the same policy, delays and classification), all driven by the one
// thread that calls wait(): over a long route, one thread keeps dozens of
// calls going (the outbox relay's publish lanes), through the transport's
// ConcurrentRequests. Not thread-safe: one thread at a time; the client must
// outlive it.
class ServiceCalls {
 public:
  using Tag = ConcurrentRequests::Tag;
  // A call that ended: a 2xx response, or the last error (as call() throws it).
  using Done = ConcurrentRequests::Done;

  explicit ServiceCalls(const ServiceClient& client);
  ~ServiceCalls();
  ServiceCalls(const ServiceCalls&) = delete;
  ServiceCalls& operator=(const ServiceCalls&) = delete;

  // Starts `request`, which is borrowed: it must live until it comes out of
  // wait() under `tag` (or this object is gone).
  void start(Tag tag, const ServiceRequest& request);
  // Blocks until at least one call ended (all its attempts) and returns the
  // calls that did; empty only when none is in flight. A stop request ends
  // every call (RequestCancelled), those waiting to retry included.
  std::vector<Done> wait(std::stop_token stop = {});
  std::size_t in_flight() const { return calls_.size(); }

 private:
  struct Call;
  void send_attempt(Call& call);
  // What an attempt's end means: the call's end (into `done`), or a retry.
  void attempt_ended(ConcurrentRequests::Done attempt, std::vector<Done>& done);
  void cancel_all(std::vector<Done>& done);

  const ServiceClient& client_;
  std::map<std::uint64_t, Call> calls_;  // by id; nodes stay put while their attempts run
  // Declared after calls_, so gone first: no transfer outlives its request.
  std::unique_ptr<ConcurrentRequests> requests_;
  std::uint64_t next_id_ = 0;
};

}  // namespace docvault::aws
