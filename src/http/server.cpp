// The server's machinery on Boost.Beast and Boost.Asio (the contract is in
// server.h). Each connection is one coroutine on a strand of its own; the
// I/O context runs on `worker_threads` threads. Every wait on a client (the
// first byte, the head, each piece of a body, each write) is bounded by a
// deadline timer that cancels the socket's operation without closing it, so
// a 408 can still be answered. Time comes from the runtime's system clock:
// Asio's timers run on the real steady clock, so the deadlines must too.
#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "domain/entity.h"
#include "domain/uuid.h"
#include "http/admin_routes.h"
#include "http/api_error.h"
#include "http/contract_routes.h"
#include "http/document_routes.h"
#include "log/log.h"
#include "runtime/clock.h"
#include "runtime/mutex.h"

namespace docvault::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using runtime::SteadyTime;
using Parser = bhttp::request_parser<bhttp::buffer_body>;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr std::string_view kComponent = "http";
constexpr const char* kRequestIdHeader = "X-Request-Id";
// Past read_timeout, a body must average at least this rate from its first byte.
constexpr double kMinBodyBytesPerSecond = 16 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;
// A streamed response body is read from the blob store and written in pieces of this.
constexpr std::uint64_t kStreamPiece = 256 * 1024;
// Before closing, what the client still sends is read and dropped for a
// while, so the close does not reset the connection before the client has
// read the answer (RFC 9112 section 9.6).
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr std::size_t kLingerBytes = 1 << 20;
// A body taken whole by a route (the admin API's JSON).
constexpr std::uint64_t kJsonBodyLimit = 64 * 1024;
// Room for the multipart framing around the largest allowed file.
constexpr std::uint64_t kMultipartOverhead = 64 * 1024;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A caller's request id is kept only if it is short printable text, so it
// cannot forge log lines or headers.
std::string request_id_for(const Request& req) {
  auto given = req.header(kRequestIdHeader);
  if (!given.empty() && given.size() <= 128 && is_printable_utf8(given)) return given;
  return uuid_v4();
}

// "/v1/documents/([^/]+)/content" -> "/v1/documents/{id}/content"
std::string route_label(const std::string& pattern) {
  std::string out = pattern;
  for (std::size_t pos; (pos = out.find("([^/]+)")) != std::string::npos;) out.replace(pos, 7, "{id}");
  return out;
}

// RFC 9112 framing of a request head, beyond what Beast's parser checks
// itself: exactly one Content-Length of plain digits, or one
// Transfer-Encoding that is exactly `chunked`, never both; HTTP/1.0 or 1.1;
// one Host on HTTP/1.1; an origin-form target.
bool framing_ok(const bhttp::request_header<>& head) {
  if (head.version() != 10 && head.version() != 11) return false;
  std::size_t lengths = 0;
  std::size_t codings = 0;
  std::size_t hosts = 0;
  for (const auto& field : head) {
    auto name = field.name_string();
    auto value = trim(field.value());
    if (iequals(name, "Content-Length")) {
      ++lengths;
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return false;
      }
    } else if (iequals(name, "Transfer-Encoding")) {
      ++codings;
      if (!iequals(value, "chunked")) return false;
    } else if (iequals(name, "Host")) {
      ++hosts;
    }
  }
  if (lengths > 1 || codings > 1 || (lengths > 0 && codings > 0)) return false;
  if (codings > 0 && head.version() == 10) return false;  // HTTP/1.0 has no chunked coding
  if (hosts > 1 || (head.version() == 11 && hosts == 0)) return false;
  auto target = head.target();
  return !target.empty() && target.front() == '/';
}

bool is_http_error(const beast::error_code& ec) {
  return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_target).category();
}

bool identity_coding(const Request& req) {
  for (const auto& [name, value] : req.headers.fields()) {
    if (iequals(name, "Content-Encoding") && !iequals(trim(value), "identity")) return false;
  }
  return true;
}

