// The libcurl transport and the standard-mode retries of ServiceClient,
// against a local cpp-httplib server on 127.0.0.1 that injects failures.
#include <gtest/gtest.h>

#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "aws/http_transport.h"
#include "aws/service_client.h"
#include "aws/sqs_client.h"
#include "test_env.h"

namespace docvault::aws {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A server on a free loopback port, running until destruction.
class LocalServer {
 public:
  LocalServer() {
    port_ = server.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server.listen_after_bind(); });
    // stop() is a no-op before the accept loop runs; never race it.
    docvault::testing::wait_until([this] { return server.is_running(); });
  }
  ~LocalServer() {
    release = true;
    server.stop();
    thread_.join();
  }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  httplib::Server server;
  // Handlers that block poll this, so the server can always be stopped.
  std::atomic<bool> release{false};

 private:
  int port_ = 0;
  std::thread thread_;
};

// Answers the headers of a 200, then drops the connection mid-body.
void drop_connection(httplib::Response& response) {
  response.set_content_provider(
      100, "application/json",
      [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
}

void sqs_error(httplib::Response& response, int status, const std::string& type) {
  response.status = status;
  response.set_content(R"({"__type":"com.amazonaws.sqs#)" + type + R"(","message":"injected"})",
                       "application/x-amz-json-1.0");
}

HttpRequest post(std::string url, std::string body = {}, std::chrono::milliseconds timeout = {}) {
  HttpRequest request;
  request.url = std::move(url);
  request.body = std::move(body);
  request.timeout = timeout;
  return request;
}

// ---------------------------------------------------------------- transport

TEST(CurlTransport, SendsTheRequestAndReturnsAnyStatusAsAResponse) {
  LocalServer local;
  local.server.Post("/echo", [](const httplib::Request& request, httplib::Response& response) {
    response.status = 503;
    response.set_header("x-amzn-RequestId", "rid-1");
    response.set_content(request.get_header_value("X-Custom") + "|" + request.body, "text/plain");
  });
  CurlTransport transport;
  HttpRequest request{.method = "POST",
                      .url = local.url("/echo"),
                      .headers = {{"X-Custom", "yes"}},
                      .body = std::string(5000, 'b'),
                      .body_view = {},
                      .body_sink = {},
                      .timeout = {}};
  auto response = transport.send(request);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, "yes|" + std::string(5000, 'b'));
  ASSERT_NE(response.header("X-AMZN-REQUESTID"), nullptr);
  EXPECT_EQ(*response.header("x-amzn-requestid"), "rid-1");
}

TEST(CurlTransport, ReusesConnectionsBetweenRequests) {
  LocalServer local;
  std::mutex mutex;
  std::set<int> client_ports;
  local.server.Post("/", [&](const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex);
    client_ports.insert(request.remote_port);
    response.set_content("{}", "application/json");
  });
  CurlTransport transport;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(transport.send(post(local.url())).status, 200);
  EXPECT_EQ(client_ports.size(), 1u) << "each request opened a new connection";
}

TEST(CurlTransport, ServesConcurrentCallers) {
  LocalServer local;
  local.server.Post("/", [](const httplib::Request& request, httplib::Response& response) {
    response.set_content(request.body, "text/plain");
  });
  CurlTransport transport;
  std::atomic<int> correct{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 20; ++i) {
          auto body = std::to_string(t) + ":" + std::to_string(i);
          if (transport.send(post(local.url(), body)).body == body) ++correct;
        }
      });
    }
  }
  EXPECT_EQ(correct.load(), 160);
}

TEST(CurlTransport, AConnectionFailureIsANetworkErrorWithStatusZero) {
  CurlTransport transport;
  auto url = "http://127.0.0.1:" + std::to_string(docvault::testing::free_port()) + "/";
  try {
    transport.send(post(url));
    FAIL() << "no error";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.http_status(), 0);
    EXPECT_EQ(error.code(), "NetworkError");
  }
}

