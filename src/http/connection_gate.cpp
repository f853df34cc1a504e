#include "http/connection_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace docvault::http {
namespace {

using Clock = std::chrono::steady_clock;

// Past read_timeout, a body must average at least this rate.
constexpr double kMinBodyBytesPerSecond = 16 * 1024;
constexpr std::string_view kHeadEnd = "\r\n\r\n";

std::string canned(int status, std::string_view reason, std::string_view code, std::string_view message) {
  std::string body = R"({"error":{"code":")" + std::string(code) + R"(","message":")" + std::string(message) + "\"}}";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string& response_busy() {
  static const std::string r = canned(503, "Service Unavailable", "unavailable", "too many connections");
  return r;
}
const std::string& response_timeout() {
  static const std::string r = canned(408, "Request Timeout", "request_timeout", "the request head came too slowly");
  return r;
}
const std::string& response_too_large() {
  static const std::string r =
      canned(431, "Request Header Fields Too Large", "headers_too_large", "the request head is too large");
  return r;
}

int milliseconds_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1000 * 1000));
}

bool wait_for(int socket, short events, std::chrono::milliseconds timeout) {
  pollfd p{socket, events, 0};
  int rc = 0;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

// One request's view of a connection: the bytes the waiter already read
// first, then the socket, under the gate's timeouts.
class GateStream final : public httplib::Stream {
 public:
  GateStream(int socket, std::string& pending, const ConnectionLimits& limits)
      : socket_(socket), pending_(pending), limits_(limits), started_(Clock::now()) {}

  bool is_readable() const override {
    return offset_ < pending_.size() || wait_for(socket_, POLLIN, limits_.read_timeout);
  }
  bool is_writable() const override { return wait_for(socket_, POLLOUT, limits_.write_timeout); }

  ssize_t read(char* ptr, size_t size) override {
    if (offset_ < pending_.size()) {
      auto n = std::min(size, pending_.size() - offset_);
      std::memcpy(ptr, pending_.data() + offset_, n);
      offset_ += n;
      return static_cast<ssize_t>(n);
    }
    auto elapsed = std::chrono::duration<double>(Clock::now() - started_);
    auto grace = std::chrono::duration<double>(limits_.read_timeout);
    if (elapsed > grace && static_cast<double>(received_) < (elapsed - grace).count() * kMinBodyBytesPerSecond) {
      return -1;  // a body trickling in slower than any real client sends
    }
    if (!wait_for(socket_, POLLIN, limits_.read_timeout)) return -1;
    ssize_t n = 0;
    do {
      n = ::recv(socket_, ptr, size, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > 0) received_ += static_cast<std::size_t>(n);
    return n;
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!head_seen_) note_response_head(std::string_view(ptr, size));
    while (true) {
      if (!wait_for(socket_, POLLOUT, limits_.write_timeout)) return -1;
      ssize_t n = ::send(socket_, ptr, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(false, ip, port); }
  socket_t socket() const override { return socket_; }

  // The bytes after this request (a pipelined next one), for the waiter.
  std::string unread() const { return pending_.substr(std::min(offset_, pending_.size())); }
  bool response_closes() const { return response_closes_; }

 private:
  void address(bool remote, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t length = sizeof addr;
    int rc = remote ? ::getpeername(socket_, reinterpret_cast<sockaddr*>(&addr), &length)
                    : ::getsockname(socket_, reinterpret_cast<sockaddr*>(&addr), &length);
    if (rc != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
      port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
      port = ntohs(a->sin6_port);
    }
    ip = text;
  }

  // The library writes the status line and headers in one piece. A response
  // that announces Connection: close must be followed by a close (the
  // library only tracks the request's own Connection header), and so must
  // one to a request whose framing failed (400, 408, 413, 414, 431): the
  // rest of its body may still be on the wire and must never be read as
  // the next request.
  void note_response_head(std::string_view head) {
    head_seen_ = true;
    auto end = head.find(kHeadEnd);
    response_closes_ = head.substr(0, end).find("\r\nConnection: close\r\n") != std::string_view::npos;
    constexpr std::string_view kVersion = "HTTP/1.1 ";
    if (head.starts_with(kVersion) && head.size() >= kVersion.size() + 3) {
      auto status = head.substr(kVersion.size(), 3);
      for (std::string_view framing : {"400", "408", "413", "414", "431"}) {
        response_closes_ = response_closes_ || status == framing;
      }
    }
  }

  int socket_;
  std::string& pending_;
  const ConnectionLimits& limits_;
  Clock::time_point started_;
  std::size_t offset_ = 0;
  std::size_t received_ = 0;
  bool head_seen_ = false;
  bool response_closes_ = false;
};

// Runs each task on the calling (accept) thread: GatedServer's task only
// hands the socket to the gate. The accept loop shuts it down when the server
// stops, which stops the gate (in-flight requests finish first).
class InlineTaskQueue final : public httplib::TaskQueue {
 public:
  explicit InlineTaskQueue(ConnectionGate& gate) : gate_(gate) {}
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { gate_.shutdown(); }

 private:
  ConnectionGate& gate_;
};

}  // namespace

ConnectionGate::ConnectionGate(ConnectionLimits limits, RequestProcessor processor)
    : limits_(limits),
      processor_(std::move(processor)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wakeup_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (epoll_ < 0 || wakeup_ < 0) throw std::runtime_error("cannot create the connection gate's epoll");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = wakeup_;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wakeup_, &event);
  waiter_ = std::thread([this] { wait_for_heads(); });
  for (std::size_t i = 0; i < std::max<std::size_t>(limits_.worker_threads, 1); ++i) {
    workers_.emplace_back([this] { serve(); });
  }
}

ConnectionGate::~ConnectionGate() {
  shutdown();
  ::close(epoll_);
  ::close(wakeup_);
}

std::size_t ConnectionGate::open_connections() const {
  std::lock_guard lock(mutex_);
  return open_;
}

void ConnectionGate::admit(int socket) {
  // The library writes a response's head and body separately: with Nagle's
  // algorithm the body would wait for the client's delayed ACK (~40 ms).
  const int one = 1;
  ::setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Connection connection;
  connection.socket = socket;
  connection.deadline = Clock::now() + limits_.header_timeout;
  connection.started = true;  // the head's clock runs from the connection
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || open_ >= limits_.max_connections) {
      // Best effort, without waiting: the client learns why.
      ::send(socket, response_busy().data(), response_busy().size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      ::shutdown(socket, SHUT_RDWR);
      ::close(socket);
      return;
    }
    ++open_;
  }
  to_waiter(std::move(connection));
}