void register_operational_routes(Router& router, const HttpOptions& options, const Authenticator& auth) {
  router.route("/healthz", {{"GET", open_endpoint([](const Request&, Response& res) {
                               res.set_content(R"({"status":"ok"})", "application/json");
                             })}});
  router.route("/readyz", {{"GET", open_endpoint([&options](const Request&, Response& res) {
                              nlohmann::ordered_json checks = nlohmann::ordered_json::object();
                              bool ready = true;
                              for (const auto& check : options.readiness) {
                                nlohmann::ordered_json detail = nlohmann::ordered_json::object();
                                bool ok = false;
                                try {
                                  ok = check.check(detail);
                                } catch (const std::exception& e) {
                                  // The answer is public: the error text goes to the log only.
                                  log::warn(kComponent, "readiness check threw",
                                            {{"check", check.name}, {"error", e.what()}});
                                  detail["status"] = "down";
                                  detail["reason"] = "check_failed";
                                }
                                if (!ok) log::warn(kComponent, "readiness check failed", {{"check", check.name}, {"detail", detail}});
                                ready = ready && ok;
                                checks[check.name] = std::move(detail);
                              }
                              nlohmann::ordered_json body = {{"status", ready ? "ready" : "not_ready"},
                                                             {"checks", std::move(checks)}};
                              res.status = ready ? 200 : 503;
                              res.set_content(body.dump(), "application/json");
                            })}});
  if (options.metrics) {
    PlainHandler expose = [&options](const Request&, Response& res) {
      res.set_content(options.metrics->expose(), "text/plain; version=0.0.4");
    };
    // Open by default (scrapers inside the network); DOCVAULT_METRICS_AUTH=required asks for metrics:read.
    router.route("/metrics", {{"GET", options.metrics_require_token ? auth.require(auth::kScopeMetricsRead, std::move(expose))
                                                                     : open_endpoint(std::move(expose))}});
  }
}

// One connection. Touched only on its strand.
struct Session {
  explicit Session(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  tcp::socket socket;
  asio::steady_timer timer;
  std::uint64_t generation = 0;  // of the deadline armed last
  bool expired = false;          // the armed deadline passed and cancelled the operation
  bool idle = true;              // waiting for a request: stop() may close it
  std::vector<char> chunk;       // a body's read buffer, allocated once a body comes
  std::string remote;
};

// Cancels the session's operation in progress at `at` (without closing the socket).
void arm(const std::shared_ptr<Session>& s, SteadyTime at) {
  s->expired = false;
  s->timer.expires_at(at);
  s->timer.async_wait([weak = std::weak_ptr<Session>(s), generation = ++s->generation](beast::error_code ec) {
    auto session = weak.lock();
    if (ec || !session || session->generation != generation) return;
    session->expired = true;
    beast::error_code ignored;
    session->socket.cancel(ignored);
  });
}

void disarm(const std::shared_ptr<Session>& s) {
  ++s->generation;
  s->timer.cancel();
}

}  // namespace

namespace {
constexpr std::string_view kAnySegment = "([^/]+)";

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty() || path.front() != '/') return segments;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return segments;
    path.remove_prefix(slash + 1);
  }
}
}  // namespace

void Router::route(const std::string& pattern, std::map<std::string, Endpoint> endpoints) {
  std::string allow;
  for (const auto& [method, endpoint] : endpoints) allow += (allow.empty() ? "" : ", ") + method;
  // "([^/]+)" has a slash of its own: stand it in by a byte no path segment has, then split.
  std::string plain = pattern;
  for (std::size_t at; (at = plain.find(kAnySegment)) != std::string::npos;) plain.replace(at, kAnySegment.size(), "\x01");
  std::vector<std::string> segments;
  for (auto segment : split_path(plain)) segments.emplace_back(segment == "\x01" ? kAnySegment : segment);
  routes_.push_back(Route{std::move(segments), route_label(pattern), std::move(endpoints), std::move(allow)});
}