TEST(CurlTransport, ARequestThatOutlivesItsTimeoutFails) {
  LocalServer local;
  local.server.Post("/", [&](const httplib::Request&, httplib::Response& response) {
    for (int i = 0; i < 300 && !local.release; ++i) std::this_thread::sleep_for(10ms);
    response.set_content("late", "text/plain");
  });
  CurlTransport transport;
  auto start = Clock::now();
  EXPECT_THROW(transport.send(post(local.url(), {}, 200ms)), AwsError);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(CurlTransport, ALongPollIsCancelledFromAnotherThreadPromptly) {
  LocalServer local;
  std::atomic<bool> arrived{false};
  local.server.Post("/", [&](const httplib::Request&, httplib::Response& response) {
    arrived = true;
    // A 20-second long poll, cut short only when the test ends.
    for (int i = 0; i < 2000 && !local.release; ++i) std::this_thread::sleep_for(10ms);
    response.set_content("{}", "application/json");
  });
  CurlTransport transport;
  std::stop_source stop;
  Clock::time_point returned;
  bool cancelled = false;
  std::jthread poller([&] {
    try {
      transport.send(post(local.url(), {}, 30s), stop.get_token());
    } catch (const RequestCancelled&) {
      cancelled = true;
    }
    returned = Clock::now();
  });
  // The server has the whole request: the transport is waiting for the answer.
  ASSERT_TRUE(docvault::testing::wait_until([&] { return arrived.load(); }));
  auto requested = Clock::now();
  stop.request_stop();
  poller.join();
  auto latency = std::chrono::duration_cast<std::chrono::microseconds>(returned - requested);
  std::printf("long-poll cancellation latency: %.3f ms\n", static_cast<double>(latency.count()) / 1000.0);
  EXPECT_TRUE(cancelled);
  EXPECT_LT(latency, 500ms);
}

TEST(CurlTransport, AnAlreadyCancelledRequestIsNotSent) {
  LocalServer local;
  std::atomic<int> calls{0};
  local.server.Post("/", [&](const httplib::Request&, httplib::Response&) { ++calls; });
  CurlTransport transport;
  std::stop_source stop;
  stop.request_stop();
  EXPECT_THROW(transport.send(post(local.url()), stop.get_token()), RequestCancelled);
  EXPECT_EQ(calls.load(), 0);
}

// ---------------------------------------------------------------- concurrent requests

// Answers POST / with its body once `expected` requests are in the handler at
// once (or after ten seconds, answering 504): only requests truly in flight
// together get a 200.
struct Gathering {
  Gathering(LocalServer& local, int together) : expected(together) {
    local.server.Post("/", [this, &local](const httplib::Request& request, httplib::Response& response) {
      std::unique_lock lock(mutex);
      ++arrived;
      ports.insert(request.remote_port);
      arrived_cv.notify_all();
      const bool all_there = arrived_cv.wait_for(lock, 10s, [&] { return arrived >= this->expected || local.release; });
      if (!all_there) response.status = 504;
      response.set_content(request.body, "text/plain");
    });
  }
  // Lets every waiting handler answer now.
  void release(LocalServer& local) {
    {
      std::lock_guard lock(mutex);
      local.release = true;
    }
    arrived_cv.notify_all();
  }

  int expected;
  std::mutex mutex;
  std::condition_variable arrived_cv;
  int arrived = 0;
  std::set<int> ports;
};

// Every request of `requests` to its end, from this thread alone.
std::map<ConcurrentRequests::Tag, ConcurrentRequests::Done> drain(ConcurrentRequests& requests) {
  std::map<ConcurrentRequests::Tag, ConcurrentRequests::Done> done;
  const auto deadline = Clock::now() + 20s;
  while (requests.in_flight() > 0 && Clock::now() < deadline) {
    for (auto& ended : requests.wait(100ms)) done[ended.tag] = std::move(ended);
  }
  return done;
}

TEST(CurlTransport, ConcurrentRequestsAreInFlightTogetherFromOneThread) {
  LocalServer local;
  constexpr int kRequests = 6;
  Gathering gathering(local, kRequests);
  CurlTransport transport;
  auto requests = transport.concurrent();
  std::vector<HttpRequest> sent;
  for (int i = 0; i < kRequests; ++i) sent.push_back(post(local.url(), "request " + std::to_string(i)));
  for (int i = 0; i < kRequests; ++i) requests->start(static_cast<ConcurrentRequests::Tag>(i), sent[i]);
  EXPECT_EQ(requests->in_flight(), static_cast<std::size_t>(kRequests));
  auto done = drain(*requests);
  ASSERT_EQ(done.size(), static_cast<std::size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) {
    auto& ended = done[static_cast<ConcurrentRequests::Tag>(i)];
    ASSERT_FALSE(ended.error);
    EXPECT_EQ(ended.response.status, 200) << "request " << i << " was not in flight with the others";
    EXPECT_EQ(ended.response.body, "request " + std::to_string(i));
  }
}

TEST(CurlTransport, ConcurrentRequestsKeepTheirConnectionsBetweenRounds) {
  LocalServer local;
  Gathering gathering(local, 0);
  CurlTransport transport;
  const HttpRequest request = post(local.url(), "x");
  // Eight at once: more than curl's default keeps idle once the last of them ends.
  auto requests = transport.concurrent();
  for (int round = 0; round < 3; ++round) {
    for (ConcurrentRequests::Tag tag = 0; tag < 8; ++tag) requests->start(tag, request);
    auto done = drain(*requests);
    ASSERT_EQ(done.size(), 8u);
    for (auto& [tag, ended] : done) ASSERT_FALSE(ended.error);
  }
  EXPECT_LE(gathering.ports.size(), 8u) << "a round opened connections of its own";
}

TEST(CurlTransport, EachConcurrentRequestEndsWithItsOwnOutcome) {
  LocalServer local;
  local.server.Post("/refused", [](const httplib::Request&, httplib::Response& response) { response.status = 503; });
  local.server.Post("/ok", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("fine", "text/plain");
  });
  CurlTransport transport;
  auto requests = transport.concurrent();
  const auto nobody = post("http://127.0.0.1:" + std::to_string(docvault::testing::free_port()) + "/");
  const auto refused = post(local.url("/refused"));
  const auto fine = post(local.url("/ok"));
  requests->start(1, nobody);
  requests->start(2, refused);
  requests->start(3, fine);
  auto done = drain(*requests);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_THROW(std::rethrow_exception(done[1].error), AwsError);
  EXPECT_FALSE(done[2].error);
  EXPECT_EQ(done[2].response.status, 503);
  EXPECT_FALSE(done[3].error);
  EXPECT_EQ(done[3].response.body, "fine");
}

