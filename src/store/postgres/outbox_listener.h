// The PostgreSQL store's listener for other instances' outbox appends.
//
// A transaction that appends outbox rows sends NOTIFY docvault_outbox, which
// the server delivers to every listening session when it commits. The
// listener holds such a session on a connection of its own (outside the pool)
// on a thread of its own, and turns each notification into a notify() of this
// process's OutboxSignal, so a relay here wakes for rows another instance
// wrote. When the connection fails it logs (the URL's password redacted),
// waits a second and listens again; on each (re)connect it signals once, as
// rows may have come while nobody listened.
//
// Thread-safety: start() may be called from any number of threads (the
// first starts the thread). The destructor stops and joins the thread; the
// URL and the signal must outlive the listener.
#pragma once

#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "store/outbox_signal.h"

namespace docvault::store::postgres {

class OutboxListener {
 public:
  // Connects nothing until start().
  OutboxListener(const std::string& database_url, OutboxSignal& signal)
      : database_url_(database_url), signal_(signal) {}
  OutboxListener(const OutboxListener&) = delete;
  OutboxListener& operator=(const OutboxListener&) = delete;

  // Starts listening, the first time it is called.
  void start();

 private:
  void listen(std::stop_token stop);

  const std::string& database_url_;  // holds the password: never log it
  OutboxSignal& signal_;
  std::once_flag started_;
  std::jthread thread_;  // last: joined before the members above go
};

}  // namespace docvault::store::postgres