const Route* Router::match(const std::string& path, std::vector<std::string>& matches) const {
  const auto given = split_path(path);
  for (const auto& route : routes_) {
    if (route.segments.size() != given.size()) continue;
    bool same = true;
    for (std::size_t i = 0; same && i < given.size(); ++i) {
      const auto& want = route.segments[i];
      same = want == kAnySegment ? !given[i].empty() : want == given[i];
    }
    if (!same) continue;
    matches.assign(1, path);
    for (std::size_t i = 0; i < given.size(); ++i) {
      if (route.segments[i] == kAnySegment) matches.emplace_back(given[i]);
    }
    return &route;
  }
  return nullptr;
}

ReadinessCheck database_readiness(store::Store& store) {
  return ReadinessCheck{"database", [&store](nlohmann::ordered_json& detail) {
                          detail["backend"] = store.backend();
                          try {
                            store.ping();
                            detail["status"] = "up";
                            return true;
                          } catch (const store::StoreError& e) {
                            // Stores write their errors without passwords; the
                            // text may still name hosts and databases, so it
                            // stays in the log; the answer has a stable code.
                            log::warn(kComponent, "database not ready", {{"error", e.what()}});
                            detail["status"] = "down";
                            detail["reason"] = store::error_category(e);
                            return false;
                          }
                        }};
}

class HttpServer::Impl {
 public:
  Impl(const HttpOptions& options, const Router& router, const Authenticator& auth)
      : options_(options),
        limits_(options.limits),
        router_(router),
        auth_(auth),
        ioc_(static_cast<int>(std::max<std::size_t>(limits_.worker_threads, 1))),
        acceptor_strand_(asio::make_strand(ioc_)),
        acceptor_(acceptor_strand_) {}

  ~Impl() { stop(); }

  void start() {
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    auto results = resolver.resolve(options_.host, std::to_string(options_.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) throw std::runtime_error("cannot resolve " + options_.host);
    tcp::endpoint endpoint = results.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " +
                               ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(acceptor_strand_, accept_loop(), [](std::exception_ptr) {});
    for (std::size_t i = 0; i < std::max<std::size_t>(limits_.worker_threads, 1); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }

  // False when it was not running.
  bool stop() {
    if (threads_.empty()) return false;
    std::vector<std::shared_ptr<Session>> sessions;
    {
      runtime::MutexLock lock(mutex_);
      stopping_ = true;
      for (auto& [raw, weak] : sessions_) {
        if (auto s = weak.lock()) sessions.push_back(std::move(s));
      }
    }
    asio::post(acceptor_strand_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    // Connections waiting for a request close now; those serving one finish it.
    for (auto& s : sessions) {
      asio::post(s->socket.get_executor(), [s] {
        if (!s->idle) return;
        beast::error_code ignored;
        s->socket.cancel(ignored);
      });
    }
    sessions.clear();
    {
      runtime::MutexLock lock(mutex_);
      clock_.wait_for(drained_, lock.native(), {}, limits_.drain_timeout, [this]() REQUIRES(mutex_) { return open_ == 0; });
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    return true;
  }

  int port() const { return port_; }

 private:
  bool stopping() const {
    runtime::MutexLock lock(mutex_);
    return stopping_;
  }

  asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        // Out of descriptors or the like: give closing connections a moment.
        asio::steady_timer pause(acceptor_strand_, std::chrono::milliseconds(50));
        co_await pause.async_wait(kTuple);
        continue;
      }
      admit(std::move(socket));
    }
  }

  void admit(tcp::socket socket) {
    beast::error_code ec;
    {
      runtime::MutexLock lock(mutex_);
      if (stopping_ || open_ >= limits_.max_connections) {
        // Best effort, without waiting: the client learns why.
        static const std::string busy = [] {
          Response res;
          respond(res, ApiError{503, "unavailable", "too many connections", std::nullopt});
          return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 "Content-Length: " +
                 std::to_string(res.body.size()) + "\r\n\r\n" + res.body;
        }();
        socket.non_blocking(true, ec);
        socket.send(asio::buffer(busy), 0, ec);
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
        return;
      }
      ++open_;
    }
    // Head and body go out in separate writes: without NODELAY the body
    // would wait for the client's delayed ACK.
    socket.set_option(tcp::no_delay(true), ec);
    auto session = std::make_shared<Session>(std::move(socket));
    auto remote = session->socket.remote_endpoint(ec);
    if (!ec) session->remote = remote.address().to_string();
    {
      runtime::MutexLock lock(mutex_);
      sessions_.emplace(session.get(), session);
    }
    auto executor = session->socket.get_executor();
    asio::co_spawn(executor, serve(session), [this, raw = session.get()](std::exception_ptr error) {
      if (error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          log::error(kComponent, "connection failed", {{"error", e.what()}});
        } catch (...) {
        }
      }
      runtime::MutexLock lock(mutex_);
      sessions_.erase(raw);
      --open_;
      drained_.notify_all();
    });
  }

