#include "aws/credentials.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "aws/http_transport.h"
#include "runtime/iso8601.h"

namespace docvault::aws {

namespace {

constexpr auto kRetryAfterFailedRefresh = std::chrono::seconds(10);

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---------------------------------------------------------------- HTTP

// One metadata request through the chain's transport. `what` names the
// endpoint in errors; URLs are left out because an ECS relative URI is a
// per-task capability.
HttpResponse http_call(HttpTransport& transport, const char* method, const std::string& url,
                       const std::vector<std::string>& headers, const CredentialsChainOptions& options,
                       std::string_view what) {
  HttpRequest request;
  request.method = method;
  request.url = url;
  request.timeout = options.request_timeout;
  for (const auto& header : headers) {
    auto colon = header.find(':');
    request.headers.push_back({header.substr(0, colon), std::string(trim(std::string_view(header).substr(colon + 1)))});
  }
  try {
    return transport.send(request);
  } catch (const AwsError& error) {
    // The transport's message starts "<method> <url>: "; keep only the reason.
    std::string reason = error.message();
    const std::string prefix = std::string(method) + " " + url + ": ";
    if (reason.starts_with(prefix)) reason = reason.substr(prefix.size());
    throw CredentialsError(std::string(what) + ": " + reason);
  }
}

std::shared_ptr<HttpTransport> metadata_transport(const CredentialsChainOptions& options) {
  if (options.transport) return options.transport;
  return std::make_shared<CurlTransport>(CurlTransportOptions{.connect_timeout = options.connect_timeout,
                                                              .request_timeout = options.request_timeout,
                                                              .max_idle_handles = 1,
                                                              .user_agent = "docvault",
                                                              .use_proxy = false});
}

// The JSON both ECS and IMDS answer with. Response bodies never go into
// messages: they hold the secret.
Credentials parse_credentials_json(const std::string& body, std::string_view what) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    throw CredentialsError(std::string(what) + ": response is not a JSON object");
  }
  auto text = [&](const char* key) -> std::string {
    auto found = json.find(key);
    if (found == json.end() || !found->is_string()) return {};
    return found->get<std::string>();
  };
  if (auto code = text("Code"); !code.empty() && code != "Success") {
    throw CredentialsError(std::string(what) + ": endpoint reported Code " + code);
  }
  Credentials credentials;
  credentials.access_key_id = text("AccessKeyId");
  credentials.secret_access_key = text("SecretAccessKey");
  credentials.session_token = text("Token");
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    throw CredentialsError(std::string(what) + ": response lacks AccessKeyId or SecretAccessKey");
  }
  if (auto expiration = text("Expiration"); !expiration.empty()) {
    credentials.expiration = parse_iso8601_utc(expiration);
    if (!credentials.expiration) {
      throw CredentialsError(std::string(what) + ": malformed Expiration");
    }
  }
  return credentials;
}

// ---------------------------------------------------------------- environment

class EnvironmentSource final : public CredentialsSource {
 public:
  explicit EnvironmentSource(Environment environment) : environment_(std::move(environment)) {}

  std::optional<Credentials> fetch() const override {
    auto key = environment_("AWS_ACCESS_KEY_ID");
    auto secret = environment_("AWS_SECRET_ACCESS_KEY");
    if (!key && !secret) return std::nullopt;
    if (!key || !secret) {
      throw CredentialsError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    }
    Credentials credentials{*key, *secret, environment_("AWS_SESSION_TOKEN").value_or(""), {}};
    return credentials;
  }
  std::string name() const override { return "environment"; }

 private:
  Environment environment_;
};

// ---------------------------------------------------------------- shared files

using Profile = std::map<std::string, std::string, std::less<>>;

