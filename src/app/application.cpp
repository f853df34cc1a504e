#include "app/application.h"

#include <csignal>
#include <cstdio>
#include <optional>
#include <filesystem>
#include <memory>

#include "aws/s3_client.h"
#include "aws/sqs_client.h"
#include "blob/filesystem_blob_store.h"
#include "blob/s3_blob_store.h"
#include "aws/sns_client.h"
#include "consumer/consumer.h"
#include "domain/clock.h"
#include "http/server.h"
#include "log/log.h"
#include "outbox/relay.h"
#include "service/blob_sweeper.h"
#include "service/document_service.h"
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

std::unique_ptr<blob::BlobStore> open_blob_store(const Config& config) {
  if (config.blob_store == BlobBackend::filesystem) {
    log::info(kComponent, "blob store opened", {{"backend", "filesystem"}, {"location", config.blob_dir().string()}});
    return std::make_unique<blob::FilesystemBlobStore>(config.blob_dir());
  }
  auto client = std::make_shared<const aws::S3Client>(
      aws::S3ClientOptions{.bucket = config.s3_bucket, .force_path_style = config.s3_force_path_style});
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
struct Core {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<blob::BlobStore> blobs;
  SystemClock clock;
  std::unique_ptr<service::DocumentService> documents;
};

// On the heap and never moved: the service holds references into it.
std::unique_ptr<Core> open_core(const Config& config) {
  auto core = std::make_unique<Core>();
  core->store = open_store(config);
  if (!prepare_schema(*core->store, config.auto_migrate)) return nullptr;
  core->blobs = open_blob_store(config);
  core->documents = std::make_unique<service::DocumentService>(*core->store, *core->blobs, core->clock);
  return core;
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
  return options;
}

// The consumer, when it is enabled and has a queue; otherwise the log line the
// spec's troubleshooting table tells operators to look for.
std::unique_ptr<consumer::DocumentVaultConsumer> start_consumer(const Config& config, const aws::SqsClient& sqs,
                                                               Core& core) {
  if (!config.consumer_enabled) {
    log::info(consumer::kConsumerComponent, "Document Vault consumer not started",
              {{"reason", "ENABLE_DOCUMENT_CONSUMER is false"}});
    return nullptr;
  }
  if (config.consumer_queue_url.empty()) {
    log::warn(consumer::kConsumerComponent, "Document Vault consumer not started",
              {{"reason", "DOCUMENT_VAULT_SQS_URL is not set"}});
    return nullptr;
  }
  auto worker = std::make_unique<consumer::DocumentVaultConsumer>(sqs, *core.documents, core.clock,
                                                                  consumer_options(config));
  worker->start();
  return worker;
}

std::unique_ptr<outbox::OutboxRelay> make_relay(const Config& config, Core& core, const aws::SnsClient& sns,
                                               const aws::SqsClient& sqs) {
  outbox::RelayOptions options;
  options.audit_topic_arn = config.audit_topic_arn;
  options.document_events_queue_url = config.document_events_queue_url;
  options.retention = std::chrono::hours(config.outbox_retention_hours);
  options.lease = std::chrono::seconds(config.outbox_lease_seconds);
  return std::make_unique<outbox::OutboxRelay>(*core.store, sns, sqs, core.clock, options);
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

}  // namespace

int run_serve(const Config& config) {
  if (!report_relay_targets(config)) return 2;
  try {
    auto core = open_core(config);
    if (!core) return 1;
    aws::SqsClient sqs;
    aws::SnsClient sns;
    http::HttpServer server(*core->documents, *core->store,
                            http::HttpOptions{config.http_host, config.http_port, config.max_upload_bytes,
                                              std::chrono::seconds(config.s3_presign_seconds)});
    server.start();
    auto consumer = start_consumer(config, sqs, *core);
    std::unique_ptr<outbox::OutboxRelay> relay;
    if (config.relay_enabled) {
      relay = make_relay(config, *core, sns, sqs);
      relay->start();
    } else {
      log::info(outbox::kRelayComponent, "Outbox relay not started", {{"reason", "DOCVAULT_OUTBOX_RELAY_ENABLED is false"}});
    }
    log::info(kComponent, "docvault started",
              {{"port", server.port()}, {"consumer", consumer != nullptr}, {"relay", relay != nullptr}});

    int signal = wait_for_shutdown_signal();
    log::info(kComponent, "shutting down", {{"signal", signal_name(signal)}});
    // Stop taking work first; the relay last, so it can publish what the
    // consumer's final transactions wrote.
    if (consumer) consumer->stop();
    server.stop();
    if (relay) relay->stop();
    log::info(kComponent, "docvault stopped");
    return 0;
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
  try {
    auto core = open_core(config);
    if (!core) return 1;
    aws::SqsClient sqs;
    consumer::DocumentVaultConsumer worker(sqs, *core->documents, core->clock, consumer_options(config));
    worker.start();
    int signal = wait_for_shutdown_signal();
    log::info(kComponent, "shutting down", {{"signal", signal_name(signal)}});
    worker.stop();
    return 0;
  } catch (const std::exception& e) {
    log::error(kComponent, "docvault failed", {{"error", e.what()}});
    return 1;
  }
}

int run_relay(Config config) {
  config.relay_enabled = true;
  if (!report_relay_targets(config)) return 2;
  try {
    auto core = open_core(config);
    if (!core) return 1;
    aws::SqsClient sqs;
    aws::SnsClient sns;
    auto relay = make_relay(config, *core, sns, sqs);
    relay->start();
    int signal = wait_for_shutdown_signal();
    log::info(kComponent, "shutting down", {{"signal", signal_name(signal)}});
    relay->stop();
    return 0;
  } catch (const std::exception& e) {
    log::error(kComponent, "docvault failed", {{"error", e.what()}});
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
    auto now = std::chrono::system_clock::now();
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