void ConnectionGate::to_waiter(Connection connection) {
  const int socket = connection.socket;
  std::lock_guard lock(mutex_);
  if (stopping_) {
    close(connection);
    return;
  }
  waiting_.emplace(socket, std::move(connection));
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP;
  event.data.fd = socket;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, socket, &event);
}

void ConnectionGate::to_workers(Connection connection) {
  {
    std::lock_guard lock(mutex_);
    ready_.push_back(std::move(connection));
  }
  ready_cv_.notify_one();
}

// Called with mutex_ held, or on a connection no other thread can see.
void ConnectionGate::close(Connection& connection, std::string_view response) {
  if (connection.socket < 0) return;
  if (!response.empty()) {
    ::send(connection.socket, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  ::shutdown(connection.socket, SHUT_RDWR);
  ::close(connection.socket);
  connection.socket = -1;
  --open_;
}

bool ConnectionGate::head_complete(const Connection& connection) const {
  return connection.pending.find(kHeadEnd) != std::string::npos;
}

void ConnectionGate::wait_for_heads() {
  std::vector<epoll_event> events(64);
  std::vector<char> buffer(limits_.max_header_bytes + 1);
  while (true) {
    int timeout = 1000;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      for (const auto& [socket, c] : waiting_) timeout = std::min(timeout, milliseconds_until(c.deadline) + 1);
    }
    int count = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout);
    std::vector<Connection> ready;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      for (int i = 0; i < std::max(count, 0); ++i) {
        const int socket = events[static_cast<std::size_t>(i)].data.fd;
        auto it = waiting_.find(socket);
        if (it == waiting_.end()) continue;
        auto& c = it->second;
        const auto room = limits_.max_header_bytes + 1 - std::min(c.pending.size(), limits_.max_header_bytes);
        ssize_t n = ::recv(socket, buffer.data(), room, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, socket, nullptr);
        if (n <= 0) {  // the client closed, or the connection broke
          close(c);
          waiting_.erase(it);
          continue;
        }
        if (!c.started) {
          c.started = true;
          c.deadline = Clock::now() + limits_.header_timeout;
        }
        c.pending.append(buffer.data(), static_cast<std::size_t>(n));
        if (head_complete(c)) {
          ready.push_back(std::move(c));
          waiting_.erase(it);
        } else if (c.pending.size() > limits_.max_header_bytes) {
          close(c, response_too_large());
          waiting_.erase(it);
        } else {
          epoll_event event{};
          event.events = EPOLLIN | EPOLLRDHUP;
          event.data.fd = socket;
          ::epoll_ctl(epoll_, EPOLL_CTL_ADD, socket, &event);
        }
      }
      const auto now = Clock::now();
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.deadline > now) {
          ++it;
          continue;
        }
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, it->first, nullptr);
        // An idle keep-alive connection just ends; a head cut short hears why.
        close(it->second, it->second.pending.empty() ? std::string_view() : response_timeout());
        it = waiting_.erase(it);
      }
    }
    for (auto& c : ready) to_workers(std::move(c));
  }
}