// The INI dialect of the AWS CLI: '#'/';' comments, "key = value", sections.
// In the config file non-default profiles are "[profile name]"; nested blocks
// ("s3 =" followed by indented lines) belong to one key and are skipped.
std::map<std::string, Profile, std::less<>> parse_profiles(std::string_view text,
                                                           bool config_file) {
  std::map<std::string, Profile, std::less<>> profiles;
  Profile* current = nullptr;
  bool in_nested_block = false;
  std::istringstream lines{std::string(text)};
  std::string raw;
  while (std::getline(lines, raw)) {
    std::string_view line = raw;
    bool indented = !line.empty() && (line.front() == ' ' || line.front() == '\t');
    line = trim(line);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      in_nested_block = false;
      current = nullptr;
      auto close = line.find(']');
      if (close == std::string_view::npos) continue;
      auto section = trim(line.substr(1, close - 1));
      std::string profile;
      if (!config_file) {
        profile = section;
      } else if (section == "default") {
        profile = "default";
      } else if (section.starts_with("profile ") || section.starts_with("profile\t")) {
        profile = trim(section.substr(8));
      } else {
        continue;  // sso-session, services, ...: not profiles
      }
      current = &profiles[profile];
      continue;
    }
    if (current == nullptr) continue;
    if (indented && in_nested_block) continue;
    auto equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    auto key = lowercase(trim(line.substr(0, equals)));
    auto value = trim(line.substr(equals + 1));
    // Inline comments need whitespace before them; keys and tokens never contain " #".
    for (auto marker : {" #", "\t#", " ;", "\t;"}) {
      if (auto at = value.find(marker); at != std::string_view::npos)
        value = trim(value.substr(0, at));
    }
    in_nested_block = value.empty();
    (*current)[key] = std::string(value);
  }
  return profiles;
}

class SharedFileSource final : public CredentialsSource {
 public:
  explicit SharedFileSource(Environment environment) : environment_(std::move(environment)) {}

  std::optional<Credentials> fetch() const override {
    auto profile = profile_name();
    auto home = environment_("HOME");
    auto path_of = [&](const char* variable,
                       const char* file) -> std::optional<std::filesystem::path> {
      if (auto path = environment_(variable)) {
        if (home && (path->starts_with("~/") || *path == "~")) return *home + path->substr(1);
        return std::filesystem::path(*path);
      }
      if (!home) return std::nullopt;
      return std::filesystem::path(*home) / ".aws" / file;
    };
    // The credentials file wins over the config file, as in the CLI.
    for (auto [variable, file, config] :
         {std::tuple{"AWS_SHARED_CREDENTIALS_FILE", "credentials", false},
          std::tuple{"AWS_CONFIG_FILE", "config", true}}) {
      auto path = path_of(variable, file);
      if (!path) continue;
      auto text = read_file(*path);
      if (!text) continue;
      auto profiles = parse_profiles(*text, config);
      auto found = profiles.find(profile);
      if (found == profiles.end()) continue;
      const auto& values = found->second;
      auto get = [&](const char* key) -> std::string {
        auto value = values.find(key);
        return value == values.end() ? std::string() : value->second;
      };
      auto key = get("aws_access_key_id");
      auto secret = get("aws_secret_access_key");
      if (key.empty() && secret.empty()) continue;
      if (key.empty() || secret.empty()) {
        throw CredentialsError("profile " + profile + " in the " + file +
                               " file has only one of aws_access_key_id and aws_secret_access_key");
      }
      return Credentials{key, secret, get("aws_session_token"), {}};
    }
    return std::nullopt;
  }

  std::string name() const override { return "shared-file:" + profile_name(); }

 private:
  std::string profile_name() const { return environment_("AWS_PROFILE").value_or("default"); }

  Environment environment_;
};

// ---------------------------------------------------------------- ECS

struct UrlParts {
  std::string scheme;
  std::string host;
};

UrlParts split_url(std::string_view url) {
  UrlParts parts;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return parts;
  parts.scheme = lowercase(url.substr(0, scheme_end));
  auto rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest.front() == '[') {
    parts.host = lowercase(rest.substr(0, rest.find(']') + 1));
  } else {
    parts.host = lowercase(rest.substr(0, rest.find(':')));
  }
  return parts;
}

// The SDKs accept a full URI only over https or to the host itself and the
// ECS/EKS agent addresses: anything else would send the task's token away.
bool allowed_full_uri(std::string_view url) {
  auto parts = split_url(url);
  if (parts.scheme == "https") return !parts.host.empty();
  if (parts.scheme != "http") return false;
  return parts.host == "localhost" || parts.host.starts_with("127.") || parts.host == "[::1]" ||
         parts.host == "169.254.170.2" || parts.host == "169.254.170.23" ||
         parts.host == "[fd00:ec2::23]";
}

class EcsSource final : public CredentialsSource {
 public:
  explicit EcsSource(CredentialsChainOptions options)
      : options_(std::move(options)), transport_(metadata_transport(options_)) {}