  // Serves requests on one connection until it must close.
  asio::awaitable<void> serve(std::shared_ptr<Session> s) {
    beast::flat_buffer buffer;
    std::size_t served = 0;
    const auto accepted = clock_.steady_now();
    bool linger = true;
    while (true) {
      s->idle = true;
      if (stopping()) break;
      if (buffer.size() == 0) {
        // An idle connection (no byte of a next request) ends quietly.
        arm(s, served == 0 ? accepted + limits_.header_timeout : clock_.steady_now() + limits_.keep_alive_timeout);
        auto [ec, n] = co_await s->socket.async_read_some(buffer.prepare(kReadChunk), kTuple);
        disarm(s);
        if (ec) {
          linger = false;
          break;
        }
        buffer.commit(n);
      }
      Parser parser;
      parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
      parser.body_limit(boost::none);  // set per route once the head is known
      arm(s, served == 0 ? accepted + limits_.header_timeout : clock_.steady_now() + limits_.header_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(s->socket, buffer, parser, kTuple);
      disarm(s);
      if (ec) {
        int status = 0;
        if (s->expired) {
          status = 408;
        } else if (ec == bhttp::error::header_limit) {
          status = 431;
        } else if (is_http_error(ec) && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          status = 400;
        }
        if (status != 0) co_await refuse(s, status);
        linger = status != 0;
        break;
      }
      s->idle = false;
      ++served;
      bool keep = co_await handle(s, buffer, parser, served);
      if (!keep) break;
    }
    co_await close(s, linger);
  }

  // A refusal before any request could be read (framing, timeouts).
  asio::awaitable<void> refuse(const std::shared_ptr<Session>& s, int status) {
    Request req;
    Response res;
    res.set_header(kRequestIdHeader, uuid_v4());
    respond(res, error_for_status(status));
    record(req, res, "unmatched", clock_.steady_now(), s->remote);
    co_await write(s, res, false, true);
  }

  asio::awaitable<void> close(const std::shared_ptr<Session>& s, bool linger) {
    beast::error_code ignored;
    s->socket.shutdown(tcp::socket::shutdown_send, ignored);
    if (linger) {
      s->chunk.resize(kReadChunk);
      auto until = clock_.steady_now() + kLingerTime;
      std::size_t dropped = 0;
      while (dropped < kLingerBytes) {
        arm(s, until);
        auto [ec, n] = co_await s->socket.async_read_some(asio::buffer(s->chunk), kTuple);
        disarm(s);
        if (ec) break;
        dropped += n;
      }
    }
    s->socket.close(ignored);
  }

  enum class BodyEnd { complete, stopped, too_large, malformed, timed_out, broken };

  // Reads the body into `sink` as it arrives, at most `limit` bytes.
  asio::awaitable<BodyEnd> read_body(const std::shared_ptr<Session>& s, beast::flat_buffer& buffer, Parser& parser,
                                     std::uint64_t limit, const std::function<bool(std::string_view)>& sink) {
    parser.body_limit(limit);
    s->chunk.resize(kReadChunk);
    const auto started = clock_.steady_now();
    std::uint64_t received = 0;
    while (!parser.is_done()) {
      auto& body = parser.get().body();
      body.data = s->chunk.data();
      body.size = s->chunk.size();
      const auto now = clock_.steady_now();
      const auto by_rate =
          started + limits_.read_timeout +
          std::chrono::duration_cast<SteadyTime::duration>(
              std::chrono::duration<double>(static_cast<double>(received) / kMinBodyBytesPerSecond));
      const auto deadline = std::min(now + limits_.read_timeout, by_rate);
      if (deadline <= now) co_return BodyEnd::timed_out;
      arm(s, deadline);
      auto [ec, n] = co_await bhttp::async_read_some(s->socket, buffer, parser, kTuple);
      disarm(s);
      if (ec == bhttp::error::need_buffer) ec = {};
      const std::size_t got = s->chunk.size() - body.size;
      if (ec) {
        if (s->expired) co_return BodyEnd::timed_out;
        if (ec == bhttp::error::body_limit) co_return BodyEnd::too_large;
        if (is_http_error(ec) && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          co_return BodyEnd::malformed;
        }
        co_return BodyEnd::broken;
      }
      if (got > 0) {
        received += got;
        if (!sink(std::string_view(s->chunk.data(), got))) co_return BodyEnd::stopped;
      }
    }
    co_return BodyEnd::complete;
  }

  // One request whose head has been read; true when the connection stays open.
  asio::awaitable<bool> handle(const std::shared_ptr<Session>& s, beast::flat_buffer& buffer, Parser& parser,
                               std::size_t served) {
    const auto started = clock_.steady_now();
    const auto& head = parser.get();
    Request req;
    req.method = std::string(head.method_string());
    req.target = std::string(head.target());
    auto query = req.target.find('?');
    req.path = percent_decode(std::string_view(req.target).substr(0, query), false);
    if (query != std::string::npos) req.params = parse_query(std::string_view(req.target).substr(query + 1));
    for (const auto& field : head) req.headers.add(std::string(field.name_string()), std::string(field.value()));
    req.remote_addr = s->remote;
    req.trace = continue_trace(parse_traceparent(req.header("traceparent"), req.header("tracestate")));
    Response res;
    res.set_header(kRequestIdHeader, request_id_for(req));
    std::string label = "unmatched";

    const bool has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
    bool body_pending = has_body;  // bytes of this request still on the wire
    bool must_close = false;

    auto fail = [&](int status) { respond(res, error_for_status(status)); };
    const Endpoint* endpoint = nullptr;
    std::optional<Actor> caller;
    // Everything decided from the head, before a byte of the body is read.
    [&] {
      const TraceScope scope(req.trace);
      if (!framing_ok(head)) {
        fail(400);
        must_close = true;
        return;
      }
      if (auth_.refuse_unauthenticated(req, res)) return;
      const Route* route = router_.match(req.path, req.matches);
      if (!route) return fail(404);
      label = route->label;
      auto it = route->endpoints.find(req.method == "HEAD" ? "GET" : req.method);
      if (it == route->endpoints.end()) {
        res.set_header("Allow", route->allow);
        return fail(405);
      }
      caller = auth_.authorize(req, it->second, res);
      if (!caller) return;
      if (has_body) {
        const auto limit = it->second.body_limit;
        if (limit == 0 || parser.content_length().value_or(0) > limit) return fail(413);
        if (!identity_coding(req)) {
          respond(res, ApiError{415, "unsupported_media_type",
                                "the request body must not be encoded (Content-Encoding)", std::nullopt});
          return;
        }
      }
      endpoint = &it->second;
    }();

    if (endpoint) {
      try {
        co_await run(s, buffer, parser, *endpoint, req, res, *caller, has_body, body_pending, must_close);
      } catch (const std::exception& e) {
        const TraceScope scope(req.trace);
        log::error(kComponent, "request failed",
                   {{"request_id", res.header(kRequestIdHeader)}, {"method", req.method}, {"path", req.path},
                    {"error", e.what()}});
        Response failed;
        failed.set_header(kRequestIdHeader, res.header(kRequestIdHeader));
        respond(failed, ApiError::internal());
        res = std::move(failed);
      }
    }
    const bool close = must_close || body_pending || !parser.keep_alive() || stopping() ||
                       served >= limits_.keep_alive_max_requests;
    // Counted before the write: a client that reads its answer finds it in /metrics.
    {
      const TraceScope scope(req.trace);
      record(req, res, label, started, s->remote);
    }
    const bool written = co_await write(s, res, req.method == "HEAD", close);
    co_return written && !close;
  }

  // Runs an endpoint: reads the body it takes (whole or streamed) and calls it.
  asio::awaitable<void> run(const std::shared_ptr<Session>& s, beast::flat_buffer& buffer, Parser& parser,
                            const Endpoint& endpoint, Request& req, Response& res, const Actor& caller,
                            bool has_body, bool& body_pending, bool& must_close) {
    // The route runs under the request's trace: set around each call into
    // it (a coroutine may resume on another thread).
    std::unique_ptr<BodyReader> reader;
    if (endpoint.reader) {
      const TraceScope scope(req.trace);
      reader = endpoint.reader(req, res, caller);
      if (!reader) co_return;
    }
    if (has_body) {
      if (iequals(req.header("Expect"), "100-continue") && parser.get().version() == 11) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        arm(s, clock_.steady_now() + limits_.write_timeout);
        auto [ec, n] = co_await asio::async_write(s->socket, asio::buffer(kContinue), kTuple);
        disarm(s);
        if (ec) {
          must_close = true;
          co_return;
        }
      }
      std::function<bool(std::string_view)> sink;
      if (reader) {
        sink = [&](std::string_view bytes) {
          const TraceScope scope(req.trace);
          return reader->consume(bytes, res);
        };
      } else {
        sink = [&](std::string_view bytes) {
          req.body.append(bytes);
          return true;
        };
      }
      auto end = co_await read_body(s, buffer, parser, endpoint.body_limit, sink);
      if (end != BodyEnd::complete) {
        must_close = true;
        switch (end) {
          case BodyEnd::stopped: break;  // the reader has answered
          case BodyEnd::too_large: respond(res, error_for_status(413)); break;
          case BodyEnd::malformed: respond(res, error_for_status(400)); break;
          case BodyEnd::timed_out: respond(res, error_for_status(408)); break;
          default: respond(res, error_for_status(400)); break;
        }
        co_return;
      }
      body_pending = false;
    }
    const TraceScope scope(req.trace);
    if (reader) {
      reader->finish(res);
    } else {
      endpoint.handler(req, res, caller);
    }
  }

