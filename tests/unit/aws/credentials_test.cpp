// The credential chain: each source on its own, the chain's order, caching
// and refresh of temporary credentials, and many threads at once. The ECS and
// EC2 metadata endpoints are played by a local httplib server; variables come
// from a fixed Environment, never from the process.
#include "aws/credentials.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <ctime>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_clock.h"
#include "test_env.h"

namespace docvault::aws {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;
using Variables = std::map<std::string, std::string, std::less<>>;

std::string iso8601(Clock::time_point time) {
  std::time_t seconds = Clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string credentials_json(const std::string& key_id, Clock::time_point expiration) {
  return R"({"AccessKeyId":")" + key_id +
         R"(","SecretAccessKey":"server-secret","Token":"server-token","Expiration":")" +
         iso8601(expiration) + R"("})";
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A local stand-in for the ECS agent and the EC2 metadata service.
class FakeMetadataServer {
 public:
  FakeMetadataServer() {
    server_.Get("/ecs/creds", [this](const httplib::Request& request, httplib::Response& response) {
      ecs_requests++;
      auto expected = expected_authorization();
      if (!expected.empty() && request.get_header_value("Authorization") != expected) {
        response.status = 401;
        return;
      }
      serve_credentials(response);
    });
    server_.Put("/latest/api/token",
                [this](const httplib::Request& request, httplib::Response& response) {
                  imds_token_requests++;
                  if (request.get_header_value("X-aws-ec2-metadata-token-ttl-seconds").empty()) {
                    response.status = 400;
                    return;
                  }
                  response.set_content("imds-session-token", "text/plain");
                });
    server_.Get("/latest/meta-data/iam/security-credentials/",
                [this](const httplib::Request& request, httplib::Response& response) {
                  if (!has_imds_token(request, response)) return;
                  response.set_content("docvault-role\n", "text/plain");
                });
    server_.Get("/latest/meta-data/iam/security-credentials/docvault-role",
                [this](const httplib::Request& request, httplib::Response& response) {
                  if (!has_imds_token(request, response)) return;
                  imds_credential_requests++;
                  serve_credentials(response);
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::jthread([this] { server_.listen_after_bind(); });
    EXPECT_TRUE(docvault::testing::wait_until([this] { return server_.is_running(); }));
  }
  ~FakeMetadataServer() { server_.stop(); }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The Authorization header the ECS endpoint insists on; empty accepts any.
  void expect_authorization(std::string token) {
    std::lock_guard lock(mutex_);
    expected_authorization_ = std::move(token);
  }
  std::string expected_authorization() const {
    std::lock_guard lock(mutex_);
    return expected_authorization_;
  }

  std::atomic<std::chrono::milliseconds> response_delay{std::chrono::milliseconds(0)};
  std::atomic<Clock::duration> lifetime{Clock::duration(1h)};

  std::atomic<int> ecs_requests{0};
  std::atomic<int> imds_token_requests{0};
  std::atomic<int> imds_credential_requests{0};
  std::atomic<int> served{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};

 private:
  bool has_imds_token(const httplib::Request& request, httplib::Response& response) {
    if (request.get_header_value("X-aws-ec2-metadata-token") != "imds-session-token") {
      response.status = 401;
      return false;
    }
    return true;
  }

  void serve_credentials(httplib::Response& response) {
    int now_in_flight = ++in_flight;
    int seen = max_in_flight.load();
    while (now_in_flight > seen && !max_in_flight.compare_exchange_weak(seen, now_in_flight)) {
    }
    // The fake server's response delay (a slow metadata service), not a wait.
    if (auto delay = response_delay.load(); delay.count() > 0) std::this_thread::sleep_for(delay);
    int number = ++served;
    response.set_content(
        credentials_json("ASIASERVED" + std::to_string(number), Clock::now() + lifetime.load()),
        "application/json");
    --in_flight;
  }

  mutable std::mutex mutex_;
  std::string expected_authorization_;  // guarded by mutex_
  httplib::Server server_;
  int port_ = 0;
  std::jthread thread_;
};

// A chain whose environment is exactly `variables`, with IMDS pointed at
// `server` (or disabled) and the real home directory out of reach.
CredentialsChainOptions options_for(Variables variables,
                                    const FakeMetadataServer* server = nullptr) {
  CredentialsChainOptions options;
  if (server != nullptr) {
    options.ecs_base_url = server->base_url();
    options.imds_endpoint = server->base_url();
  } else if (!variables.contains("AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
    variables.emplace("AWS_EC2_METADATA_DISABLED", "true");
  }
  variables.emplace("HOME", "/nonexistent-docvault-home");
  options.environment = fixed_environment(std::move(variables));
  return options;
}

// ------------------------------------------------------------- environment

TEST(EnvironmentCredentials, ReadsKeysAndSessionToken) {
  DefaultCredentialsChain chain(options_for({{"AWS_ACCESS_KEY_ID", "AKIAENV"},
                                             {"AWS_SECRET_ACCESS_KEY", "env-secret"},
                                             {"AWS_SESSION_TOKEN", "env-token"}}));
  auto credentials = chain.credentials();
  EXPECT_EQ(credentials->access_key_id, "AKIAENV");
  EXPECT_EQ(credentials->secret_access_key, "env-secret");
  EXPECT_EQ(credentials->session_token, "env-token");
  EXPECT_FALSE(credentials->expiration);
  EXPECT_EQ(chain.source(), "environment");
}

TEST(EnvironmentCredentials, HalfAPairIsAnErrorThatNamesNoSecret) {
  DefaultCredentialsChain chain(options_for({{"AWS_SECRET_ACCESS_KEY", "lonely-secret"}}));
  try {
    chain.credentials();
    FAIL() << "expected CredentialsError";
  } catch (const CredentialsError& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("AWS_ACCESS_KEY_ID"), std::string::npos) << message;
    EXPECT_EQ(message.find("lonely-secret"), std::string::npos) << message;
  }
}

// ------------------------------------------------------------- shared files

class SharedFileCredentials : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(home.path() / ".aws" / "credentials",
               "# comment\n"
               "[default]\n"
               "aws_access_key_id = AKIADEFAULT\n"
               "aws_secret_access_key = default-secret\n"
               "\n"
               "[work]\n"
               "; another comment\n"
               "AWS_Access_Key_Id=AKIAWORK\n"
               "aws_secret_access_key=work-secret   # inline comment\n"
               "aws_session_token = work-token\n");
    write_file(home.path() / ".aws" / "config",
               "[default]\n"
               "region = eu-west-1\n"
               "[profile fromconfig]\n"
               "region = eu-west-1\n"
               "s3 =\n"
               "  aws_access_key_id = AKIANESTED\n"
               "aws_access_key_id = AKIACONFIG\n"
               "aws_secret_access_key = config-secret\n"
               "[notaprofile]\n"
               "aws_access_key_id = AKIAWRONG\n"
               "aws_secret_access_key = wrong-secret\n");
  }