  std::optional<Credentials> fetch() const override {
    const auto& env = options_.environment;
    auto relative = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    auto full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!relative && !full) return std::nullopt;
    std::string url;
    if (relative) {
      url = options_.ecs_base_url + (relative->starts_with('/') ? "" : "/") + *relative;
    } else {
      if (!allowed_full_uri(*full)) {
        throw CredentialsError(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI must use https, a loopback address or the "
            "ECS/EKS agent address");
      }
      url = *full;
    }
    std::vector<std::string> headers{"Accept: application/json"};
    std::optional<std::string> token;
    if (auto token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
      // The file wins: EKS rotates it, while the variable is fixed at start.
      auto text = read_file(*token_file);
      if (!text) {
        throw CredentialsError("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
      }
      token = std::string(trim(*text));
    } else {
      token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    if (token) {
      if (token->find_first_of("\r\n") != std::string::npos) {
        throw CredentialsError("the container authorization token contains a line break");
      }
      headers.push_back("Authorization: " + *token);
    }
    auto response = http_call(*transport_, "GET", url, headers, options_, "ECS credentials endpoint");
    if (response.status != 200) {
      throw CredentialsError("ECS credentials endpoint answered HTTP " +
                             std::to_string(response.status));
    }
    return parse_credentials_json(response.body, "ECS credentials endpoint");
  }
  std::string name() const override { return "ecs"; }

 private:
  CredentialsChainOptions options_;
  std::shared_ptr<HttpTransport> transport_;
};

// ---------------------------------------------------------------- EC2 IMDSv2

class ImdsSource final : public CredentialsSource {
 public:
  explicit ImdsSource(CredentialsChainOptions options)
      : options_(std::move(options)), transport_(metadata_transport(options_)) {}

  std::optional<Credentials> fetch() const override {
    const auto& env = options_.environment;
    if (lowercase(env("AWS_EC2_METADATA_DISABLED").value_or("")) == "true") return std::nullopt;
    auto endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or(options_.imds_endpoint);
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();

    // IMDSv2 only: the v1 fallback is what SSRF attacks on instances use.
    auto token = http_call(*transport_, "PUT", endpoint + "/latest/api/token",
                           {"X-aws-ec2-metadata-token-ttl-seconds: 21600"}, options_,
                           "EC2 metadata service");
    if (token.status != 200 || trim(token.body).empty()) {
      throw CredentialsError("EC2 metadata service answered HTTP " + std::to_string(token.status) +
                             " to the session token request");
    }
    std::vector<std::string> headers{"X-aws-ec2-metadata-token: " + std::string(trim(token.body))};
    const std::string base = endpoint + "/latest/meta-data/iam/security-credentials/";
    auto roles = http_call(*transport_, "GET", base, headers, options_, "EC2 metadata service");
    if (roles.status != 200) {
      throw CredentialsError("EC2 metadata service answered HTTP " + std::to_string(roles.status) +
                             " to the role request (no instance profile?)");
    }
    auto role = std::string(trim(std::string_view(roles.body).substr(0, roles.body.find('\n'))));
    if (role.empty()) throw CredentialsError("EC2 metadata service lists no IAM role");
    auto response = http_call(*transport_, "GET", base + role, headers, options_, "EC2 metadata service");
    if (response.status != 200) {
      throw CredentialsError("EC2 metadata service answered HTTP " +
                             std::to_string(response.status) + " to the credentials request");
    }
    return parse_credentials_json(response.body, "EC2 metadata service");
  }
  std::string name() const override { return "imds"; }

 private:
  CredentialsChainOptions options_;
  std::shared_ptr<HttpTransport> transport_;
};

}  // namespace

// ---------------------------------------------------------------- public

std::string Credentials::redacted() const {
  std::string text = access_key_id.substr(0, std::min<std::size_t>(4, access_key_id.size()));
  text += "****";
  text += session_token.empty() ? " (long-term)" : " (temporary)";
  return text;
}

StaticCredentialsProvider::StaticCredentialsProvider(Credentials credentials)
    : credentials_(std::make_shared<const Credentials>(std::move(credentials))) {}

std::shared_ptr<const Credentials> StaticCredentialsProvider::credentials() { return credentials_; }