void ConnectionGate::serve() {
  while (true) {
    Connection connection;
    {
      std::unique_lock lock(mutex_);
      ready_cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (ready_.empty()) return;  // stopping, nothing left
      connection = std::move(ready_.front());
      ready_.pop_front();
    }
    bool keep = false;
    {
      GateStream stream(connection.socket, connection.pending, limits_);
      bool stopping = false;
      {
        std::lock_guard lock(mutex_);
        stopping = stopping_;
      }
      const bool last = stopping || connection.served + 1 >= limits_.keep_alive_max_requests;
      bool connection_closed = false;
      bool ok = processor_(stream, last, connection_closed);
      ++connection.served;
      keep = ok && !connection_closed && !last && !stream.response_closes();
      connection.pending = stream.unread();
    }
    if (!keep) {
      std::lock_guard lock(mutex_);
      close(connection);
      continue;
    }
    connection.started = !connection.pending.empty();
    connection.deadline = Clock::now() + (connection.started ? limits_.header_timeout : limits_.keep_alive_timeout);
    if (head_complete(connection)) {
      to_workers(std::move(connection));  // pipelined: the next head is here already
    } else {
      to_waiter(std::move(connection));
    }
  }
}

void ConnectionGate::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [socket, c] : waiting_) {
      ::epoll_ctl(epoll_, EPOLL_CTL_DEL, socket, nullptr);
      close(c);
    }
    waiting_.clear();
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wakeup_, &one, sizeof one);
  ready_cv_.notify_all();
  if (waiter_.joinable()) waiter_.join();
  // Workers drain what is ready (each answers and closes), then return.
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
}

GatedServer::GatedServer(ConnectionLimits limits)
    : gate_(limits, [this](httplib::Stream& stream, bool close_connection, bool& connection_closed) {
        return process_request(stream, close_connection, connection_closed, nullptr);
      }) {
  new_task_queue = [this] { return new InlineTaskQueue(gate_); };
  set_keep_alive_timeout(std::max<time_t>(1, std::chrono::duration_cast<std::chrono::seconds>(
                                                  limits.keep_alive_timeout).count()));
  set_keep_alive_max_count(limits.keep_alive_max_requests);
}

GatedServer::~GatedServer() { gate_.shutdown(); }

void GatedServer::widen_backlog() {
  socket_t sock = svr_sock_;
  if (sock != INVALID_SOCKET) ::listen(sock, SOMAXCONN);
}

bool GatedServer::process_and_close_socket(socket_t sock) {
  gate_.admit(sock);
  return true;
}

}  // namespace docvault::http