  DefaultCredentialsChain chain(Variables variables) {
    variables.emplace("HOME", home.path().string());
    variables.emplace("AWS_EC2_METADATA_DISABLED", "true");
    CredentialsChainOptions options;
    options.environment = fixed_environment(std::move(variables));
    return DefaultCredentialsChain(options);
  }

  docvault::testing::TempDir home;
};

TEST_F(SharedFileCredentials, DefaultProfile) {
  auto provider = chain({});
  auto credentials = provider.credentials();
  EXPECT_EQ(credentials->access_key_id, "AKIADEFAULT");
  EXPECT_EQ(credentials->secret_access_key, "default-secret");
  EXPECT_EQ(credentials->session_token, "");
  EXPECT_EQ(provider.source(), "shared-file:default");
}

TEST_F(SharedFileCredentials, ProfileFromAwsProfileWithInlineComment) {
  auto provider = chain({{"AWS_PROFILE", "work"}});
  auto credentials = provider.credentials();
  EXPECT_EQ(credentials->access_key_id, "AKIAWORK");
  EXPECT_EQ(credentials->secret_access_key, "work-secret");
  EXPECT_EQ(credentials->session_token, "work-token");
  EXPECT_EQ(provider.source(), "shared-file:work");
}

TEST_F(SharedFileCredentials, ConfigFileProfileSectionSkippingNestedBlocks) {
  auto provider = chain({{"AWS_PROFILE", "fromconfig"}});
  auto credentials = provider.credentials();
  EXPECT_EQ(credentials->access_key_id, "AKIACONFIG");
  EXPECT_EQ(credentials->secret_access_key, "config-secret");
}