TEST(CurlTransport, AStopAbandonsEveryConcurrentRequest) {
  LocalServer local;
  Gathering gathering(local, 1000);  // never all there: each waits for the stop
  CurlTransport transport;
  auto requests = transport.concurrent();
  const auto request = post(local.url(), {}, 30s);
  requests->start(1, request);
  requests->start(2, request);
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    (void)requests->wait(10ms);
    std::lock_guard lock(gathering.mutex);
    return gathering.arrived == 2;
  }));
  std::stop_source stop;
  stop.request_stop();
  auto done = requests->wait(1s, stop.get_token());
  ASSERT_EQ(done.size(), 2u);
  for (auto& ended : done) EXPECT_THROW(std::rethrow_exception(ended.error), RequestCancelled);
  EXPECT_EQ(requests->in_flight(), 0u);
  gathering.release(local);
}

// ---------------------------------------------------------------- retries

// A ServiceClient over a real CurlTransport to `local`, with no retry delay.
struct RetryHarness {
  LocalServer local;
  std::atomic<int> attempts{0};
  std::mutex mutex;
  std::vector<std::string> amz_dates;  // guarded by mutex
  std::atomic<int> clock_ticks{0};
  std::atomic<int> sleeping{0};  // calls waiting out a backoff now
  // Wall time moves a second each time it is read; waits are real.
  struct TickingClock final : runtime::Clock {
    TickingClock(std::atomic<int>& counter, std::atomic<int>& sleepers) : ticks(counter), sleeping(sleepers) {}
    runtime::Timestamp now() const override {
      return runtime::Timestamp(std::chrono::seconds(1'700'000'000 + ticks++));
    }
    runtime::SteadyTime steady_now() const override { return runtime::system_clock().steady_now(); }
    bool wait_until(runtime::SteadyTime deadline, std::stop_token stop) const override {
      ++sleeping;
      const bool waited = runtime::system_clock().wait_until(deadline, stop);
      --sleeping;
      return waited;
    }
    bool wait_until(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock, std::stop_token stop,
                    runtime::SteadyTime deadline, const std::function<bool()>& ready) const override {
      return runtime::system_clock().wait_until(cv, lock, stop, deadline, ready);
    }
    std::atomic<int>& ticks;
    std::atomic<int>& sleeping;
  } ticking_clock{clock_ticks, sleeping};

  ServiceClient client(RetryPolicy retry = {3, 0ms, 0ms}) {
    ServiceClientOptions options;
    options.environment = fixed_environment({});
    options.transport = std::make_shared<CurlTransport>();
    options.credentials =
        std::make_shared<StaticCredentialsProvider>(Credentials{"AKIDEXAMPLE", "secret", "", {}});
    options.retry = retry;
    // Each signature one second after the last, as retries over real time would be.
    options.clock = &ticking_clock;
    return ServiceClient("sqs", std::move(options), &parse_sqs_error);
  }

  // Serves POST / with `script(attempt)` (1-based).
  void serve(std::function<void(int, httplib::Response&)> script) {
    local.server.Post("/", [this, script](const httplib::Request& request, httplib::Response& response) {
      {
        std::lock_guard lock(mutex);
        amz_dates.push_back(request.get_header_value("X-Amz-Date"));
      }
      script(++attempts, response);
    });
  }

  ServiceRequest request() const {
    return {.endpoint = {local.url(""), "us-east-1"},
            .method = "POST",
            .path = "/",
            .query = {},
            .headers = {{"Content-Type", "application/x-amz-json-1.0"}},
            .body = "{}",
            .body_view = {},
            .payload_hash = {},
            .body_sink = {},
            .timeout = {}};
  }
};

void ok(httplib::Response& response) { response.set_content("{}", "application/x-amz-json-1.0"); }

TEST(Retry, ServerErrorsAreRetriedAndEachAttemptIsSignedAfresh) {
  RetryHarness harness;
  harness.serve([](int attempt, httplib::Response& response) {
    if (attempt == 1) return sqs_error(response, 500, "InternalError");
    if (attempt == 2) return sqs_error(response, 503, "ServiceUnavailable");
    ok(response);
  });
  EXPECT_EQ(harness.client().call(harness.request()).status, 200);
  EXPECT_EQ(harness.attempts.load(), 3);
  std::set<std::string> distinct(harness.amz_dates.begin(), harness.amz_dates.end());
  EXPECT_EQ(distinct.size(), 3u) << "X-Amz-Date was reused across attempts";
}

TEST(Retry, TheLastErrorSurfacesAfterMaxAttempts) {
  RetryHarness harness;
  harness.serve([](int, httplib::Response& response) { sqs_error(response, 503, "ServiceUnavailable"); });
  try {
    harness.client().call(harness.request());
    FAIL() << "no error";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.http_status(), 503);
    EXPECT_EQ(error.code(), "ServiceUnavailable");
  }
  EXPECT_EQ(harness.attempts.load(), 3);
}

TEST(Retry, TheAttemptLimitIsConfigurable) {
  RetryHarness harness;
  harness.serve([](int, httplib::Response& response) { sqs_error(response, 500, "InternalError"); });
  EXPECT_THROW(harness.client({5, 0ms, 0ms}).call(harness.request()), AwsError);
  EXPECT_EQ(harness.attempts.load(), 5);
}

TEST(Retry, ThrottlingIsRetried) {
  RetryHarness harness;
  harness.serve([](int attempt, httplib::Response& response) {
    if (attempt == 1) return sqs_error(response, 400, "ThrottlingException");
    ok(response);
  });
  harness.client().call(harness.request());
  EXPECT_EQ(harness.attempts.load(), 2);
}

TEST(Retry, AClientErrorIsNotRetried) {
  RetryHarness harness;
  harness.serve([](int, httplib::Response& response) {
    sqs_error(response, 400, "InvalidParameterValue");
  });
  try {
    harness.client().call(harness.request());
    FAIL() << "no error";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.http_status(), 400);
    EXPECT_EQ(error.code(), "InvalidParameterValue");
    EXPECT_EQ(error.message(), "injected");
  }
  EXPECT_EQ(harness.attempts.load(), 1);
}

