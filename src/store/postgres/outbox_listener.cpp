#include "store/postgres/outbox_listener.h"

#include <chrono>
#include <exception>

#include <pqxx/pqxx>

#include "log/log.h"
#include "runtime/clock.h"
#include "store/database_url.h"

namespace docvault::store::postgres {
namespace {

// LISTEN/NOTIFY channel that wakes every instance's relay.
constexpr const char* kOutboxChannel = "docvault_outbox";

// Turns NOTIFYs on the outbox channel into local wake-ups.
class OutboxReceiver final : public pqxx::notification_receiver {
 public:
  OutboxReceiver(pqxx::connection_base& connection, OutboxSignal& signal)
      : pqxx::notification_receiver(connection, kOutboxChannel), signal_(signal) {}
  void operator()(const std::string&, int) override { signal_.notify(); }

 private:
  OutboxSignal& signal_;
};

}  // namespace

void OutboxListener::start() {
  std::call_once(started_, [this] { thread_ = std::jthread([this](std::stop_token s) { listen(s); }); });
}

void OutboxListener::listen(std::stop_token stop) {
  while (!stop.stop_requested()) {
    try {
      pqxx::connection connection(database_url_);
      OutboxReceiver receiver(connection, signal_);
      // Rows added while not listening would otherwise wait for the slow poll.
      signal_.notify();
      while (!stop.stop_requested()) connection.await_notification(0, 200'000);
    } catch (const std::exception& e) {
      log::warn("store", "outbox LISTEN connection failed; retrying",
                {{"error", redact_database_error(e.what(), database_url_)}});
      runtime::system_clock().sleep_for(std::chrono::seconds(1), stop);
    }
  }
}

}  // namespace docvault::store::postgres
