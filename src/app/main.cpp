// docvault: the Document Vault service. One binary, one subcommand per job.
#include <cstdio>
#include <iostream>
#include <optional>
#include <variant>

#include <CLI/CLI.hpp>

#include "app/application.h"
#include "app/config.h"
#include "log/log.h"

namespace {

// Loads the configuration or prints the one-line error and returns nothing.
std::optional<docvault::app::Config> load_or_report() {
  auto loaded = docvault::app::load_config(docvault::app::process_environment());
  if (auto* error = std::get_if<docvault::app::ConfigError>(&loaded)) {
    std::cerr << "docvault: " << error->message() << "\n";
    return std::nullopt;
  }
  auto config = std::get<docvault::app::Config>(std::move(loaded));
  docvault::log::init(config.log_level, config.log_format);
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  docvault::app::block_shutdown_signals();

  CLI::App cli{"docvault: the Document Vault service. Configuration comes from the environment; "
               "see `docvault config docs`."};
  cli.require_subcommand(1);
  int exit_code = 0;

  auto* serve = cli.add_subcommand("serve", "Run the HTTP API (and the background workers) until SIGTERM/SIGINT.");
  serve->callback([&] {
    auto config = load_or_report();
    exit_code = config ? docvault::app::run_serve(*config) : 2;
  });

  auto* consume = cli.add_subcommand("consume", "Run only the entity-events consumer until SIGTERM/SIGINT.");
  consume->callback([&] {
    auto config = load_or_report();
    exit_code = config ? docvault::app::run_consume(*config) : 2;
  });

  auto* relay = cli.add_subcommand("relay", "Run only the outbox relay until SIGTERM/SIGINT.");
  relay->callback([&] {
    auto config = load_or_report();
    exit_code = config ? docvault::app::run_relay(*config) : 2;
  });

  auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations and exit.");
  migrate->callback([&] {
    auto config = load_or_report();
    exit_code = config ? docvault::app::run_migrate(*config) : 2;
  });

  auto* config_cmd = cli.add_subcommand("config", "Inspect the configuration.");
  config_cmd->require_subcommand(1);
  config_cmd->add_subcommand("check", "Validate the environment and print the effective configuration (secrets redacted).")
      ->callback([&] {
        auto config = load_or_report();
        if (!config) {
          exit_code = 2;
          return;
        }
        std::cout << docvault::app::describe_config(docvault::app::process_environment());
      });
  config_cmd->add_subcommand("docs", "Print the table of environment variables (Markdown).")->callback([] {
    std::cout << docvault::app::config_markdown_table();
  });

  auto* admin = cli.add_subcommand("admin", "Operator tasks.");
  admin->require_subcommand(1);
  // The admin API's twins (docvault admin <verb> --help); each prints JSON.
  docvault::app::AdminCommand admin_command{};
  auto run_admin = [&](docvault::app::AdminCommand::Kind kind) {
    return [&, kind] {
      auto config = load_or_report();
      if (!config) {
        exit_code = 2;
        return;
      }
      admin_command.kind = kind;
      exit_code = docvault::app::run_admin(*config, admin_command);
    };
  };
  using Kind = docvault::app::AdminCommand::Kind;
  auto* processed = admin->add_subcommand("processed-events", "List processed events, newest first.");
  processed->add_option("--entity-id", admin_command.query.entity_id, "Only this entity's events.");
  processed->add_option("--entity-type", admin_command.query.entity_type, "Only this entity type's events.");
  processed->add_option("--since", admin_command.query.since, "Recorded at or after (2025-10-23T12:34:56.789Z).");
  processed->add_option("--until", admin_command.query.until, "Recorded before.");
  processed->add_option("--limit", admin_command.query.limit, "At most this many (1-1000, default 100).");
  processed->callback(run_admin(Kind::processed_events));
  auto* replay = admin->add_subcommand("replay", "Run a processed event's cascade again (idempotent).");
  replay->add_option("event_id", admin_command.id, "The event_id.")->required();
  replay->callback(run_admin(Kind::replay));
  auto* republish = admin->add_subcommand("republish", "Publish an entity's or a document's outbox events again.");
  auto* by_entity = republish->add_option("--entity-id", admin_command.entity_id, "Every event of this entity.");
  republish->add_option("--document-id", admin_command.document_id, "Every event of this document.")->excludes(by_entity);
  republish->callback(run_admin(Kind::republish));
  auto* rejected = admin->add_subcommand("rejected-messages", "List rejected messages, newest first.");
  rejected->add_option("--limit", admin_command.limit, "At most this many (default 100).")->check(CLI::Range(1, 1000));
  rejected->callback(run_admin(Kind::rejected_messages));
  auto* redrive = admin->add_subcommand("redrive", "Send a rejected message back to DOCUMENT_VAULT_SQS_URL.");
  redrive->add_option("message_id", admin_command.id, "The rejected message's id.")->required();
  redrive->callback(run_admin(Kind::redrive));

  auto* gc_blobs = admin->add_subcommand(
      "gc-blobs",
      "Find blobs no document references (left by failed uploads) and older than the grace period; "
      "a dry run unless --apply.");
  bool gc_apply = false;
  std::optional<long long> gc_grace_seconds;
  gc_blobs->add_flag("--apply", gc_apply, "Delete the orphans found (default: only list them).");
  gc_blobs->add_option("--grace-seconds", gc_grace_seconds,
                       "Leave blobs younger than this alone (default: DOCVAULT_BLOB_GC_GRACE_SECONDS). "
                       "Below the time an upload takes to commit, a blob being uploaded could be deleted.")
      ->check(CLI::NonNegativeNumber);
  gc_blobs->callback([&] {
    auto config = load_or_report();
    if (!config) {
      exit_code = 2;
      return;
    }
    docvault::app::GcBlobsOptions options{gc_apply, std::nullopt};
    if (gc_grace_seconds) options.grace = std::chrono::seconds(*gc_grace_seconds);
    exit_code = docvault::app::run_gc_blobs(*config, options);
  });

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }
  return exit_code;
}
