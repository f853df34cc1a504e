// An HTTP proxy in front of the emulator's S3 that can fail chosen requests:
// point AWS_ENDPOINT_URL_S3 (or an S3Client's environment) at url() and decide
// with fail_when() which requests get a 500 InternalError instead of being
// forwarded. Every request is recorded with the status it got, so a test can
// check what the client did (an AbortMultipartUpload after a failed part).
//
// Header-only (suites that use it link cpp-httplib). Handlers run on the
// server's threads; the recorded calls are guarded by a mutex.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "test_env.h"

namespace docvault::testing {

class S3FaultProxy {
 public:
  struct Call {
    std::string method;
    std::string path;
    httplib::Params params;
    int status = 0;
    bool has(const std::string& name) const { return params.count(name) > 0; }
  };
  using Predicate = std::function<bool(const httplib::Request&)>;

  // `upstream_host`, `upstream_port`: where the emulator listens.
  S3FaultProxy(std::string upstream_host, int upstream_port)
      : upstream_host_(std::move(upstream_host)), upstream_port_(upstream_port) {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); };
    server_.Get(".*", handler);
    server_.Put(".*", handler);
    server_.Post(".*", handler);
    server_.Delete(".*", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    // Bound already: connections queue until the thread accepts them.
    thread_ = std::jthread([this] { server_.listen_after_bind(); });
  }
  ~S3FaultProxy() {
    server_.stop();
  }
  S3FaultProxy(const S3FaultProxy&) = delete;
  S3FaultProxy& operator=(const S3FaultProxy&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void fail_when(Predicate predicate) {
    std::lock_guard lock(mutex_);
    fail_ = std::move(predicate);
  }
  std::vector<Call> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  static std::string encode(const std::string& text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else {
        out += {'%', kHex[c >> 4], kHex[c & 15]};
      }
    }
    return out;
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    Predicate fail;
    {
      std::lock_guard lock(mutex_);
      fail = fail_;
    }
    if (fail && fail(req)) {
      res.status = 500;
      res.set_content("<Error><Code>InternalError</Code><Message>injected by S3FaultProxy</Message></Error>",
                      "application/xml");
      record(req, 500);
      return;
    }
    std::string target = req.path;
    char separator = '?';
    for (const auto& [key, value] : req.params) {
      target += separator + encode(key) + "=" + encode(value);
      separator = '&';
    }
    httplib::Headers headers;
    for (const auto& [name, value] : req.headers) {
      if (name == "Content-Length" || name == "Content-Type" || name == "Connection" || name == "Host" ||
          name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" || name == "LOCAL_PORT") {
        continue;
      }
      headers.emplace(name, value);
    }
    httplib::Client upstream(upstream_host_, upstream_port_);
    upstream.set_read_timeout(60, 0);
    auto type = req.get_header_value("Content-Type");
    if (type.empty()) type = "application/octet-stream";
    httplib::Result result = req.method == "HEAD"     ? upstream.Head(target.c_str(), headers)
                             : req.method == "GET"    ? upstream.Get(target.c_str(), headers)
                             : req.method == "PUT"    ? upstream.Put(target.c_str(), headers, req.body, type.c_str())
                             : req.method == "POST"   ? upstream.Post(target.c_str(), headers, req.body, type.c_str())
                                                      : upstream.Delete(target.c_str(), headers, req.body, type.c_str());
    if (!result) {
      res.status = 502;
      record(req, 502);
      return;
    }
    res.status = result->status;
    for (const auto& [name, value] : result->headers) {
      if (name == "Content-Length" || name == "Transfer-Encoding" || name == "Connection" ||
          name == "Content-Type" || name == "Keep-Alive") {
        continue;
      }
      res.headers.emplace(name, value);
    }
    if (req.method == "HEAD") {
      // httplib writes no body for HEAD; keep the upstream length.
      res.set_header("Content-Length", result->get_header_value("Content-Length"));
    } else {
      res.set_content(result->body, result->get_header_value("Content-Type").c_str());
    }
    record(req, res.status);
  }

  void record(const httplib::Request& req, int status) {
    std::lock_guard lock(mutex_);
    calls_.push_back({req.method, req.path, req.params, status});
  }

  std::string upstream_host_;
  int upstream_port_;
  httplib::Server server_;
  int port_ = 0;
  std::jthread thread_;
  mutable std::mutex mutex_;
  Predicate fail_;          // guarded by mutex_
  std::vector<Call> calls_;  // guarded by mutex_
};

}  // namespace docvault::testing
