#include "aws/credentials.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

namespace docvault::aws {

namespace {

using Clock = std::chrono::system_clock;

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

// ---------------------------------------------------------------- HTTP (libcurl)

struct HttpResponse {
  long status = 0;
  std::string body;
};

void ensure_curl_initialised() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// `what` names the endpoint in errors; URLs are left out because an ECS
// relative URI is a per-task capability.
HttpResponse http_call(const char* method, const std::string& url,
                       const std::vector<std::string>& headers,
                       const CredentialsChainOptions& options, std::string_view what) {
  ensure_curl_initialised();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) throw CredentialsError(std::string(what) + ": could not create a curl handle");
  std::unique_ptr<curl_slist, SlistDeleter> header_list;
  for (const auto& header : headers) {
    auto* appended = curl_slist_append(header_list.get(), header.c_str());
    if (appended == nullptr) throw CredentialsError(std::string(what) + ": out of memory");
    (void)header_list.release();
    header_list.reset(appended);
  }
  HttpResponse response;
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  // Metadata endpoints are local to the host; never send credentials requests via a proxy.
  curl_easy_setopt(handle, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &response.body);
  if (std::string_view(method) == "PUT") {
    // An empty body with Content-Length: 0, as IMDS expects.
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, 0L);
  }
  CURLcode code = curl_easy_perform(handle);
  if (code != CURLE_OK) {
    throw CredentialsError(std::string(what) + ": " + curl_easy_strerror(code));
  }
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
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
  explicit EcsSource(CredentialsChainOptions options) : options_(std::move(options)) {}

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
    auto response = http_call("GET", url, headers, options_, "ECS credentials endpoint");
    if (response.status != 200) {
      throw CredentialsError("ECS credentials endpoint answered HTTP " +
                             std::to_string(response.status));
    }
    return parse_credentials_json(response.body, "ECS credentials endpoint");
  }
  std::string name() const override { return "ecs"; }

 private:
  CredentialsChainOptions options_;
};

// ---------------------------------------------------------------- EC2 IMDSv2

class ImdsSource final : public CredentialsSource {
 public:
  explicit ImdsSource(CredentialsChainOptions options) : options_(std::move(options)) {}

  std::optional<Credentials> fetch() const override {
    const auto& env = options_.environment;
    if (lowercase(env("AWS_EC2_METADATA_DISABLED").value_or("")) == "true") return std::nullopt;
    auto endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or(options_.imds_endpoint);
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();

    // IMDSv2 only: the v1 fallback is what SSRF attacks on instances use.
    auto token = http_call("PUT", endpoint + "/latest/api/token",
                           {"X-aws-ec2-metadata-token-ttl-seconds: 21600"}, options_,
                           "EC2 metadata service");
    if (token.status != 200 || trim(token.body).empty()) {
      throw CredentialsError("EC2 metadata service answered HTTP " + std::to_string(token.status) +
                             " to the session token request");
    }
    std::vector<std::string> headers{"X-aws-ec2-metadata-token: " + std::string(trim(token.body))};
    const std::string base = endpoint + "/latest/meta-data/iam/security-credentials/";
    auto roles = http_call("GET", base, headers, options_, "EC2 metadata service");
    if (roles.status != 200) {
      throw CredentialsError("EC2 metadata service answered HTTP " + std::to_string(roles.status) +
                             " to the role request (no instance profile?)");
    }
    auto role = std::string(trim(std::string_view(roles.body).substr(0, roles.body.find('\n'))));
    if (role.empty()) throw CredentialsError("EC2 metadata service lists no IAM role");
    auto response = http_call("GET", base + role, headers, options_, "EC2 metadata service");
    if (response.status != 200) {
      throw CredentialsError("EC2 metadata service answered HTTP " +
                             std::to_string(response.status) + " to the credentials request");
    }
    return parse_credentials_json(response.body, "EC2 metadata service");
  }
  std::string name() const override { return "imds"; }

 private:
  CredentialsChainOptions options_;
};

}  // namespace

// ---------------------------------------------------------------- public

std::string Credentials::redacted() const {
  std::string text = access_key_id.substr(0, std::min<std::size_t>(4, access_key_id.size()));
  text += "****";
  text += session_token.empty() ? " (long-term)" : " (temporary)";
  return text;
}

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

Environment fixed_environment(std::map<std::string, std::string, std::less<>> variables) {
  auto shared =
      std::make_shared<const std::map<std::string, std::string, std::less<>>>(std::move(variables));
  return [shared](std::string_view name) -> std::optional<std::string> {
    auto found = shared->find(name);
    if (found == shared->end() || found->second.empty()) return std::nullopt;
    return found->second;
  };
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
  sources.push_back(ecs_source(options));
  sources.push_back(imds_source(options));
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
         options_.clock() + options_.refresh_margin < *credentials.expiration;
}

bool DefaultCredentialsChain::valid(const Credentials& credentials) const {
  return !credentials.expiration || options_.clock() < *credentials.expiration;
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
  Clock::time_point retry_after;
  {
    std::lock_guard lock(cache_mutex_);
    current = cached_;
    retry_after = retry_after_;
  }
  if (current && fresh(*current)) return current;

  std::unique_lock refresh(refresh_mutex_, std::defer_lock);
  if (current && valid(*current)) {
    // What we hold still works: never wait for a refresh someone else runs,
    // and after a failed one leave the endpoint alone for a while.
    if (options_.clock() < retry_after || !refresh.try_lock()) return current;
  } else {
    refresh.lock();
  }
  {
    std::lock_guard lock(cache_mutex_);
    // Another thread refreshed while we waited: that is as new as it gets.
    if (cached_ && cached_ != current && valid(*cached_)) return cached_;
  }
  try {
    auto resolved = resolve();
    std::lock_guard lock(cache_mutex_);
    cached_ = std::move(resolved.credentials);
    cached_source_ = std::move(resolved.source);
    retry_after_ = {};
    return cached_;
  } catch (const CredentialsError&) {
    std::lock_guard lock(cache_mutex_);
    // A failed early refresh is not an outage: the old credentials still work.
    if (cached_ && valid(*cached_)) {
      retry_after_ = options_.clock() + kRetryAfterFailedRefresh;
      return cached_;
    }
    throw;
  }
}

std::string DefaultCredentialsChain::source() const {
  std::lock_guard lock(cache_mutex_);
  return cached_source_;
}

std::optional<Clock::time_point> parse_iso8601_utc(std::string_view text) {
  text = trim(text);
  // YYYY-MM-DDTHH:MM:SS
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  auto number = [&](std::size_t at, std::size_t length) -> int {
    int value = 0;
    for (std::size_t i = at; i < at + length; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  int year = number(0, 4), month = number(5, 2), day = number(8, 2);
  int hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 60) {
    return std::nullopt;
  }
  std::chrono::year_month_day date{std::chrono::year(year),
                                   std::chrono::month(static_cast<unsigned>(month)),
                                   std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  auto rest = text.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    auto digits = rest.find_first_not_of("0123456789", 1);
    rest = rest.substr(digits == std::string_view::npos ? rest.size() : digits);
  }
  if (rest != "Z" && rest != "z" && rest != "+00:00") return std::nullopt;
  return Clock::time_point(std::chrono::sys_days(date)) + std::chrono::hours(hour) +
         std::chrono::minutes(minute) + std::chrono::seconds(second);
}

}  // namespace docvault::aws
