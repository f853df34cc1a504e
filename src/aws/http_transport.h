// The HTTP seam of the aws layer: one request in, one response out.
//
// `HttpTransport` is what the SQS and SNS clients send through, so tests swap
// in a fake and the service swaps nothing. A transport moves bytes and nothing
// more: any HTTP status, 5xx included, is a response; only a request that got
// no complete response (DNS, connect, TLS, timeout, a dropped connection)
// throws, as AwsError with status 0 and code "NetworkError". Retrying and
// signing belong to the caller (see service_client.h).
//
// Large bodies: a request may lend its body (`body_view`, not copied), and a
// response body may be streamed to a sink as it arrives (`body_sink`) instead
// of being collected, so an S3 download of any size passes through a fixed
// buffer. Only a 2xx body is streamed; any other body is collected for the
// caller's error parser.
//
// Cancellation: `send` takes a std::stop_token. When stop is requested while
// the request is in flight, `send` abandons it (closing its connection) and
// throws RequestCancelled promptly, well under 100 ms, which is what lets a
// worker stop in the middle of a 20-second SQS long poll.
//
// Many requests at once from one thread: `concurrent()` hands out a
// ConcurrentRequests, which keeps any number of requests in flight and is
// driven by the one thread that waits on it. Over a long route that is what
// keeps dozens of calls going without a thread (and its wake-ups) for each:
// the outbox relay publishes that way (outbox/publisher.h). A transport that
// only implements send() gets requests one at a time, in wait().
//
// `CurlTransport` is the libcurl implementation. TLS peers are verified, the
// proxy variables (https_proxy, no_proxy, ...) are honoured as libcurl does by
// default, and connections are reused: send() and each ConcurrentRequests
// borrow a curl multi handle from a small pool, and a multi handle keeps its
// connections open between requests. A transfer that ends early (an error, a
// cancellation, a sink that stopped) closes its connection instead.
// Thread-safety: every transport here may be called from any number of threads
// at once; each call uses its own handles.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "aws/error.h"
#include "aws/sigv4.h"
#include "runtime/mutex.h"

namespace docvault::aws {

// Receives a response body chunk by chunk; returns false to stop the transfer.
using BodySink = std::function<bool(std::string_view chunk)>;

struct HttpRequest {
  std::string method = "POST";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  Headers headers;
  std::string body;
  // When not empty, sent instead of `body`, without a copy: the caller keeps
  // the bytes alive until send() returns.
  std::string_view body_view;
  // When set, a 2xx response body goes here instead of HttpResponse::body. A
  // sink that returns false ends the transfer early, and send() returns the
  // response as if it had completed; a sink that throws ends it too, and
  // send() rethrows.
  BodySink body_sink;
  // The whole request, connect included; zero means the transport's default.
  // A long poll sets it above its wait time.
  std::chrono::milliseconds timeout{0};

  // What goes on the wire: body_view when set, else body.
  std::string_view payload() const { return body_view.empty() ? std::string_view(body) : body_view; }
};

struct HttpResponse {
  long status = 0;
  Headers headers;  // of the final response only, in the order received
  std::string body;

  // The first header with this name, compared case-insensitively.
  const std::string* header(std::string_view name) const;
};

// The request was abandoned because its stop token was triggered. A subclass
// so callers that catch AwsError still see it, and callers that care tell it
// apart from a failure: it is never retried.
class RequestCancelled : public AwsError {
 public:
  RequestCancelled();
};

// Requests in flight at once, driven by the thread that calls wait(). Not
// thread-safe: one thread at a time.
class ConcurrentRequests {
 public:
  using Tag = std::uint64_t;
  // A request that ended: its response, or the error send() would have thrown.
  struct Done {
    Tag tag = 0;
    HttpResponse response;
    std::exception_ptr error;
  };

  virtual ~ConcurrentRequests() = default;
  // Starts `request`, which is borrowed: it (and what it borrows itself, a
  // body_view or a body_sink's state) must live until it comes out of a
  // later wait() under `tag`, or this object is gone.
  virtual void start(Tag tag, const HttpRequest& request) = 0;
  // Moves the requests in flight on, for at most about `max_wait`, and
  // returns those that ended (maybe none: call again). On a stop request
  // every request in flight is abandoned and returned as RequestCancelled.
  virtual std::vector<Done> wait(std::chrono::milliseconds max_wait, std::stop_token stop = {}) = 0;
  virtual std::size_t in_flight() const = 0;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Throws AwsError (status 0, "NetworkError") when no complete response
  // arrived, RequestCancelled when `stop` was triggered first.
  virtual HttpResponse send(const HttpRequest& request, std::stop_token stop = {}) = 0;
  // Requests in flight at once; the transport must outlive it. This default
  // sends them one at a time through send(), each in a call of wait().
  virtual std::unique_ptr<ConcurrentRequests> concurrent();
};

struct CurlTransportOptions {
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  // Must exceed the longest SQS long poll (20 s) unless requests set their own.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  // Idle multi handles kept for send(), each with its open connections: at
  // least as many as threads call send() at once, or every call past it
  // opens a connection (and, on https, a TLS session) of its own. docvault's
  // most: 8 receives, 8 delete senders, heartbeats and S3 beside them.
  std::size_t max_idle_handles = 128;
  std::string user_agent = "docvault";
  // False: never through a proxy, whatever the proxy variables say (the
  // credentials chain's metadata endpoints are local to the host).
  bool use_proxy = true;
};

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(CurlTransportOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  HttpResponse send(const HttpRequest& request, std::stop_token stop = {}) override;
  std::unique_ptr<ConcurrentRequests> concurrent() override;

 private:
  // A curl multi handle and its transfers; defined in the .cpp.
  class Requests;
  std::unique_ptr<Requests> acquire();
  void release(std::unique_ptr<Requests> requests);

  CurlTransportOptions options_;
  runtime::Mutex pool_mutex_;
  std::vector<std::unique_ptr<Requests>> idle_ GUARDED_BY(pool_mutex_);
};

}  // namespace docvault::aws
