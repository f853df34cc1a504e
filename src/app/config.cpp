#include "app/config.h"

#include <limits>

#include "runtime/parse.h"
#include "service/document_service.h"
#include "store/database_url.h"

namespace docvault::app {
namespace {

// The Env seam's parsers (runtime/parse.h), storing into the field.
template <class Int>
bool parse_int(std::string_view text, Int min, Int max, Int& out) {
  auto value = runtime::parse_integer<Int>(text, min, max);
  if (value) out = *value;
  return value.has_value();
}

bool parse_bool(std::string_view text, bool& out) {
  auto value = runtime::parse_bool(text);
  if (value) out = *value;
  return value.has_value();
}

bool apply_database_url(Config& c, std::string_view v) {
  std::string_view rest;
  if (v.starts_with("postgresql://")) {
    rest = v.substr(13);
  } else if (v.starts_with("postgres://")) {
    rest = v.substr(11);
  } else {
    return false;
  }
  auto at = rest.rfind('@');
  auto host = at == std::string_view::npos ? rest : rest.substr(at + 1);
  if (host.empty() || host.front() == '/' || host.front() == ':' || host.front() == '?') return false;
  c.database_url = std::string(v);
  return true;
}

bool apply_http_addr(Config& c, std::string_view v) {
  auto colon = v.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  int port = 0;
  if (!parse_int(v.substr(colon + 1), 0, 65535, port)) return false;
  auto host = v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  c.http_host = std::string(host);
  c.http_port = port;
  return true;
}

// An http(s) URL with a host, as SQS queue URLs are.
bool apply_queue_url(std::string& out, std::string_view v) {
  std::string_view rest;
  if (v.starts_with("https://")) {
    rest = v.substr(8);
  } else if (v.starts_with("http://")) {
    rest = v.substr(7);
  } else {
    return false;
  }
  auto slash = rest.find('/');
  if (slash == 0 || rest.empty() || slash == std::string_view::npos || slash + 1 == rest.size()) return false;
  out = std::string(v);
  return true;
}

bool apply_topic_arn(std::string& out, std::string_view v) {
  // arn:<partition>:sns:<region>:<account>:<name>
  if (!v.starts_with("arn:")) return false;
  std::size_t parts = 1;
  for (char c : v) parts += c == ':';
  if (parts != 6 || v.find(":sns:") == std::string_view::npos || v.back() == ':') return false;
  out = std::string(v);
  return true;
}

bool apply_log_level(Config& c, std::string_view v) {
  static const std::pair<std::string_view, log::Level> kLevels[] = {
      {"trace", log::Level::trace}, {"debug", log::Level::debug}, {"info", log::Level::info},
      {"warn", log::Level::warn},   {"warning", log::Level::warn}, {"error", log::Level::error}};
  for (auto [name, level] : kLevels) {
    if (name == v) {
      c.log_level = level;
      return true;
    }
  }
  return false;
}

// S3's rules for new buckets: 3-63 of a-z, 0-9, '.', '-', starting and ending
// with a letter or digit.
bool apply_bucket(Config& c, std::string_view v) {
  if (v.size() < 3 || v.size() > 63) return false;
  auto plain = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (!plain(v.front()) || !plain(v.back())) return false;
  for (char ch : v) {
    if (!plain(ch) && ch != '.' && ch != '-') return false;
  }
  c.s3_bucket = std::string(v);
  return true;
}

// Printable ASCII without a leading '/' (keys are "<prefix><sha256>").
bool apply_prefix(Config& c, std::string_view v) {
  if (v.size() > 512 || v.starts_with('/')) return false;
  for (char ch : v) {
    if (ch < 0x21 || ch > 0x7e) return false;
  }
  c.s3_prefix = std::string(v);
  return true;
}

// Comma-separated SNS topic ARNs, each checked as AUDIT_SNS_TOPIC_ARN is.
bool apply_topic_arns(std::vector<std::string>& out, std::string_view v) {
  std::vector<std::string> arns;
  while (!v.empty()) {
    auto comma = v.find(',');
    auto item = v.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    std::string arn;
    if (!apply_topic_arn(arn, item)) return false;
    arns.push_back(std::move(arn));
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  if (arns.empty()) return false;
  out = std::move(arns);
  return true;
}

// Printable ASCII without spaces (issuers and audiences are URIs or names).
bool apply_claim_value(std::string& out, std::string_view v) {
  if (v.size() > 1024) return false;
  for (char ch : v) {
    if (ch < 0x21 || ch > 0x7e) return false;
  }
  out = std::string(v);
  return true;
}

const std::vector<Variable> kVariables = {
    {"DATABASE_URL", "", "a postgresql:// URL",
     "PostgreSQL to use (production). Unset: a SQLite file under DOCVAULT_DATA_DIR.", true,
     apply_database_url},
    {"DOCVAULT_DATA_DIR", "./var", "a directory path",
     "Where the SQLite database and the filesystem blob store live.", false,
     [](Config& c, std::string_view v) {
       if (v.empty()) return false;
       c.data_dir = std::string(v);
       return true;
     }},
    {"DOCVAULT_HTTP_ADDR", "0.0.0.0:8080", "host:port, port 0-65535", "Address the HTTP API listens on.",
     false, apply_http_addr},
    {"DOCVAULT_MAX_UPLOAD_BYTES", "52428800", "an integer from 1 to 1073741824",
     "Largest document accepted by an upload (50 MiB by default); larger ones get 413.", false,
     [](Config& c, std::string_view v) {
       return parse_int<std::uint64_t>(v, 1, 1ull << 30, c.max_upload_bytes);
     }},
    {"DOCVAULT_HTTP_MAX_CONNECTIONS", "512", "an integer from 1 to 100000",
     "Connections open at once (waiting for a request or being served); beyond it new ones get 503. Each "
     "holds a file descriptor: keep it under the process's RLIMIT_NOFILE.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 100000, c.http_max_connections); }},
    {"DOCVAULT_HTTP_THREADS", "16", "an integer from 1 to 256",
     "Requests served at once. Connections still sending their headers, or idle between requests, hold no "
     "thread.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 256, c.http_threads); }},
    {"DOCVAULT_HTTP_HEADER_TIMEOUT_SECONDS", "10", "an integer from 1 to 300",
     "A request's line and headers must arrive within this; slower clients get 408 and are disconnected.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 300, c.http_header_timeout_seconds); }},
    {"DOCVAULT_HTTP_MAX_HEADER_BYTES", "16384", "an integer from 1024 to 1048576",
     "Largest request line and headers together; larger ones get 431.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1024, 1 << 20, c.http_max_header_bytes); }},
    {"DOCVAULT_HTTP_KEEPALIVE_TIMEOUT_SECONDS", "5", "an integer from 1 to 300",
     "An idle keep-alive connection is closed after this.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 300, c.http_keep_alive_timeout_seconds); }},
    {"DOCVAULT_HTTP_KEEPALIVE_MAX_REQUESTS", "100", "an integer from 1 to 100000",
     "Requests served on one connection before it is closed.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 100000, c.http_keep_alive_max_requests); }},
    {"DOCVAULT_HTTP_READ_TIMEOUT_SECONDS", "10", "an integer from 1 to 3600",
     "Longest wait for the next bytes of a request body; past it a body must also average 16 KiB/s.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 3600, c.http_read_timeout_seconds); }},
    {"DOCVAULT_HTTP_WRITE_TIMEOUT_SECONDS", "30", "an integer from 1 to 3600",
     "Longest wait for a client to take the next bytes of a response.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 3600, c.http_write_timeout_seconds); }},
    {"DOCVAULT_AUTH", "enabled", "enabled or disabled",
     "Bearer-token authentication of /v1. `disabled` (local use only) lets every request in as anonymous; "
     "`serve` logs a warning.", false,
     [](Config& c, std::string_view v) {
       if (v != "enabled" && v != "disabled") return false;
       c.auth_enabled = v == "enabled";
       return true;
     }},
    {"DOCVAULT_JWT_SECRET", "", "at least 32 bytes",
     "HS256 secret tokens are verified with (or DOCVAULT_JWT_PUBLIC_KEY_FILE; one is required while "
     "DOCVAULT_AUTH is enabled).", true,
     [](Config& c, std::string_view v) {
       if (v.size() < 32) return false;
       c.jwt_secret = std::string(v);
       return true;
     }},
    {"DOCVAULT_JWT_PUBLIC_KEY_FILE", "", "a file path",
     "RS256/ES256: a PEM public key or certificate, or a JWKS file (keys chosen by kid). Read at start-up.",
     false,
     [](Config& c, std::string_view v) {
       c.jwt_public_key_file = std::string(v);
       return true;
     }},
    {"DOCVAULT_JWT_ISSUER", "", "printable ASCII, no spaces",
     "When set, a token's iss must equal it.", false,
     [](Config& c, std::string_view v) { return apply_claim_value(c.jwt_issuer, v); }},
    {"DOCVAULT_JWT_AUDIENCE", "", "printable ASCII, no spaces",
     "When set, a token's aud (a string or an array) must be or contain it.", false,
     [](Config& c, std::string_view v) { return apply_claim_value(c.jwt_audience, v); }},
    {"DOCVAULT_JWT_LEEWAY_SECONDS", "60", "an integer from 0 to 600",
     "Clock skew allowed when checking a token's exp and nbf.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 0, 600, c.jwt_leeway_seconds); }},
    {"DOCVAULT_METRICS_AUTH", "open", "open or required",
     "`required`: /metrics needs a token with the metrics:read scope (needs DOCVAULT_AUTH enabled).", false,
     [](Config& c, std::string_view v) {
       if (v != "open" && v != "required") return false;
       c.metrics_auth_required = v == "required";
       return true;
     }},
    {"DOCVAULT_AUTO_MIGRATE", "true", "true or false (also 1/0, yes/no, on/off; any case)",
     "Apply pending database migrations at start-up (otherwise run `docvault migrate`).", false,
     [](Config& c, std::string_view v) { return parse_bool(v, c.auto_migrate); }},
    {"DOCVAULT_DB_POOL_SIZE", "8", "an integer from 1 to 256", "Database connections per process.",
     false,
     [](Config& c, std::string_view v) { return parse_int<std::size_t>(v, 1, 256, c.db_pool_size); }},
    {"LOG_LEVEL", "info", "trace, debug, info, warn or error", "Lowest level of log line written.", false,
     apply_log_level},
    {"LOG_FORMAT", "json", "json or text", "JSON lines for log shippers, or text for a terminal.", false,
     [](Config& c, std::string_view v) {
       if (v != "json" && v != "text") return false;
       c.log_format = v == "json" ? log::Format::json : log::Format::text;
       return true;
     }},
    {"ENABLE_DOCUMENT_CONSUMER", "true", "true or false (also 1/0, yes/no, on/off; any case)",
     "Run the entity-events consumer inside `docvault serve`.", false,
     [](Config& c, std::string_view v) { return parse_bool(v, c.consumer_enabled); }},
    {"DOCUMENT_VAULT_SQS_URL", "", "an http(s) SQS queue URL",
     "The queue subscribed to the EPR entity-events topic. Required for the consumer; without it "
     "`serve` logs \"Document Vault consumer not started\" and serves HTTP only.", false,
     [](Config& c, std::string_view v) { return apply_queue_url(c.consumer_queue_url, v); }},
    {"DOCUMENT_CONSUMER_MAX_MESSAGES", "5", "an integer from 1 to 10", "Messages per ReceiveMessage call.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 10, c.consumer_max_messages); }},
    {"DOCUMENT_CONSUMER_WAIT_TIME", "20", "an integer from 0 to 20", "Long-poll wait, in seconds.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 0, 20, c.consumer_wait_time_seconds); }},
    {"DOCUMENT_CONSUMER_VISIBILITY_TIMEOUT", "", "an integer from 0 to 43200",
     "Visibility timeout (seconds) asked for on receive; unset: the queue's own.", false,
     [](Config& c, std::string_view v) {
       int seconds = 0;
       if (!parse_int(v, 0, 43200, seconds)) return false;
       c.consumer_visibility_timeout_seconds = seconds;
       return true;
     }},
    {"DOCUMENT_CONSUMER_RETRY_BASE_SECONDS", "2", "an integer from 1 to 43200",
     "A message that fails for its own reason comes back after this delay on its first receive, doubling "
     "with each receive (half of it random), up to DOCUMENT_CONSUMER_RETRY_MAX_SECONDS.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 43200, c.consumer_retry_base_seconds); }},
    {"DOCUMENT_CONSUMER_RETRY_MAX_SECONDS", "300", "an integer from 1 to 43200",
     "The longest retry delay of a failed message.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 43200, c.consumer_retry_max_seconds); }},
    {"DOCUMENT_CONSUMER_CONCURRENCY", "4", "an integer from 1 to 64",
     "Messages processed at once (never two of one entity).", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 64, c.consumer_concurrency); }},
    {"DOCUMENT_CONSUMER_SHUTDOWN_TIMEOUT", "25", "an integer from 1 to 3600",
     "Seconds in-flight messages get to finish after SIGTERM (below ECS's 30 s stop timeout).", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 3600, c.consumer_shutdown_timeout_seconds); }},
    {"DOCUMENT_CONSUMER_DLQ_URL", "", "an http(s) SQS queue URL",
     "Where rejected messages are also sent (they are always recorded in rejected_messages).", false,
     [](Config& c, std::string_view v) { return apply_queue_url(c.consumer_dead_letter_queue_url, v); }},
    {"DOCUMENT_CONSUMER_VERIFY_SNS_SIGNATURE", "false", "true or false (also 1/0, yes/no, on/off; any case)",
     "Verify each message's SNS signature (SignatureVersion 1 or 2, certificate from sns.<region>.amazonaws.com "
     "over https) and its TopicArn; messages that fail, and raw deliveries, are rejected. Off by default: "
     "emulators sign nothing.", false,
     [](Config& c, std::string_view v) { return parse_bool(v, c.consumer_verify_sns_signature); }},
    {"DOCUMENT_CONSUMER_ALLOWED_TOPIC_ARNS", "", "comma-separated SNS topic ARNs",
     "Topics whose messages are accepted when signatures are verified (required then).", false,
     [](Config& c, std::string_view v) { return apply_topic_arns(c.consumer_allowed_topic_arns, v); }},
    {"DOCUMENT_CONSUMER_ACTIONS", "entity.deleted,entity.suspended,entity.reinstated",
     "a comma-separated list of entity.deleted, entity.suspended, entity.reinstated",
     "Entity actions the consumer handles (archive, suspend, lift the suspension); what happens to others is "
     "DOCUMENT_CONSUMER_UNKNOWN_ACTIONS.",
     false,
     [](Config& c, std::string_view v) {
       c.consumer_actions.clear();
       while (!v.empty()) {
         auto comma = v.find(',');
         auto name = v.substr(0, comma);
         while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
         while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
         if (!service::find_entity_action(name)) return false;
         c.consumer_actions.emplace_back(name);
         v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
       }
       return !c.consumer_actions.empty();
     }},
    {"DOCUMENT_CONSUMER_UNKNOWN_ACTIONS", "ignore", "ignore or reject",
     "A well-formed entity event whose action is not handled: `ignore` acknowledges it and counts it "
     "(docvault_consumer_messages_ignored_total{action}), so a new action on the topic fires no alarm; "
     "`reject` records it in rejected_messages (and the DLQ) as unknown_action.",
     false,
     [](Config& c, std::string_view v) {
       if (v != "ignore" && v != "reject") return false;
       c.consumer_reject_unknown_actions = v == "reject";
       return true;
     }},
    {"DOCUMENT_CONSUMER_DEDUP_RETENTION_DAYS", "45", "an integer from 1 to 3650",
     "processed_events rows are kept this long: longer than a duplicate can arrive (SQS keeps a message up to "
     "14 days, SNS retries delivery for up to 23).", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 3650, c.dedup_retention_days); }},
    {"DOCUMENT_CONSUMER_REJECTED_RETENTION_DAYS", "90", "an integer from 1 to 3650",
     "rejected_messages rows are kept this long.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 3650, c.rejected_retention_days); }},
    {"DOCVAULT_IDEMPOTENCY_KEY_RETENTION_HOURS", "24", "an integer from 1 to 720",
     "How long an upload's Idempotency-Key is remembered: a retry within it replays the first request's 201.",
     false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 720, c.idempotency_key_retention_hours); }},
    {"DOCVAULT_OUTBOX_RELAY_ENABLED", "true", "true or false (also 1/0, yes/no, on/off; any case)",
     "Run the outbox relay inside `docvault serve` (needs AUDIT_SNS_TOPIC_ARN and DOCUMENT_EVENTS_SQS_URL).", false,
     [](Config& c, std::string_view v) { return parse_bool(v, c.relay_enabled); }},
    {"AUDIT_SNS_TOPIC_ARN", "", "an SNS topic ARN", "Where audit events are published.", false,
     [](Config& c, std::string_view v) { return apply_topic_arn(c.audit_topic_arn, v); }},
    {"DOCUMENT_EVENTS_SQS_URL", "", "an http(s) SQS queue URL", "Where document events are sent.", false,
     [](Config& c, std::string_view v) { return apply_queue_url(c.document_events_queue_url, v); }},
    {"DOCVAULT_OUTBOX_RETENTION_HOURS", "168", "an integer from 1 to 87600",
     "Published outbox rows are deleted after this many hours.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 87600, c.outbox_retention_hours); }},
    {"DOCVAULT_OUTBOX_LEASE_SECONDS", "30", "an integer from 1 to 3600",
     "How long a relay owns the rows it claimed; a relay that dies mid-batch is replaced after this.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 3600, c.outbox_lease_seconds); }},
    {"DOCVAULT_BLOB_STORE", "filesystem", "filesystem or s3",
     "Where document content lives: files under DOCVAULT_DATA_DIR/blobs, or an S3 bucket.", false,
     [](Config& c, std::string_view v) {
       if (v != "filesystem" && v != "s3") return false;
       c.blob_store = v == "s3" ? BlobBackend::s3 : BlobBackend::filesystem;
       return true;
     }},
    {"DOCVAULT_S3_BUCKET", "", "an S3 bucket name",
     "The bucket of the S3 blob store (required when DOCVAULT_BLOB_STORE is s3). The endpoint comes from "
     "AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else the region.", false, apply_bucket},
    {"DOCVAULT_S3_PREFIX", "blobs/", "up to 512 printable ASCII characters, no leading /",
     "Key prefix of the blobs: an object is <prefix><sha256>.", false, apply_prefix},
    {"DOCVAULT_S3_FORCE_PATH_STYLE", "false", "true or false (also 1/0, yes/no, on/off; any case)",
     "Path-style addressing (<endpoint>/<bucket>/<key>), for emulators; otherwise virtual-hosted.", false,
     [](Config& c, std::string_view v) { return parse_bool(v, c.s3_force_path_style); }},
    {"DOCVAULT_S3_SSE", "", "AES256 or aws:kms",
     "Server-side encryption asked for on every write; unset: the bucket's default encryption.", false,
     [](Config& c, std::string_view v) {
       if (v != "AES256" && v != "aws:kms") return false;
       c.s3_sse = std::string(v);
       return true;
     }},
    {"DOCVAULT_S3_KMS_KEY_ID", "", "a KMS key id, alias or ARN",
     "The KMS key for DOCVAULT_S3_SSE=aws:kms; unset: the AWS managed key.", false,
     [](Config& c, std::string_view v) {
       if (v.size() > 2048) return false;
       c.s3_kms_key_id = std::string(v);
       return true;
     }},
    {"DOCVAULT_AWS_REQUEST_TIMEOUT_SECONDS", "30", "an integer from 1 to 300",
     "The longest an AWS call (SQS, SNS, S3, the credentials' metadata endpoints) may take, connection "
     "included, before it fails and is retried (AWS_MAX_ATTEMPTS); a long poll takes its wait time and 15 s. "
     "A breaker's probe after an outage is one attempt of 2 s whatever this says.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 300, c.aws_request_timeout_seconds); }},
    {"DOCVAULT_S3_PRESIGN_SECONDS", "300", "an integer from 1 to 604800",
     "Validity of the presigned URL a download with ?redirect=true is sent to.", false,
     [](Config& c, std::string_view v) { return parse_int(v, 1, 604800, c.s3_presign_seconds); }},
    {"DOCVAULT_BLOB_GC_GRACE_SECONDS", "3600", "an integer from 60 to 2592000",
     "`docvault admin gc-blobs` leaves blobs younger than this alone (an upload may not have committed yet).",
     false, [](Config& c, std::string_view v) { return parse_int(v, 60, 2592000, c.blob_gc_grace_seconds); }},
};

}  // namespace

const std::vector<Variable>& config_variables() { return kVariables; }

std::string ConfigError::message() const {
  return "invalid configuration: " + variable + "=\"" + value + "\": expected " + allowed;
}

namespace {
std::string redacted(const Variable& v, std::string_view value) {
  if (!v.secret || value.empty()) return std::string(value);
  if (v.name == "DATABASE_URL") return store::redact_database_url(value);
  return "***";
}
}  // namespace

std::variant<Config, ConfigError> load_config(const Environment& env) {
  Config config;
  for (const auto& v : kVariables) {
    auto given = env(v.name);
    // An empty value counts as unset, as shells and task definitions often
    // leave a variable present but blank.
    std::string value = given && !given->empty() ? *given : std::string(v.default_value);
    if (value.empty()) continue;
    if (!v.apply(config, value)) {
      return ConfigError{std::string(v.name), redacted(v, value), std::string(v.allowed)};
    }
  }
  if (config.blob_store == BlobBackend::s3 && config.s3_bucket.empty()) {
    return ConfigError{"DOCVAULT_S3_BUCKET", "", "an S3 bucket name (required when DOCVAULT_BLOB_STORE is s3)"};
  }
  if (!config.jwt_secret.empty() && !config.jwt_public_key_file.empty()) {
    return ConfigError{"DOCVAULT_JWT_PUBLIC_KEY_FILE", config.jwt_public_key_file.string(),
                       "unset while DOCVAULT_JWT_SECRET is set (one key kind at a time)"};
  }
  if (config.metrics_auth_required && !config.auth_enabled) {
    return ConfigError{"DOCVAULT_METRICS_AUTH", "required", "open while DOCVAULT_AUTH is disabled"};
  }
  if (config.consumer_verify_sns_signature && config.consumer_allowed_topic_arns.empty()) {
    return ConfigError{"DOCUMENT_CONSUMER_ALLOWED_TOPIC_ARNS", "",
                       "comma-separated SNS topic ARNs (required while DOCUMENT_CONSUMER_VERIFY_SNS_SIGNATURE is true)"};
  }
  if (!config.s3_kms_key_id.empty() && config.s3_sse != "aws:kms") {
    return ConfigError{"DOCVAULT_S3_KMS_KEY_ID", config.s3_kms_key_id, "unset unless DOCVAULT_S3_SSE is aws:kms"};
  }
  return config;
}

std::optional<ConfigError> check_relay_targets(const Config& config) {
  if (!config.relay_enabled) return std::nullopt;
  if (config.audit_topic_arn.empty()) {
    return ConfigError{"AUDIT_SNS_TOPIC_ARN", "", "an SNS topic ARN (required while DOCVAULT_OUTBOX_RELAY_ENABLED is true)"};
  }
  if (config.document_events_queue_url.empty()) {
    return ConfigError{"DOCUMENT_EVENTS_SQS_URL", "",
                       "an http(s) SQS queue URL (required while DOCVAULT_OUTBOX_RELAY_ENABLED is true)"};
  }
  return std::nullopt;
}

std::optional<ConfigError> check_auth(const Config& config) {
  if (!config.auth_enabled || !config.jwt_secret.empty() || !config.jwt_public_key_file.empty()) return std::nullopt;
  return ConfigError{"DOCVAULT_JWT_SECRET", "",
                     "an HS256 secret, or DOCVAULT_JWT_PUBLIC_KEY_FILE, or DOCVAULT_AUTH=disabled (`serve` needs "
                     "a key to authenticate callers)"};
}

std::string describe_config(const Environment& env) {
  std::string out;
  for (const auto& v : kVariables) {
    auto given = env(v.name);
    bool from_env = given && !given->empty();
    std::string value = from_env ? *given : std::string(v.default_value);
    out += std::string(v.name) + "=" + redacted(v, value) + "  # " + (from_env ? "env" : "default") + "\n";
  }
  return out;
}

std::string config_markdown_table() {
  std::string out = "| Variable | Default | Allowed | Secret | Meaning |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& v : kVariables) {
    out += "| `" + std::string(v.name) + "` | " +
           (v.default_value.empty() ? std::string("(unset)") : "`" + std::string(v.default_value) + "`") +
           " | " + std::string(v.allowed) + " | " + (v.secret ? "yes" : "no") + " | " +
           std::string(v.description) + " |\n";
  }
  return out;
}

}  // namespace docvault::app
