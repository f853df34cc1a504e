#include "app/application.h"
#include "app/security.h"

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <optional>
#include <filesystem>
#include <functional>
#include <memory>

#include "aws/s3_client.h"
#include "aws/sqs_client.h"
#include "blob/filesystem_blob_store.h"
#include "blob/s3_blob_store.h"
#include "aws/sns_client.h"
#include "consumer/consumer.h"
#include "domain/clock.h"
#include "domain/entity_event.h"
#include "http/server.h"
#include "http/admin_routes.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "outbox/relay.h"
#include "service/blob_sweeper.h"
#include "service/document_service.h"
#include "service/maintenance.h"
#include "store/database_url.h"
#include "store/store.h"

namespace docvault::app {
namespace {

constexpr std::string_view kComponent = "app";

std::unique_ptr<store::Store> open_store(const Config& config) {
  if (config.database_url.empty()) std::filesystem::create_directories(config.data_dir);
  auto store = store::open_store(
      store::StoreOptions{config.database_url, config.sqlite_path(), config.db_pool_size});
  log::info(kComponent, "store opened",
            {{"backend", store->backend()},
             {"location", config.database_url.empty() ? config.sqlite_path().string()
                                                      : store::redact_database_url(config.database_url)}});
  return store;
}

// Applies pending migrations, or refuses to start on an outdated schema.
bool prepare_schema(store::Store& store, bool auto_migrate) {
  if (auto_migrate) {
    store.migrate();
    return true;
  }
  auto applied = store.applied_migrations();
  auto known = store.known_migrations();
  if (applied.empty() || applied.back() < known.back()) {
    log::error(kComponent, "database schema is behind this binary; run `docvault migrate` first",
               {{"applied", applied.empty() ? 0 : applied.back()}, {"required", known.back()}});
    return false;
  }
  return true;
}

std::unique_ptr<blob::BlobStore> open_blob_store(const Config& config, const aws::ServiceClientOptions& aws) {
  if (config.blob_store == BlobBackend::filesystem) {
    log::info(kComponent, "blob store opened", {{"backend", "filesystem"}, {"location", config.blob_dir().string()}});
    return std::make_unique<blob::FilesystemBlobStore>(config.blob_dir());
  }
  auto client = std::make_shared<const aws::S3Client>(
      aws::S3ClientOptions{.bucket = config.s3_bucket, .force_path_style = config.s3_force_path_style}, aws);
  log::info(kComponent, "blob store opened",
            {{"backend", "s3"}, {"bucket", config.s3_bucket}, {"prefix", config.s3_prefix}});
  blob::S3BlobStoreOptions options;
  options.prefix = config.s3_prefix;
  options.encryption = {config.s3_sse, config.s3_kms_key_id};
  return std::make_unique<blob::S3BlobStore>(std::move(client), std::move(options));
}

}  // namespace

void block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_shutdown_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

namespace {

// What every long-running subcommand shares: the store, content, time and the
// document service over them.
// Sends a rejected message's body back to the entity-events queue.
class SqsRedriver final : public service::MessageRedriver {
 public:
  SqsRedriver(const aws::SqsClient& sqs, std::string queue_url) : sqs_(sqs), queue_url_(std::move(queue_url)) {}
  void redrive(const store::RejectedMessage& message) override {
    std::vector<aws::OutgoingSqsMessage> one{{message.body, {}, std::nullopt, "", "", ""}};
    if (aws::is_fifo_queue(queue_url_)) {
      // The record keeps no group: the event's entity when the body is one
      // (the consumer keeps an entity's events in order), else the message
      // itself. Its id dedups a second redrive within SQS's 5-minute window.
      auto event = parse_entity_event(message.body);
      one[0].message_group_id =
          event && aws::is_valid_fifo_id(event->entity_id) ? event->entity_id : message.message_id;
      one[0].message_deduplication_id = "redrive-" + message.message_id;
    }
    auto result = sqs_.send_message_batch(queue_url_, one);
    if (!result.all_succeeded()) {
      throw std::runtime_error("redrive failed: " + result.failed.front().code + " " + result.failed.front().message);
    }
  }