  // Writes the response; false when the connection broke.
  asio::awaitable<bool> write(const std::shared_ptr<Session>& s, Response& res, bool head_only, bool close) {
    bhttp::response<bhttp::string_body> message{static_cast<bhttp::status>(res.status), 11};
    for (const auto& [name, value] : res.headers.fields()) message.insert(name, value);
    if (close) message.set(bhttp::field::connection, "close");
    const bool bodiless = res.status / 100 == 1 || res.status == 204 || res.status == 304;
    const bool streamed = static_cast<bool>(res.provider);
    if (!bodiless) message.content_length(streamed ? res.content_length : res.body.size());
    if (head_only || streamed || bodiless) {
      bhttp::response_serializer<bhttp::string_body> serializer(message);
      arm(s, clock_.steady_now() + limits_.write_timeout);
      auto [ec, n] = co_await bhttp::async_write_header(s->socket, serializer, kTuple);
      disarm(s);
      if (ec) co_return false;
      if (!streamed || head_only || bodiless) co_return true;
      std::string piece;
      for (std::uint64_t offset = 0; offset < res.content_length;) {
        const auto want = std::min(kStreamPiece, res.content_length - offset);
        piece.clear();
        bool ok = false;
        try {
          ok = res.provider(offset, want, [&piece](std::string_view bytes) {
            piece.append(bytes);
            return true;
          });
        } catch (const std::exception& e) {
          log::error(kComponent, "response stream failed", {{"error", e.what()}});
        }
        // The head is gone: a failure can only cut the body short.
        if (!ok || piece.empty()) co_return false;
        if (piece.size() > want) piece.resize(static_cast<std::size_t>(want));
        arm(s, clock_.steady_now() + limits_.write_timeout);
        auto [wec, written] = co_await asio::async_write(s->socket, asio::buffer(piece), kTuple);
        disarm(s);
        if (wec) co_return false;
        offset += piece.size();
      }
      co_return true;
    }
    message.body() = std::move(res.body);
    arm(s, clock_.steady_now() + limits_.write_timeout);
    auto [ec, n] = co_await bhttp::async_write(s->socket, message, kTuple);
    disarm(s);
    res.body = std::move(message.body());
    co_return !ec;
  }

