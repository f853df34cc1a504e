// AWS credentials and where they come from.
//
// `Credentials` is a value: an access key id, a secret, an optional session
// token and, for temporary credentials, the time they stop working. It never
// prints itself: `redacted()` shows the first four characters of the key id
// and nothing else, and no exception or log line of this layer carries a
// secret or a token.
//
// A `CredentialsProvider` hands out the credentials to sign the next request
// with. `DefaultCredentialsChain` looks where the AWS SDKs look, in their order:
//   1. environment   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//   2. shared files  ~/.aws/credentials then ~/.aws/config, profile AWS_PROFILE
//                    (default "default"); AWS_SHARED_CREDENTIALS_FILE and
//                    AWS_CONFIG_FILE override the paths
//   3. ECS           AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (under
//                    http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI,
//                    authorised by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
//                    AWS_CONTAINER_AUTHORIZATION_TOKEN
//   4. EC2 IMDSv2    token PUT, then the role's credentials; endpoint from
//                    AWS_EC2_METADATA_SERVICE_ENDPOINT, off when
//                    AWS_EC2_METADATA_DISABLED=true
// A source that is not configured is passed over; one that is configured but
// fails is recorded and passed over too, and when no source gives credentials
// the chain throws CredentialsError naming every source and its reason.
//
// Variables are read through an `Environment` (runtime/environment.h), never
// from the process directly, so tests inject values without touching the real
// environment. The ECS and EC2 metadata requests go through an HttpTransport
// (the libcurl one unless a test hands in a fake), never around it; time comes
// from a runtime::Clock.
//
// Thread-safety: every provider here may be called from any number of threads.
// The chain caches what it found. Credentials without an expiration are kept
// for the life of the chain; temporary ones are refreshed `refresh_margin`
// before they expire. Refreshes are serialized: while one thread refreshes,
// the others keep getting the cached credentials as long as they are still
// valid, and wait only when there is nothing valid to hand out.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/error.h"
#include "runtime/clock.h"
#include "runtime/environment.h"
#include "runtime/mutex.h"

namespace docvault::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term credentials
  std::optional<std::chrono::system_clock::time_point> expiration;

  // "AKID…" plus what kind of credentials these are; safe to log.
  std::string redacted() const;
};

// Reads one environment variable; nullopt when unset. Empty values count as
// unset, as the SDKs treat them. The Env seam's, under the names this layer
// has always used.
using runtime::Environment;
using runtime::fixed_environment;
using runtime::process_environment;

class HttpTransport;

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Credentials valid now. Throws CredentialsError when none can be had.
  virtual std::shared_ptr<const Credentials> credentials() = 0;
  // Where the last credentials came from, for diagnostics: "environment",
  // "shared-file:<profile>", "ecs", "imds", "static"; empty before the first
  // successful call.
  virtual std::string source() const = 0;
};

// Always the same credentials: for tests and the local emulator.
class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials);
  std::shared_ptr<const Credentials> credentials() override;
  std::string source() const override { return "static"; }

 private:
  std::shared_ptr<const Credentials> credentials_;
};

// One place the chain looks. Stateless between calls; thread-safe.
class CredentialsSource {
 public:
  virtual ~CredentialsSource() = default;
  // nullopt when this source is not configured; throws CredentialsError when
  // it is configured but fails (unreachable endpoint, bad response, bad file).
  virtual std::optional<Credentials> fetch() const = 0;
  // The name reported by CredentialsProvider::source().
  virtual std::string name() const = 0;
};

struct CredentialsChainOptions {
  Environment environment = process_environment();
  // Temporary credentials are replaced this long before they expire.
  std::chrono::seconds refresh_margin = std::chrono::minutes(5);
  // Base of AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; tests point it at a local server.
  std::string ecs_base_url = "http://169.254.170.2";
  // Default IMDS endpoint when AWS_EC2_METADATA_SERVICE_ENDPOINT is unset.
  std::string imds_endpoint = "http://169.254.169.254";
  // Metadata endpoints are local; a slow one means "not here".
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(1);
  std::chrono::milliseconds request_timeout = std::chrono::seconds(2);
  // What the ECS and IMDS requests go through. Null: a CurlTransport with the
  // timeouts above that never uses a proxy (the endpoints are local to the host).
  std::shared_ptr<HttpTransport> transport;
  // Expiry is checked against its wall time; must outlive the chain.
  const runtime::Clock* clock = &runtime::system_clock();
};

// The individual sources, usable on their own.
std::unique_ptr<CredentialsSource> environment_source(Environment environment);
std::unique_ptr<CredentialsSource> shared_file_source(Environment environment);
std::unique_ptr<CredentialsSource> ecs_source(const CredentialsChainOptions& options);
std::unique_ptr<CredentialsSource> imds_source(const CredentialsChainOptions& options);

class DefaultCredentialsChain final : public CredentialsProvider {
 public:
  explicit DefaultCredentialsChain(CredentialsChainOptions options = {});
  // A chain over the given sources, in order (tests; custom setups).
  DefaultCredentialsChain(std::vector<std::unique_ptr<CredentialsSource>> sources,
                          CredentialsChainOptions options);

  std::shared_ptr<const Credentials> credentials() override;
  std::string source() const override;

 private:
  struct Resolved {
    std::shared_ptr<const Credentials> credentials;
    std::string source;
  };
  Resolved resolve() const;  // walks the sources; throws CredentialsError
  bool fresh(const Credentials& credentials) const;
  bool valid(const Credentials& credentials) const;

  CredentialsChainOptions options_;
  std::vector<std::unique_ptr<CredentialsSource>> sources_;

  // Held only to read or swap the cache, never across a fetch.
  mutable runtime::Mutex cache_mutex_;
  std::shared_ptr<const Credentials> cached_ GUARDED_BY(cache_mutex_);
  std::string cached_source_ GUARDED_BY(cache_mutex_);
  // After a failed early refresh, when the next one may be tried.
  std::chrono::system_clock::time_point retry_after_ GUARDED_BY(cache_mutex_);

  // Held for the whole of a refresh, so at most one fetch runs at a time.
  std::mutex refresh_mutex_;
};

// Parses the ISO 8601 UTC timestamps of metadata responses
// ("2024-05-21T18:40:27Z", fractions and "+00:00" accepted; surrounding
// spaces ignored; to the second, as the endpoints write them). nullopt if
// malformed. runtime::parse_iso8601 does the parsing.
std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(std::string_view text);

}  // namespace docvault::aws