 private:
  const aws::SqsClient& sqs_;
  std::string queue_url_;
};

// What SQS, SNS and S3 share, built once per process (service_client.h): one
// libcurl transport, one credentials chain (one cache), the process clock.
aws::ServiceClientOptions shared_aws_options(const Clock& clock, const Config& config) {
  aws::ServiceClientOptions options;
  options.clock = &clock;
  aws::CurlTransportOptions transport;
  transport.request_timeout = std::chrono::seconds(config.aws_request_timeout_seconds);
  options.transport = std::make_shared<aws::CurlTransport>(transport);
  aws::CredentialsChainOptions chain;
  chain.environment = options.environment;
  chain.clock = &clock;
  options.credentials = std::make_shared<aws::DefaultCredentialsChain>(std::move(chain));
  return options;
}

struct Core {
  explicit Core(const Config& config) : aws(shared_aws_options(clock, config)), sqs(aws) {}

  metrics::Registry metrics;
  SystemClock clock;
  aws::ServiceClientOptions aws;
  aws::SqsClient sqs;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<blob::BlobStore> blobs;
  std::unique_ptr<service::DocumentService> documents;
  std::unique_ptr<SqsRedriver> redriver;
  std::unique_ptr<service::AdminService> admin;
};

// On the heap and never moved: the service holds references into it.
std::unique_ptr<Core> open_core(const Config& config) {
  auto core = std::make_unique<Core>(config);
  core->store = open_store(config);
  if (!prepare_schema(*core->store, config.auto_migrate)) return nullptr;
  core->blobs = open_blob_store(config, core->aws);
  core->documents =
      std::make_unique<service::DocumentService>(*core->store, *core->blobs, core->clock, config.consumer_actions,
                                                 std::chrono::hours(config.idempotency_key_retention_hours));
  auto* store = core->store.get();
  for (const auto& gauge : std::vector<std::pair<const char*, std::size_t store::PoolStats::*>>{
           {"capacity", &store::PoolStats::capacity}, {"open", &store::PoolStats::open},
           {"in_use", &store::PoolStats::in_use}}) {
    auto member = gauge.second;
    core->metrics.gauge_callback("docvault_db_pool_connections", "Database connections, by state.",
                                 [store, member] { return static_cast<double>(store->pool_stats().*member); },
                                 {{"state", gauge.first}});
  }
  core->metrics.counter_callback("docvault_db_pool_waits_total",
                                 "Connection acquisitions that had to wait for a free connection.",
                                 [store] { return static_cast<double>(store->pool_stats().waits); });
  if (!config.consumer_queue_url.empty()) {
    core->redriver = std::make_unique<SqsRedriver>(core->sqs, config.consumer_queue_url);
  }
  core->admin = std::make_unique<service::AdminService>(*core->store, *core->documents, core->clock, core->redriver.get());
  return core;
}

// The process's periodic background work, on one thread (service/maintenance.h):
// where the API or the consumer runs (serve, consume), the retention of
// processed events, rejected messages and idempotency keys; where the relay
// runs (serve with the relay, relay), the purge of published outbox rows.
constexpr auto kRetentionEvery = std::chrono::minutes(15);
constexpr auto kOutboxPurgeEvery = std::chrono::seconds(60);

// Deletes processed events, rejected messages and idempotency keys past their
// retention, in small batches.
void schedule_retention(service::Maintenance& maintenance, service::AdminService& admin, const Config& config) {
  const service::AdminService::Retention retention{std::chrono::hours(24) * config.dedup_retention_days,
                                                   std::chrono::hours(24) * config.rejected_retention_days,
                                                   std::chrono::hours(config.idempotency_key_retention_hours)};
  maintenance.add({"retention purge", kComponent, kRetentionEvery, [&admin, retention](std::stop_token) {
                     auto purged = admin.purge_expired(retention);
                     if (purged.processed_events + purged.rejected_messages + purged.idempotency_keys > 0) {
                       log::info(kComponent, "retention purged old records",
                                 {{"processed_events", purged.processed_events},
                                  {"rejected_messages", purged.rejected_messages},
                                  {"idempotency_keys", purged.idempotency_keys}});
                     }
                   }});
}

// Deletes published outbox rows past DOCVAULT_OUTBOX_RETENTION_HOURS (the
// relay's purge_expired: its batches, lock, metric and log line).
void schedule_outbox_purge(service::Maintenance& maintenance, outbox::OutboxRelay& relay) {
  maintenance.add({"Outbox purge", outbox::kRelayComponent, kOutboxPurgeEvery,
                   [&relay](std::stop_token stop) { relay.purge_expired(stop); }});
}

consumer::ConsumerOptions consumer_options(const Config& config) {
  consumer::ConsumerOptions options;
  options.queue_url = config.consumer_queue_url;
  options.max_messages = config.consumer_max_messages;
  options.wait_time_seconds = config.consumer_wait_time_seconds;
  options.visibility_timeout_seconds = config.consumer_visibility_timeout_seconds;
  options.concurrency = config.consumer_concurrency;
  options.shutdown_timeout = std::chrono::seconds(config.consumer_shutdown_timeout_seconds);
  if (!config.consumer_dead_letter_queue_url.empty()) {
    options.dead_letter_queue_url = config.consumer_dead_letter_queue_url;
  }
  options.sns_verifier = sns_signature_verifier(config);
  options.reject_unknown_actions = config.consumer_reject_unknown_actions;
  options.retry_base = std::chrono::seconds(config.consumer_retry_base_seconds);
  options.retry_max = std::chrono::seconds(config.consumer_retry_max_seconds);
  return options;
}

// Why `serve` runs no consumer: a stable code for /readyz and the sentence
// for the log.
struct NotStarted {
  std::string code;
  std::string text;
};

// Why `serve` runs no consumer, or nothing when it runs one.
std::optional<NotStarted> consumer_not_started_reason(const Config& config) {
  if (!config.consumer_enabled) return NotStarted{"disabled", "ENABLE_DOCUMENT_CONSUMER is false"};
  if (config.consumer_queue_url.empty()) return NotStarted{"no_queue_configured", "DOCUMENT_VAULT_SQS_URL is not set"};
  return std::nullopt;
}

// A worker's last failure, as the stable codes of its breaker: which
// dependency, and the kind of error. The error's text was logged; /readyz is
// anonymous and never shows it.
void report_last_failure(nlohmann::ordered_json& detail, const std::string& reason, const std::string& error) {
  if (reason.empty()) return;
  detail["last_failure"] = reason;
  if (!error.empty()) detail["last_error"] = error;
}

std::unique_ptr<consumer::DocumentVaultConsumer> make_consumer(const Config& config, const aws::SqsClient& sqs,
                                                              Core& core) {
  return std::make_unique<consumer::DocumentVaultConsumer>(sqs, *core.documents, core.clock, consumer_options(config),
                                                           core.metrics);
}

// /readyz's part for the consumer: running (its breaker closed), or not
// started on purpose (`reason`).
http::ReadinessCheck consumer_readiness(const consumer::DocumentVaultConsumer* consumer,
                                        std::optional<NotStarted> reason) {
  return {"consumer", [consumer, reason](nlohmann::ordered_json& detail) {
            if (!consumer) {
              detail["state"] = "not_started";
              detail["reason"] = reason ? reason->code : "";
              return true;  // configured so: not a fault
            }
            auto s = consumer->status();
            detail["state"] = s.state;
            detail["circuit_breaker"] = s.breaker;
            report_last_failure(detail, s.last_failure, s.last_error);
            detail["seconds_since_last_poll"] = s.seconds_since_last_poll;
            return s.state == "running";
          }};
}

// /readyz's part for the relay: running, or paused while publishing fails.
http::ReadinessCheck relay_readiness(const outbox::OutboxRelay* relay) {
  return {"relay", [relay](nlohmann::ordered_json& detail) {
            if (!relay) {
              detail["state"] = "not_started";
              return true;
            }
            auto s = relay->status();
            detail["state"] = s.state;
            detail["circuit_breaker"] = s.breaker;
            report_last_failure(detail, s.last_failure, s.last_error);
            detail["pending_events"] = s.pending;
            detail["oldest_pending_age_seconds"] = s.oldest_pending_age_seconds;
            return s.state == "running";
          }};
}

std::unique_ptr<outbox::OutboxRelay> make_relay(const Config& config, Core& core, const aws::SnsClient& sns,
                                               const aws::SqsClient& sqs) {
  outbox::RelayOptions options;
  options.audit_topic_arn = config.audit_topic_arn;
  options.document_events_queue_url = config.document_events_queue_url;
  options.retention = std::chrono::hours(config.outbox_retention_hours);
  options.lease = std::chrono::seconds(config.outbox_lease_seconds);
  return std::make_unique<outbox::OutboxRelay>(*core.store, sns, sqs, core.clock, options, core.metrics);
}

const char* signal_name(int signal) { return signal == SIGTERM ? "SIGTERM" : "SIGINT"; }

// Exit code 2 and the one-line error when the relay lacks its targets.
bool report_relay_targets(const Config& config) {
  if (auto error = check_relay_targets(config)) {
    std::fprintf(stderr, "docvault: %s\n", error->message().c_str());
    return false;
  }
  return true;
}

// The HTTP listener's options every long-running process shares: address,
// limits, metrics and the verifier of tokens; the API's own parts are the
// caller's to add.
http::HttpOptions http_options_of(const Config& config, Core& core,
                                  std::shared_ptr<const auth::JwtVerifier> jwt_verifier) {
  http::HttpOptions options;
  options.host = config.http_host;
  options.port = config.http_port;
  options.max_upload_bytes = config.max_upload_bytes;
  options.content_url_ttl = std::chrono::seconds(config.s3_presign_seconds);
  options.metrics = &core.metrics;
  options.jwt_verifier = std::move(jwt_verifier);
  options.metrics_require_token = config.metrics_auth_required;
  options.limits = http_limits(config);
  return options;
}

// The verifier of Bearer tokens; exit code 2 and the one-line error when its
// configuration is wrong. `consume` and `relay` need one only to protect
// /metrics.
std::optional<std::shared_ptr<const auth::JwtVerifier>> jwt_verifier_or_report(const Config& config) {
  auto loaded = load_jwt_verifier(config);
  if (auto* error = std::get_if<ConfigError>(&loaded)) {
    std::fprintf(stderr, "docvault: %s\n", error->message().c_str());
    return std::nullopt;
  }
  return std::get<std::shared_ptr<const auth::JwtVerifier>>(std::move(loaded));
}

// One part of a long-running process, as run_until_signal starts and stops it.
struct Part {
  std::function<void()> start;
  std::function<void()> stop;
};

// The skeleton of serve, consume and relay: starts `parts` in order, logs
// "docvault started" with the fields `started` gives (asked after the starts,
// when the HTTP port is known), waits for SIGTERM or SIGINT, logs "shutting
// down", stops the parts in reverse order (so the part that must stop last
// starts first) and logs "docvault stopped". A start that throws stops the
// parts started before it, in reverse order, and the exception goes on.
int run_until_signal(const std::vector<Part>& parts, const std::function<std::vector<log::Field>()>& started) {
  auto stop_first = [&](std::size_t count) {
    for (std::size_t i = count; i-- > 0;) parts[i].stop();
  };
  for (std::size_t i = 0; i < parts.size(); ++i) {
    try {
      parts[i].start();
    } catch (...) {
      stop_first(i);
      throw;
    }
  }
  log::write(log::Level::info, kComponent, "docvault started", started());
  int signal = wait_for_shutdown_signal();
  log::info(kComponent, "shutting down", {{"signal", signal_name(signal)}});
  stop_first(parts.size());
  log::info(kComponent, "docvault stopped");
  return 0;
}

template <class Runnable>
Part part_of(Runnable& runnable) {
  return {[&runnable] { runnable.start(); }, [&runnable] { runnable.stop(); }};
}

// A part that is not configured when `runnable` is null: `absent` (which
// says so in the log) runs in place of its start.
template <class Runnable>
Part part_of(const std::unique_ptr<Runnable>& runnable, std::function<void()> absent) {
  return {[&runnable, absent = std::move(absent)] { runnable ? runnable->start() : absent(); },
          [&runnable] {
            if (runnable) runnable->stop();
          }};
}

// Runs one worker (the consumer or the relay) with /healthz, /readyz and
// /metrics on the HTTP address, and the maintenance given, until SIGTERM or
// SIGINT; the worker stops first.
template <class Worker>
int run_worker(const Config& config, Core& core, Worker& worker, service::Maintenance& maintenance,
               std::vector<http::ReadinessCheck> readiness, std::shared_ptr<const auth::JwtVerifier> jwt_verifier) {
  auto options = http_options_of(config, core, std::move(jwt_verifier));
  options.serve_api = false;
  options.readiness = std::move(readiness);
  http::HttpServer server(*core.documents, std::move(options));
  return run_until_signal({part_of(maintenance), part_of(server), part_of(worker)}, [&] {
    return std::vector<log::Field>{{"port", server.port()}, {"api", false}};
  });
}

}  // namespace

int run_serve(const Config& config) {
  if (!report_relay_targets(config)) return 2;
  auto jwt_verifier = jwt_verifier_or_report(config);
  if (!jwt_verifier) return 2;
  try {
    auto core = open_core(config);
    if (!core) return 1;
    const aws::SqsClient& sqs = core->sqs;
    aws::SnsClient sns(core->aws);
    auto consumer_reason = consumer_not_started_reason(config);
    auto consumer = consumer_reason ? nullptr : make_consumer(config, sqs, *core);
    auto relay = config.relay_enabled ? make_relay(config, *core, sns, sqs) : nullptr;
    service::Maintenance maintenance(core->clock);
    schedule_retention(maintenance, *core->admin, config);
    if (relay) schedule_outbox_purge(maintenance, *relay);

    auto http_options = http_options_of(config, *core, *jwt_verifier);
    http_options.admin = core->admin.get();
    http_options.readiness = {http::database_readiness(*core->store), consumer_readiness(consumer.get(), consumer_reason),
                              relay_readiness(relay.get())};
    http::HttpServer server(*core->documents, std::move(http_options));
    // Stopped in reverse: the consumer first (no new work), then HTTP, then
    // the relay, so it can publish what the consumer's final transactions
    // wrote; the maintenance last.
    auto relay_part = part_of(relay, [] {
      log::info(outbox::kRelayComponent, "Outbox relay not started",
                {{"reason", "DOCVAULT_OUTBOX_RELAY_ENABLED is false"}});
    });
    auto consumer_part = part_of(consumer, [&] {
      // The line the spec's troubleshooting table tells operators to look for.
      log::warn(consumer::kConsumerComponent, "Document Vault consumer not started",
                {{"reason", consumer_reason->text}});
    });
    return run_until_signal({part_of(maintenance), relay_part, part_of(server), consumer_part}, [&] {
      return std::vector<log::Field>{
          {"port", server.port()}, {"consumer", consumer != nullptr}, {"relay", relay != nullptr}};
    });
  } catch (const std::exception& e) {
    log::error(kComponent, "docvault failed", {{"error", e.what()}});
    return 1;
  }
}

int run_consume(const Config& config) {
  if (config.consumer_queue_url.empty()) {
    std::fprintf(stderr, "docvault: invalid configuration: DOCUMENT_VAULT_SQS_URL is required by `consume`\n");
    return 2;
  }
  auto jwt_verifier = jwt_verifier_or_report(config);
  if (!jwt_verifier) return 2;
  try {
    auto core = open_core(config);
    if (!core) return 1;
    service::Maintenance maintenance(core->clock);
    schedule_retention(maintenance, *core->admin, config);
    auto worker = make_consumer(config, core->sqs, *core);
    return run_worker(config, *core, *worker, maintenance,
                      {http::database_readiness(*core->store), consumer_readiness(worker.get(), std::nullopt)},
                      *jwt_verifier);
  } catch (const std::exception& e) {
    log::error(kComponent, "docvault failed", {{"error", e.what()}});
    return 1;
  }
}

int run_relay(Config config) {
  config.relay_enabled = true;
  if (!report_relay_targets(config)) return 2;
  auto jwt_verifier = jwt_verifier_or_report(config);
  if (!jwt_verifier) return 2;
  try {
    auto core = open_core(config);
    if (!core) return 1;
    aws::SnsClient sns(core->aws);
    auto relay = make_relay(config, *core, sns, core->sqs);
    service::Maintenance maintenance(core->clock);
    schedule_outbox_purge(maintenance, *relay);
    return run_worker(config, *core, *relay, maintenance,
                      {http::database_readiness(*core->store), relay_readiness(relay.get())}, *jwt_verifier);
  } catch (const std::exception& e) {
    log::error(kComponent, "docvault failed", {{"error", e.what()}});
    return 1;
  }
}

int run_admin(const Config& config, const AdminCommand& command) {
  try {
    auto core = open_core(config);
    if (!core) return 1;
    auto print = [](const nlohmann::ordered_json& j) { std::printf("%s\n", j.dump(2).c_str()); };
    auto invalid = [](const FieldError& e) {
      std::fprintf(stderr, "docvault: %s %s\n", e.field.c_str(), e.message.c_str());
      return 2;
    };
    auto not_found = [](const char* what) {
      std::fprintf(stderr, "docvault: %s\n", what);
      return 1;
    };
    switch (command.kind) {
      case AdminCommand::Kind::processed_events: {
        auto events = core->admin->processed_events(command.query);
        if (!events) return invalid(events.error());
        nlohmann::ordered_json items = nlohmann::ordered_json::array();
        for (const auto& e : events.value()) items.push_back(http::processed_event_json(e));
        print({{"items", std::move(items)}});
        return 0;
      }
      case AdminCommand::Kind::replay: {
        auto result = core->admin->replay(command.id);
        if (!result) return not_found("no processed event with this event_id");
        print(http::replay_json(*result));
        return 0;
      }
      case AdminCommand::Kind::republish: {
        auto result = core->admin->republish(command.entity_id, command.document_id);
        if (!result) return invalid(result.error());
        if (!result.value()) return not_found("no document with this id");
        print({{"requeued_events", *result.value()}});
        return 0;
      }
      case AdminCommand::Kind::rejected_messages: {
        nlohmann::ordered_json items = nlohmann::ordered_json::array();
        for (const auto& m : core->admin->rejected_messages(command.limit)) items.push_back(http::rejected_message_json(m));
        print({{"items", std::move(items)}});
        return 0;
      }
      case AdminCommand::Kind::redrive:
        switch (core->admin->redrive(command.id)) {
          case service::RedriveOutcome::redriven:
            print({{"redriven", true}});
            return 0;
          case service::RedriveOutcome::not_found:
            return not_found("no rejected message with this message_id");
          case service::RedriveOutcome::no_queue:
            std::fprintf(stderr, "docvault: invalid configuration: DOCUMENT_VAULT_SQS_URL is required by `admin redrive`\n");
            return 2;
        }
    }
    return 1;
  } catch (const std::exception& e) {
    log::error(kComponent, "admin command failed", {{"error", e.what()}});
    return 1;
  }
}

int run_migrate(const Config& config) {
  try {
    auto store = open_store(config);
    auto before = store->applied_migrations();
    store->migrate();
    auto after = store->applied_migrations();
    log::info(kComponent, "migrations applied",
              {{"applied_now", after.size() - before.size()}, {"version", after.empty() ? 0 : after.back()}});
    return 0;
  } catch (const std::exception& e) {
    log::error(kComponent, "migration failed", {{"error", e.what()}});
    return 1;
  }
}

int run_gc_blobs(const Config& config, const GcBlobsOptions& options) {
  try {
    auto core = open_core(config);
    if (!core) return 1;
    auto grace = options.grace.value_or(std::chrono::seconds(config.blob_gc_grace_seconds));
    service::BlobSweeper sweeper(*core->store, *core->blobs, core->clock);
    auto now = core->clock.now();
    auto report = sweeper.sweep({grace, options.apply, [&](const blob::BlobStat& orphan, bool deleted) {
                                   auto age = std::chrono::duration_cast<std::chrono::seconds>(now - orphan.modified);
                                   std::printf("%s %s %llu bytes, %lld s old\n", deleted ? "deleted" : "orphan",
                                               orphan.sha256.c_str(), static_cast<unsigned long long>(orphan.size),
                                               static_cast<long long>(age.count()));
                                 }});
    std::printf("%s: %zu blobs scanned, %zu referenced, %zu younger than %lld s, %zu orphaned (%llu bytes), "
                "%zu deleted%s\n",
                options.apply ? "applied" : "dry run", report.scanned, report.referenced, report.recent,
                static_cast<long long>(grace.count()), report.orphans,
                static_cast<unsigned long long>(report.orphan_bytes), report.deleted,
                options.apply ? "" : " (run with --apply to delete)");
    log::info(kComponent, "blob sweep finished",
              {{"apply", options.apply}, {"scanned", report.scanned}, {"orphans", report.orphans},
               {"deleted", report.deleted}});
    return 0;
  } catch (const std::exception& e) {
    log::error(kComponent, "blob sweep failed", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace docvault::app