TEST_F(SharedFileCredentials, ConfigSectionWithoutProfilePrefixIsNotAProfile) {
  auto provider = chain({{"AWS_PROFILE", "notaprofile"}});
  EXPECT_THROW(provider.credentials(), CredentialsError);
}

TEST_F(SharedFileCredentials, PathOverrides) {
  docvault::testing::TempDir elsewhere;
  write_file(elsewhere.path() / "creds",
             "[default]\naws_access_key_id=AKIAOVERRIDE\naws_secret_access_key=o\n");
  write_file(elsewhere.path() / "conf",
             "[profile only]\naws_access_key_id=AKIACONFOVERRIDE\naws_secret_access_key=c\n");
  auto provider = chain({{"AWS_SHARED_CREDENTIALS_FILE", (elsewhere.path() / "creds").string()},
                         {"AWS_CONFIG_FILE", (elsewhere.path() / "conf").string()}});
  EXPECT_EQ(provider.credentials()->access_key_id, "AKIAOVERRIDE");
  auto only = chain({{"AWS_SHARED_CREDENTIALS_FILE", (elsewhere.path() / "creds").string()},
                     {"AWS_CONFIG_FILE", (elsewhere.path() / "conf").string()},
                     {"AWS_PROFILE", "only"}});
  EXPECT_EQ(only.credentials()->access_key_id, "AKIACONFOVERRIDE");
}

TEST_F(SharedFileCredentials, MissingProfileFallsThroughToAnError) {
  auto provider = chain({{"AWS_PROFILE", "nosuch"}});
  try {
    provider.credentials();
    FAIL() << "expected CredentialsError";
  } catch (const CredentialsError& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("shared-file:nosuch"), std::string::npos) << message;
    EXPECT_EQ(message.find("secret"), std::string::npos) << message;
  }
}

// ------------------------------------------------------------- ECS

TEST(EcsCredentials, RelativeUriWithAuthorizationToken) {
  FakeMetadataServer server;
  server.expect_authorization("task-token");
  DefaultCredentialsChain chain(
      options_for({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/ecs/creds"},
                   {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "task-token"},
                   {"AWS_EC2_METADATA_DISABLED", "true"}},
                  &server));
  auto credentials = chain.credentials();
  EXPECT_EQ(credentials->access_key_id, "ASIASERVED1");
  EXPECT_EQ(credentials->secret_access_key, "server-secret");
  EXPECT_EQ(credentials->session_token, "server-token");
  ASSERT_TRUE(credentials->expiration);
  EXPECT_GT(*credentials->expiration, Clock::now() + 50min);
  EXPECT_EQ(chain.source(), "ecs");
}

TEST(EcsCredentials, FullUriWithTokenFileThatWinsOverTheVariable) {
  FakeMetadataServer server;
  server.expect_authorization("token-from-file");
  docvault::testing::TempDir dir;
  write_file(dir.path() / "token", "token-from-file\n");
  DefaultCredentialsChain chain(
      options_for({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.base_url() + "/ecs/creds"},
                   {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "stale-variable"},
                   {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", (dir.path() / "token").string()},
                   {"AWS_EC2_METADATA_DISABLED", "true"}},
                  &server));
  EXPECT_EQ(chain.credentials()->access_key_id, "ASIASERVED1");
  EXPECT_EQ(chain.source(), "ecs");
}

TEST(EcsCredentials, WrongTokenIsAnErrorWithoutSecrets) {
  FakeMetadataServer server;
  server.expect_authorization("right-token");
  DefaultCredentialsChain chain(
      options_for({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/ecs/creds"},
                   {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token"},
                   {"AWS_EC2_METADATA_DISABLED", "true"}},
                  &server));
  try {
    chain.credentials();
    FAIL() << "expected CredentialsError";
  } catch (const CredentialsError& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("ecs: ECS credentials endpoint answered HTTP 401"), std::string::npos)
        << message;
    EXPECT_EQ(message.find("wrong-token"), std::string::npos) << message;
    EXPECT_EQ(error.http_status(), 0);
    EXPECT_EQ(error.code(), "CredentialsUnavailable");
  }
  EXPECT_EQ(server.ecs_requests.load(), 1);
}

TEST(EcsCredentials, FullUriToAForeignHostIsRefused) {
  DefaultCredentialsChain chain(
      options_for({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://203.0.113.9/creds"},
                   {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "task-token"}}));
  EXPECT_THROW(chain.credentials(), CredentialsError);
}

