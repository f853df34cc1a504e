#include "app/application.h"

#include <csignal>
#include <filesystem>
#include <memory>

#include "blob/filesystem_blob_store.h"
#include "domain/clock.h"
#include "http/server.h"
#include "log/log.h"
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
                                                      : redact_url(config.database_url)}});
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

int run_serve(const Config& config) {
  try {
    auto store = open_store(config);
    if (!prepare_schema(*store, config.auto_migrate)) return 1;
    blob::FilesystemBlobStore blobs(config.blob_dir());
    SystemClock clock;
    service::DocumentService documents(*store, blobs, clock);
    http::HttpServer server(documents, *store,
                            http::HttpOptions{config.http_host, config.http_port, config.max_upload_bytes});
    server.start();
    log::info(kComponent, "docvault started", {{"port", server.port()}});

    int signal = wait_for_shutdown_signal();
    log::info(kComponent, "shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    server.stop();
    log::info(kComponent, "docvault stopped");
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

}  // namespace docvault::app