TEST(Retry, ADroppedConnectionIsRetried) {
  RetryHarness harness;
  harness.serve([](int attempt, httplib::Response& response) {
    if (attempt == 1) return drop_connection(response);
    ok(response);
  });
  EXPECT_EQ(harness.client().call(harness.request()).status, 200);
  EXPECT_EQ(harness.attempts.load(), 2);
}

TEST(Retry, RepeatedlyDroppedConnectionsSurfaceAsANetworkError) {
  RetryHarness harness;
  harness.serve([](int, httplib::Response& response) { drop_connection(response); });
  try {
    harness.client().call(harness.request());
    FAIL() << "no error";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.http_status(), 0);
    EXPECT_EQ(error.code(), "NetworkError");
  }
  EXPECT_EQ(harness.attempts.load(), 3);
}

TEST(Retry, AStopDuringTheBackoffEndsTheCallPromptly) {
  RetryHarness harness;
  harness.serve([](int, httplib::Response& response) { sqs_error(response, 503, "ServiceUnavailable"); });
  auto client = harness.client({3, 10s, 10s});
  std::stop_source stop;
  std::jthread stopper([&] {
    // The first attempt failed and the call waits out its 10-s backoff.
    EXPECT_TRUE(docvault::testing::wait_until([&] { return harness.sleeping.load() == 1; }));
    stop.request_stop();
  });
  auto start = Clock::now();
  EXPECT_THROW(client.call(harness.request(), stop.get_token()), RequestCancelled);
  EXPECT_LT(Clock::now() - start, 3s);
}

