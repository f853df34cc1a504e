// docvault's configuration: one table of environment variables.
//
// The table (config_variables()) names each variable with its type, default,
// allowed values, whether it is secret, and how it is parsed into the typed,
// immutable Config. The same table drives parsing and validation at start-up,
// `docvault config check` (the effective values, secrets redacted) and the
// README's variable table (`docvault config docs`, checked by a test), so they
// cannot disagree. A bad value stops start-up with exit code 2 and one line
// naming the variable, the value and what is allowed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "log/log.h"
#include "runtime/environment.h"

namespace docvault::app {

enum class BlobBackend { filesystem, s3 };

struct Config {
  std::string database_url;  // empty: SQLite under data_dir
  std::filesystem::path data_dir;
  std::string http_host;
  int http_port = 8080;
  std::uint64_t max_upload_bytes = 0;
  bool auto_migrate = true;
  std::size_t db_pool_size = 8;
  log::Level log_level = log::Level::info;
  log::Format log_format = log::Format::json;

  // Authentication of the HTTP API (one of secret or key file while enabled).
  bool auth_enabled = true;
  std::string jwt_secret;                    // HS256
  std::filesystem::path jwt_public_key_file;  // RS256/ES256: PEM key or certificate, or JWKS
  std::string jwt_issuer;                    // empty: not checked
  std::string jwt_audience;                  // empty: not checked
  int jwt_leeway_seconds = 60;
  bool metrics_auth_required = false;

  // HTTP limits (http/server.h).
  int http_max_connections = 512;
  int http_threads = 16;
  int http_header_timeout_seconds = 10;
  int http_keep_alive_timeout_seconds = 5;
  int http_keep_alive_max_requests = 100;
  int http_max_header_bytes = 16384;
  int http_read_timeout_seconds = 10;
  int http_write_timeout_seconds = 30;

  // The entity-events consumer (the spec's names and defaults).
  bool consumer_enabled = true;
  std::string consumer_queue_url;  // empty: not started (HTTP still serves)
  int consumer_max_messages = 5;
  int consumer_wait_time_seconds = 20;
  int consumer_retry_base_seconds = 2;
  int consumer_retry_max_seconds = 300;
  std::optional<int> consumer_visibility_timeout_seconds;
  int consumer_concurrency = 4;
  int consumer_shutdown_timeout_seconds = 25;
  std::string consumer_dead_letter_queue_url;
  std::vector<std::string> consumer_actions;  // entity actions handled
  bool consumer_reject_unknown_actions = false;  // others: acknowledged and counted, or rejected
  int idempotency_key_retention_hours = 24;
  int dedup_retention_days = 45;     // processed_events kept at least this long
  int rejected_retention_days = 90;  // rejected_messages
  bool consumer_verify_sns_signature = false;
  std::vector<std::string> consumer_allowed_topic_arns;  // required while verifying

  // The outbox relay.
  bool relay_enabled = true;
  std::string audit_topic_arn;          // required while the relay is enabled
  std::string document_events_queue_url;  // required while the relay is enabled
  int outbox_retention_hours = 168;
  int outbox_lease_seconds = 30;

  // Content storage.
  BlobBackend blob_store = BlobBackend::filesystem;
  std::string s3_bucket;  // required with BlobBackend::s3
  std::string s3_prefix = "blobs/";
  bool s3_force_path_style = false;
  std::string s3_sse;         // "", "AES256" or "aws:kms"
  std::string s3_kms_key_id;  // only with aws:kms
  int s3_presign_seconds = 300;
  int aws_request_timeout_seconds = 30;
  int blob_gc_grace_seconds = 3600;

  std::filesystem::path sqlite_path() const { return data_dir / "docvault.sqlite3"; }
  std::filesystem::path blob_dir() const { return data_dir / "blobs"; }
};

struct Variable {
  std::string_view name;
  std::string_view default_value;  // empty: unset by default
  std::string_view allowed;        // what is allowed, as the error and the docs say it
  std::string_view description;
  bool secret;
  // Parses `value` into `config`; returns false when it is not allowed.
  bool (*apply)(Config& config, std::string_view value);
};

const std::vector<Variable>& config_variables();

struct ConfigError {
  std::string variable;
  std::string value;  // redacted for secrets
  std::string allowed;
  std::string message() const;
};

// The Env seam's (runtime/environment.h): empty values count as unset.
using runtime::Environment;
using runtime::process_environment;

std::variant<Config, ConfigError> load_config(const Environment& env);

// What the relay needs and is missing, as the error start-up reports; nothing
// when the relay is disabled or has its targets.
std::optional<ConfigError> check_relay_targets(const Config& config);

// What `serve` needs to authenticate callers and is missing: a key, unless
// DOCVAULT_AUTH=disabled; nothing when it has one.
std::optional<ConfigError> check_auth(const Config& config);

// The effective configuration, one NAME=value line per variable, with its
// source (env or default) and secrets redacted.
std::string describe_config(const Environment& env);

// The Markdown table of every variable, as README.md shows it.
std::string config_markdown_table();

}  // namespace docvault::app