std::unique_ptr<CredentialsSource> environment_source(Environment environment) {
  return std::make_unique<EnvironmentSource>(std::move(environment));
}
std::unique_ptr<CredentialsSource> shared_file_source(Environment environment) {
  return std::make_unique<SharedFileSource>(std::move(environment));
}
std::unique_ptr<CredentialsSource> ecs_source(const CredentialsChainOptions& options) {
  return std::make_unique<EcsSource>(options);
}
std::unique_ptr<CredentialsSource> imds_source(const CredentialsChainOptions& options) {
  return std::make_unique<ImdsSource>(options);
}

namespace {

std::vector<std::unique_ptr<CredentialsSource>> default_sources(
    const CredentialsChainOptions& options) {
  std::vector<std::unique_ptr<CredentialsSource>> sources;
  sources.push_back(environment_source(options.environment));
  sources.push_back(shared_file_source(options.environment));
  // ECS and IMDS share one metadata transport.
  CredentialsChainOptions metadata = options;
  metadata.transport = metadata_transport(options);
  sources.push_back(ecs_source(metadata));
  sources.push_back(imds_source(metadata));
  return sources;
}

}  // namespace

DefaultCredentialsChain::DefaultCredentialsChain(CredentialsChainOptions options)
    : DefaultCredentialsChain(default_sources(options), options) {}

DefaultCredentialsChain::DefaultCredentialsChain(
    std::vector<std::unique_ptr<CredentialsSource>> sources, CredentialsChainOptions options)
    : options_(std::move(options)), sources_(std::move(sources)) {}

bool DefaultCredentialsChain::fresh(const Credentials& credentials) const {
  return !credentials.expiration ||
         options_.clock->now() + options_.refresh_margin < *credentials.expiration;
}

bool DefaultCredentialsChain::valid(const Credentials& credentials) const {
  return !credentials.expiration || options_.clock->now() < *credentials.expiration;
}

DefaultCredentialsChain::Resolved DefaultCredentialsChain::resolve() const {
  std::string reasons;
  for (const auto& source : sources_) {
    std::string name = source->name();
    try {
      if (auto found = source->fetch()) {
        return {std::make_shared<const Credentials>(std::move(*found)), std::move(name)};
      }
      reasons += "; " + name + ": not configured";
    } catch (const AwsError& error) {
      // Sources build their messages without secrets, so passing them on is safe.
      reasons += "; " + name + ": " + error.message();
    } catch (const std::exception& error) {
      reasons += "; " + name + ": " + error.what();
    }
  }
  throw CredentialsError("no AWS credentials found" +
                         (reasons.empty() ? std::string() : " (" + reasons.substr(2) + ")"));
}

std::shared_ptr<const Credentials> DefaultCredentialsChain::credentials() {
  std::shared_ptr<const Credentials> current;
  std::chrono::system_clock::time_point retry_after;
  {
    runtime::MutexLock lock(cache_mutex_);
    current = cached_;
    retry_after = retry_after_;
  }
  if (current && fresh(*current)) return current;

  std::unique_lock refresh(refresh_mutex_, std::defer_lock);
  if (current && valid(*current)) {
    // What we hold still works: never wait for a refresh someone else runs,
    // and after a failed one leave the endpoint alone for a while.
    if (options_.clock->now() < retry_after || !refresh.try_lock()) return current;
  } else {
    refresh.lock();
  }
  {
    runtime::MutexLock lock(cache_mutex_);
    // Another thread refreshed while we waited: that is as new as it gets.
    if (cached_ && cached_ != current && valid(*cached_)) return cached_;
  }
  try {
    auto resolved = resolve();
    runtime::MutexLock lock(cache_mutex_);
    cached_ = std::move(resolved.credentials);
    cached_source_ = std::move(resolved.source);
    retry_after_ = {};
    return cached_;
  } catch (const CredentialsError&) {
    runtime::MutexLock lock(cache_mutex_);
    // A failed early refresh is not an outage: the old credentials still work.
    if (cached_ && valid(*cached_)) {
      retry_after_ = options_.clock->now() + kRetryAfterFailedRefresh;
      return cached_;
    }
    throw;
  }
}

std::string DefaultCredentialsChain::source() const {
  runtime::MutexLock lock(cache_mutex_);
  return cached_source_;
}

std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(std::string_view text) {
  auto parsed = runtime::parse_iso8601(trim(text));
  if (!parsed) return std::nullopt;
  return std::chrono::floor<std::chrono::seconds>(*parsed);
}

}  // namespace docvault::aws