TEST(Retry, BackoffIsFullJitterUnderACappedExponential) {
  RetryPolicy policy{5, 100ms, 1s};
  for (int i = 0; i < 200; ++i) {
    EXPECT_LE(policy.delay_before(1), 100ms);
    EXPECT_LE(policy.delay_before(3), 400ms);
    EXPECT_LE(policy.delay_before(30), 1s);
  }
  std::chrono::milliseconds longest{0};
  for (int i = 0; i < 200; ++i) longest = std::max(longest, policy.delay_before(4));
  EXPECT_GT(longest, 400ms) << "the jitter range never reached its upper half";
}

TEST(Retry, ClassificationFollowsStandardMode) {
  EXPECT_TRUE(is_retryable(AwsError(400, "Throttling", "")));
  EXPECT_TRUE(is_retryable(AwsError(400, "RequestThrottled", "")));
  EXPECT_TRUE(is_retryable(AwsError(400, "AWS.SimpleQueueService.RequestThrottled", "")));
  EXPECT_TRUE(is_retryable(AwsError(400, "ProvisionedThroughputExceededException", "")));
  EXPECT_TRUE(is_retryable(AwsError(503, "SlowDown", "")));
  EXPECT_TRUE(is_retryable(AwsError(429, "", "")));
  EXPECT_TRUE(is_retryable(AwsError(502, "UnknownError", "")));
  EXPECT_TRUE(is_retryable(AwsError(0, "NetworkError", "")));
  EXPECT_FALSE(is_retryable(AwsError(400, "AWS.SimpleQueueService.NonExistentQueue", "")));
  EXPECT_FALSE(is_retryable(AwsError(403, "InvalidClientTokenId", "")));
  EXPECT_FALSE(is_retryable(RequestCancelled()));
  EXPECT_FALSE(is_retryable(CredentialsError("none")));
}

// The categories /readyz may show: a closed set, whatever text AWS (or
// whatever answers at the endpoint) sends.
TEST(ErrorCategory, IsOneOfAClosedSetNeverTheServicesText) {
  EXPECT_EQ(error_category(AwsError(0, "NetworkError", "POST http://10.1.2.3:4566/: Connection refused")),
            "network_error");
  EXPECT_EQ(error_category(AwsError(400, "AWS.SimpleQueueService.NonExistentQueue", "queue secret-name")),
            "not_found");
  EXPECT_EQ(error_category(AwsError(400, "QueueDoesNotExist", "")), "not_found");
  EXPECT_EQ(error_category(AwsError(403, "AccessDenied", "arn:aws:iam::123456789012:user/x")), "access_denied");
  EXPECT_EQ(error_category(AwsError(403, "InvalidClientTokenId", "")), "access_denied");
  EXPECT_EQ(error_category(AwsError(403, "SomethingNew", "")), "access_denied");
  EXPECT_EQ(error_category(AwsError(400, "AWS.SimpleQueueService.RequestThrottled", "")), "throttled");
  EXPECT_EQ(error_category(AwsError(429, "", "")), "throttled");
  EXPECT_EQ(error_category(AwsError(503, "<html>oops</html>", "")), "service_error");
  EXPECT_EQ(error_category(AwsError(400, "InternalError", "")), "service_error");
  EXPECT_EQ(error_category(AwsError(400, "InvalidParameterValue", "")), "request_refused");
  EXPECT_EQ(error_category(AwsError(404, "", "")), "not_found");
  EXPECT_EQ(error_category(AwsError(0, "InvalidConfiguration", "not an http(s) endpoint: ftp://h")),
            "invalid_configuration");
  EXPECT_EQ(error_category(CredentialsError("no source")), "credentials_unavailable");
  EXPECT_EQ(error_category(RequestCancelled()), "cancelled");
  EXPECT_EQ(error_category(AwsError(0, "Whatever", "")), "other");
  EXPECT_EQ(error_category(std::runtime_error("http://10.1.2.3/")), "other");
  const std::exception& as_exception = AwsError(0, "NetworkError", "");
  EXPECT_EQ(error_category(as_exception), "network_error");
  EXPECT_EQ(entry_error_category("KMS.AccessDeniedException", false), "access_denied");
  EXPECT_EQ(entry_error_category("AWS.SimpleQueueService.NonExistentQueue", false), "not_found");
  EXPECT_EQ(entry_error_category("InvalidParameterValue", true), "request_refused");
  EXPECT_EQ(entry_error_category("MissingFromResponse", false), "service_error");
}

