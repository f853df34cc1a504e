// ConnectionGate: keeps slow and idle clients from tying up the threads that
// serve requests.
//
// cpp-httplib 0.11 gives each connection a pool thread for its whole life: a
// client that sends its headers a byte at a time, or an idle keep-alive
// connection, holds a thread, and a few dozen of them starve everyone else.
// The gate changes who waits. GatedServer hands every accepted socket to the
// gate at once (the accept loop never blocks); one waiter thread (epoll)
// collects each connection's request head (request line and headers) without
// a thread of its own, and only a connection whose head has arrived in full
// goes to a worker, which runs the library's request processing on it. After
// the response, a keep-alive connection goes back to the waiter.
//
// Limits (ConnectionLimits):
//   - at most `max_connections` open at once (waiting, queued or served);
//     beyond that a new connection gets 503 and is closed;
//   - a request head must arrive within `header_timeout` (from the connection,
//     or from its first byte on a kept-alive connection), and be at most
//     `max_header_bytes`; else 408 / 431 and close;
//   - an idle keep-alive connection is closed after `keep_alive_timeout`, and
//     after `keep_alive_max_requests` requests;
//   - while a worker reads a body, each read waits at most `read_timeout`, and
//     past `read_timeout` the body must keep coming at 16 KiB/s on average;
//     each write of the response waits at most `write_timeout`;
//   - `worker_threads` requests are served at once.
// A response that says `Connection: close` closes the connection, and so does
// one to a request whose framing failed (400, 408, 413, 414, 431).
//
// Thread-safety: admit() from the accept thread; shutdown() once, from the
// thread that stops the server; everything else is internal.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

namespace docvault::http {

struct ConnectionLimits {
  std::size_t max_connections = 512;
  std::size_t worker_threads = 16;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds keep_alive_timeout{5000};
  std::size_t keep_alive_max_requests = 100;
  std::size_t max_header_bytes = 16384;
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
};

class ConnectionGate {
 public:
  // Serves one request from the stream; returns false when the connection
  // must end (the library's Server::process_request).
  using RequestProcessor =
      std::function<bool(httplib::Stream& stream, bool close_connection, bool& connection_closed)>;

  ConnectionGate(ConnectionLimits limits, RequestProcessor processor);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // Takes ownership of an accepted socket; never blocks.
  void admit(int socket);
  // Closes waiting connections, lets requests in progress finish, joins.
  void shutdown();

  std::size_t open_connections() const;

 private:
  struct Connection {
    int socket = -1;
    std::string pending;  // bytes received and not yet consumed
    std::chrono::steady_clock::time_point deadline;
    std::size_t served = 0;
    bool started = false;  // the current request's first byte has arrived
  };

  void wait_for_heads();
  void serve();
  void to_waiter(Connection connection);
  void to_workers(Connection connection);
  void close(Connection& connection, std::string_view response = {});
  bool head_complete(const Connection& connection) const;

  const ConnectionLimits limits_;
  const RequestProcessor processor_;
  const int epoll_;
  const int wakeup_;  // eventfd: shutdown

  mutable std::mutex mutex_;
  std::condition_variable ready_cv_;
  std::map<int, Connection> waiting_;  // guarded by mutex_
  std::deque<Connection> ready_;       // guarded by mutex_
  std::size_t open_ = 0;               // guarded by mutex_
  bool stopping_ = false;              // guarded by mutex_

  std::thread waiter_;
  std::vector<std::thread> workers_;
};

// httplib::Server with its connections run through a ConnectionGate. Use
// new_task_queue as set by the constructor (the accept loop hands sockets to
// the gate inline).
class GatedServer : public httplib::Server {
 public:
  explicit GatedServer(ConnectionLimits limits);
  ~GatedServer() override;
  // The library listens with a backlog of 5; a burst of clients needs more.
  void widen_backlog();

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionGate gate_;
};

}  // namespace docvault::http