// ------------------------------------------------------------- IMDSv2

TEST(ImdsCredentials, TokenThenRoleThenCredentials) {
  FakeMetadataServer server;
  DefaultCredentialsChain chain(
      options_for({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.base_url() + "/"}}));
  auto credentials = chain.credentials();
  EXPECT_EQ(credentials->access_key_id, "ASIASERVED1");
  EXPECT_EQ(credentials->session_token, "server-token");
  EXPECT_EQ(chain.source(), "imds");
  EXPECT_EQ(server.imds_token_requests.load(), 1);
  EXPECT_EQ(server.imds_credential_requests.load(), 1);
}

TEST(ImdsCredentials, DefaultEndpointFromOptionsAndDisabledSwitch) {
  FakeMetadataServer server;
  DefaultCredentialsChain enabled(options_for({}, &server));
  EXPECT_EQ(enabled.credentials()->access_key_id, "ASIASERVED1");

  DefaultCredentialsChain disabled(options_for({{"AWS_EC2_METADATA_DISABLED", "TRUE"}}, &server));
  try {
    disabled.credentials();
    FAIL() << "expected CredentialsError";
  } catch (const CredentialsError& error) {
    EXPECT_NE(std::string(error.what()).find("imds: not configured"), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(server.imds_token_requests.load(), 1);
}

TEST(ImdsCredentials, UnreachableEndpointIsAnError) {
  // A port nobody listens on: connection refused, not a hang.
  auto port = docvault::testing::free_port();
  DefaultCredentialsChain chain(options_for(
      {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:" + std::to_string(port)}}));
  EXPECT_THROW(chain.credentials(), CredentialsError);
}

// ------------------------------------------------------------- chain order

TEST(DefaultCredentialsChain, SourcesAreTriedInSdkOrder) {
  FakeMetadataServer server;
  docvault::testing::TempDir home;
  write_file(home.path() / ".aws" / "credentials",
             "[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=f\n");
  Variables env{{"AWS_ACCESS_KEY_ID", "AKIAENV"},
                {"AWS_SECRET_ACCESS_KEY", "e"},
                {"HOME", home.path().string()},
                {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/ecs/creds"}};
  auto chain_for = [&](const Variables& variables) {
    return std::make_unique<DefaultCredentialsChain>(options_for(variables, &server));
  };

  auto all = chain_for(env);
  EXPECT_EQ(all->credentials()->access_key_id, "AKIAENV");
  EXPECT_EQ(all->source(), "environment");

  env.erase("AWS_ACCESS_KEY_ID");
  env.erase("AWS_SECRET_ACCESS_KEY");
  auto file = chain_for(env);
  EXPECT_EQ(file->credentials()->access_key_id, "AKIAFILE");
  EXPECT_EQ(file->source(), "shared-file:default");

  env["HOME"] = (home.path() / "empty").string();
  auto ecs = chain_for(env);
  ecs->credentials();
  EXPECT_EQ(ecs->source(), "ecs");

  env.erase("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  auto imds = chain_for(env);
  imds->credentials();
  EXPECT_EQ(imds->source(), "imds");

  EXPECT_EQ(server.ecs_requests.load(), 1);
  EXPECT_EQ(server.imds_credential_requests.load(), 1);
}

TEST(DefaultCredentialsChain, NothingConfiguredNamesEverySource) {
  DefaultCredentialsChain chain(options_for({}));
  try {
    chain.credentials();
    FAIL() << "expected CredentialsError";
  } catch (const CredentialsError& error) {
    std::string message = error.what();
    for (const char* name : {"environment", "shared-file:default", "ecs", "imds"}) {
      EXPECT_NE(message.find(name), std::string::npos) << message;
    }
  }
  EXPECT_EQ(chain.source(), "");
}

TEST(Credentials, RedactedShowsOnlyTheKeyIdPrefix) {
  Credentials credentials{
      "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "token", {}};
  auto text = credentials.redacted();
  EXPECT_EQ(text, "AKIA**** (temporary)");
}

TEST(Credentials, ParsesMetadataTimestamps) {
  auto parsed = parse_iso8601_utc("2015-08-30T12:36:00Z");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(Clock::to_time_t(*parsed), 1440938160);
  EXPECT_EQ(parse_iso8601_utc("2015-08-30T12:36:00.123Z"), parsed);
  EXPECT_EQ(parse_iso8601_utc("2015-08-30T12:36:00+00:00"), parsed);
  EXPECT_FALSE(parse_iso8601_utc("2015-02-30T12:36:00Z"));
  EXPECT_FALSE(parse_iso8601_utc("yesterday"));
}

// ------------------------------------------------------------- expiry and refresh

TEST(CredentialsRefresh, ValidCredentialsAreCached) {
  FakeMetadataServer server;
  server.lifetime = 1h;
  DefaultCredentialsChain chain(
      options_for({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/ecs/creds"}}, &server));
  auto first = chain.credentials();
  auto second = chain.credentials();
  EXPECT_EQ(first, second);
  EXPECT_EQ(server.ecs_requests.load(), 1);
}

TEST(CredentialsRefresh, CredentialsExpiringWithinTheMarginAreRefetched) {
  FakeMetadataServer server;
  server.lifetime = 2min;  // inside the 5-minute margin
  DefaultCredentialsChain chain(
      options_for({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/ecs/creds"}}, &server));
  EXPECT_EQ(chain.credentials()->access_key_id, "ASIASERVED1");
  EXPECT_EQ(chain.credentials()->access_key_id, "ASIASERVED2");
  EXPECT_EQ(server.ecs_requests.load(), 2);
}

TEST(CredentialsRefresh, RefreshFollowsTheClock) {
  FakeMetadataServer server;
  server.lifetime = 1h;
  docvault::testing::FakeClock clock;
  clock.set_now(std::chrono::floor<std::chrono::milliseconds>(Clock::now()));
  auto options = options_for({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/ecs/creds"}}, &server);
  options.clock = &clock;
  DefaultCredentialsChain chain(options);
  EXPECT_EQ(chain.credentials()->access_key_id, "ASIASERVED1");
  clock.advance(50min);
  EXPECT_EQ(chain.credentials()->access_key_id, "ASIASERVED1");
  clock.advance(6min);  // 56 minutes in: within 5 minutes of expiry
  EXPECT_EQ(chain.credentials()->access_key_id, "ASIASERVED2");
}

TEST(CredentialsRefresh, FailedEarlyRefreshKeepsTheStillValidCredentials) {
  FakeMetadataServer server;
  server.lifetime = 1h;
  server.expect_authorization("token");
  docvault::testing::FakeClock clock;
  clock.set_now(std::chrono::floor<std::chrono::milliseconds>(Clock::now()));
  auto options = options_for({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/ecs/creds"},
                              {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "token"},
                              {"AWS_EC2_METADATA_DISABLED", "true"}},
                             &server);
  options.clock = &clock;
  DefaultCredentialsChain chain(options);
  EXPECT_EQ(chain.credentials()->access_key_id, "ASIASERVED1");

  server.expect_authorization("rotated");  // every later fetch fails
  clock.advance(57min);
  EXPECT_EQ(chain.credentials()->access_key_id, "ASIASERVED1");
  EXPECT_EQ(server.ecs_requests.load(), 2);
  clock.advance(61min);  // past expiry: nothing valid to hand out
  EXPECT_THROW(chain.credentials(), CredentialsError);
}

TEST(CredentialsRefresh, ManyThreadsDuringRefreshes) {
  FakeMetadataServer server;
  server.lifetime = 2min;  // every call wants a refresh
  server.response_delay = 20ms;
  DefaultCredentialsChain chain(
      options_for({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/ecs/creds"}}, &server));

  constexpr int kThreads = 16;
  constexpr int kCallsPerThread = 50;
  std::atomic<int> failures{0};
  std::atomic<int> calls{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kCallsPerThread; ++i) {
          auto credentials = chain.credentials();
          ++calls;
          if (!credentials || !credentials->access_key_id.starts_with("ASIASERVED") ||
              credentials->secret_access_key != "server-secret" || !credentials->expiration) {
            ++failures;
          }
        }
      });
    }
  }
  EXPECT_EQ(calls.load(), kThreads * kCallsPerThread);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server.max_in_flight.load(), 1) << "refreshes must be serialized";
  EXPECT_GE(server.served.load(), 2);
  EXPECT_LT(server.served.load(), kThreads * kCallsPerThread)
      << "callers holding valid credentials must not each trigger a fetch";
  EXPECT_EQ(chain.source(), "ecs");
}

}  // namespace
}  // namespace docvault::aws