TEST(Retry, MaxAttemptsComesFromTheEnvironment) {
  EXPECT_EQ(RetryPolicy::from_environment(fixed_environment({{"AWS_MAX_ATTEMPTS", "7"}})).max_attempts, 7);
  EXPECT_EQ(RetryPolicy::from_environment(fixed_environment({{"AWS_MAX_ATTEMPTS", "x"}})).max_attempts, 3);
  EXPECT_EQ(RetryPolicy::from_environment(fixed_environment({})).max_attempts, 3);
}

// ---------------------------------------------------------------- concurrent calls

TEST(ServiceCalls, EachCallIsRetriedOnItsOwnWhileTheOthersGoOn) {
  RetryHarness harness;
  std::atomic<int> flaky_attempts{0};
  harness.local.server.Post("/flaky", [&](const httplib::Request&, httplib::Response& response) {
    if (++flaky_attempts < 3) return sqs_error(response, 500, "InternalError");
    response.set_content("flaky", "application/x-amz-json-1.0");
  });
  harness.local.server.Post("/steady", [&](const httplib::Request&, httplib::Response& response) {
    response.set_content("steady", "application/x-amz-json-1.0");
  });
  harness.local.server.Post("/refused", [&](const httplib::Request&, httplib::Response& response) {
    sqs_error(response, 400, "InvalidParameterValue");
  });
  auto client = harness.client();
  ServiceCalls calls(client);
  std::map<ServiceCalls::Tag, ServiceRequest> requests;
  for (auto [tag, path] : {std::pair{1, "/flaky"}, {2, "/steady"}, {3, "/refused"}}) {
    requests[tag] = harness.request();
    requests[tag].path = path;
    calls.start(tag, requests[tag]);
  }
  std::map<ServiceCalls::Tag, ServiceCalls::Done> done;
  while (calls.in_flight() > 0) {
    for (auto& ended : calls.wait()) done[ended.tag] = std::move(ended);
  }
  ASSERT_EQ(done.size(), 3u);
  ASSERT_FALSE(done[1].error);
  EXPECT_EQ(done[1].response.body, "flaky");
  EXPECT_EQ(flaky_attempts.load(), 3);
  ASSERT_FALSE(done[2].error);
  EXPECT_EQ(done[2].response.body, "steady");
  try {
    std::rethrow_exception(done[3].error);
  } catch (const AwsError& error) {
    EXPECT_EQ(error.code(), "InvalidParameterValue");
  }
  EXPECT_TRUE(calls.wait().empty());
}

TEST(ServiceCalls, AStopEndsCallsWaitingToRetry) {
  RetryHarness harness;
  harness.serve([](int, httplib::Response& response) { sqs_error(response, 503, "ServiceUnavailable"); });
  // Long backoffs: the calls are waiting to retry when the stop comes.
  auto client = harness.client({5, 10s, 10s});
  ServiceCalls calls(client);
  auto request = harness.request();
  calls.start(1, request);
  calls.start(2, request);
  std::stop_source stop;
  std::jthread stopper([&] {
    docvault::testing::wait_until([&] { return harness.sleeping.load() > 0 || harness.attempts.load() >= 2; });
    stop.request_stop();
  });
  std::vector<ServiceCalls::Done> done;
  while (done.size() < 2) {
    auto ended = calls.wait(stop.get_token());
    ASSERT_FALSE(ended.empty());
    done.insert(done.end(), std::make_move_iterator(ended.begin()), std::make_move_iterator(ended.end()));
  }
  for (auto& ended : done) EXPECT_THROW(std::rethrow_exception(ended.error), RequestCancelled);
  EXPECT_EQ(harness.attempts.load(), 2);
}

}  // namespace
}  // namespace docvault::aws