  void record(const Request& req, const Response& res, const std::string& label, SteadyTime started,
              const std::string& remote) {
    if (options_.metrics) {
      auto seconds = std::chrono::duration<double>(clock_.steady_now() - started).count();
      options_.metrics
          ->counter("docvault_http_requests_total", "HTTP requests, by route, method and status.",
                    {{"route", label}, {"method", req.method}, {"status", std::to_string(res.status)}})
          .inc();
      options_.metrics
          ->histogram("docvault_http_request_duration_seconds", "HTTP request latency, by route.",
                      metrics::latency_buckets(), {{"route", label}})
          .observe(seconds);
    }
    log::info(kComponent, "request",
              {{"request_id", res.header(kRequestIdHeader)}, {"method", req.method}, {"path", req.path},
               {"status", res.status}, {"remote_addr", remote}});
  }

  const HttpOptions& options_;
  const ConnectionLimits limits_;
  const Router& router_;
  const Authenticator& auth_;
  asio::io_context ioc_;
  asio::strand<asio::io_context::executor_type> acceptor_strand_;
  tcp::acceptor acceptor_;
  int port_ = 0;

  const runtime::Clock& clock_ = runtime::system_clock();
  mutable runtime::Mutex mutex_;
  std::condition_variable_any drained_;
  std::size_t open_ GUARDED_BY(mutex_) = 0;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_ GUARDED_BY(mutex_);
  std::vector<std::thread> threads_;
};

HttpServer::HttpServer(service::DocumentService& documents, HttpOptions options)
    : options_(std::move(options)), authenticator_(options_.jwt_verifier) {
  register_operational_routes(router_, options_, authenticator_);
  if (options_.serve_api) {
    register_contract_routes(router_);
    register_document_routes(router_, documents, authenticator_, options_.max_upload_bytes, options_.content_url_ttl,
                             options_.max_upload_bytes + kMultipartOverhead);
    if (options_.admin) register_admin_routes(router_, *options_.admin, authenticator_, kJsonBodyLimit);
  }
  impl_ = std::make_unique<Impl>(options_, router_, authenticator_);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  impl_->start();
  log::info(kComponent, "HTTP server listening", {{"host", options_.host}, {"port", impl_->port()}});
}

void HttpServer::stop() {
  if (!impl_) return;
  if (impl_->stop()) log::info(kComponent, "HTTP server stopped");
}

int HttpServer::port() const { return impl_->port(); }

}  // namespace docvault::http
