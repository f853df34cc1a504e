// Wiring: builds docvault's parts from a Config and runs a subcommand.
//
// `serve` opens the store (migrating it when DOCVAULT_AUTO_MIGRATE is true),
// the blob store, the DocumentService, the HTTP server, the entity-events
// consumer and the outbox relay, then waits for SIGTERM or SIGINT and stops
// them: the consumer first (it drains in-flight messages), then HTTP, then
// the relay. `consume` and `relay` run one worker alone. Each runs its
// periodic background work (retention, the outbox purge where the relay
// runs) on one service::Maintenance. Called from main's thread only.
#pragma once

#include <chrono>
#include <optional>

#include "app/config.h"
#include "service/admin_service.h"

namespace docvault::app {

// Exit codes: 0 success, 1 runtime failure, 2 bad configuration or usage.
int run_serve(const Config& config);
// The consumer alone, without HTTP (exit 2 without DOCUMENT_VAULT_SQS_URL).
int run_consume(const Config& config);
// The outbox relay alone (exit 2 without its targets).
int run_relay(Config config);
int run_migrate(const Config& config);

struct GcBlobsOptions {
  bool apply = false;                        // false: a dry run that only reports
  std::optional<std::chrono::seconds> grace;  // unset: DOCVAULT_BLOB_GC_GRACE_SECONDS
};
// `admin gc-blobs`: lists blobs no document row references and that are older
// than the grace period (service/blob_sweeper.h), one line each on stdout,
// then a summary; deletes them with `apply`.
int run_gc_blobs(const Config& config, const GcBlobsOptions& options);

// `docvault admin …`: the admin API's twins, printing the same JSON.
struct AdminCommand {
  enum class Kind { processed_events, replay, republish, rejected_messages, redrive } kind;
  service::ProcessedEventQuery query;  // processed_events
  std::string id;                      // replay: event_id; redrive: message_id
  std::optional<std::string> entity_id, document_id;  // republish
  std::size_t limit = 100;             // rejected_messages
};
int run_admin(const Config& config, const AdminCommand& command);

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts
// later, so they can be received with wait_for_shutdown_signal(). Call first
// thing in main.
void block_shutdown_signals();
int wait_for_shutdown_signal();

}  // namespace docvault::app
