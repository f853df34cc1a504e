#include "app/config.h"

#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "store/database_url.h"
#include "test_env.h"

namespace docvault::app {
namespace {

Environment env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Config, DefaultsMatchTheDocumentation) {
  auto loaded = load_config(env_of({}));
  ASSERT_TRUE(std::holds_alternative<Config>(loaded));
  const auto& c = std::get<Config>(loaded);
  EXPECT_TRUE(c.database_url.empty());
  EXPECT_EQ(c.data_dir, "./var");
  EXPECT_EQ(c.http_host, "0.0.0.0");
  EXPECT_EQ(c.http_port, 8080);
  EXPECT_EQ(c.max_upload_bytes, 50u * 1024 * 1024);
  EXPECT_TRUE(c.auto_migrate);
  EXPECT_EQ(c.log_format, log::Format::json);
  EXPECT_EQ(c.log_level, log::Level::info);
}

TEST(Config, ParsesGivenValues) {
  auto loaded = load_config(env_of({{"DATABASE_URL", "postgresql://u:p@db:5432/docvault"},
                                    {"DOCVAULT_HTTP_ADDR", "127.0.0.1:0"},
                                    {"DOCVAULT_MAX_UPLOAD_BYTES", "1024"},
                                    {"DOCVAULT_AUTO_MIGRATE", "false"},
                                    {"LOG_LEVEL", "debug"},
                                    {"LOG_FORMAT", "text"}}));
  ASSERT_TRUE(std::holds_alternative<Config>(loaded));
  const auto& c = std::get<Config>(loaded);
  EXPECT_EQ(c.database_url, "postgresql://u:p@db:5432/docvault");
  EXPECT_EQ(c.http_host, "127.0.0.1");
  EXPECT_EQ(c.http_port, 0);
  EXPECT_EQ(c.max_upload_bytes, 1024u);
  EXPECT_FALSE(c.auto_migrate);
  EXPECT_EQ(c.log_level, log::Level::debug);
  EXPECT_EQ(c.log_format, log::Format::text);
}

TEST(Config, BooleansTakeEveryCommonSpellingInAnyCase) {
  const std::pair<const char*, bool> cases[] = {
      {"true", true},  {"True", true},   {"TRUE", true},  {"1", true},   {"yes", true}, {"Yes", true},
      {"on", true},    {"ON", true},     {"false", false}, {"False", false}, {"0", false}, {"no", false},
      {"NO", false},   {"off", false},   {"Off", false},
  };
  for (auto [text, expected] : cases) {
    auto loaded = load_config(env_of({{"ENABLE_DOCUMENT_CONSUMER", text}, {"DOCVAULT_AUTO_MIGRATE", text}}));
    ASSERT_TRUE(std::holds_alternative<Config>(loaded)) << text;
    EXPECT_EQ(std::get<Config>(loaded).consumer_enabled, expected) << text;
    EXPECT_EQ(std::get<Config>(loaded).auto_migrate, expected) << text;
  }
  for (const char* text : {"truee", "t", "y", "2", "on ", " yes", "enabled", ""}) {
    auto loaded = load_config(env_of({{"ENABLE_DOCUMENT_CONSUMER", text}}));
    if (*text == '\0') continue;  // empty means unset: the default applies
    ASSERT_TRUE(std::holds_alternative<ConfigError>(loaded)) << text;
    EXPECT_EQ(std::get<ConfigError>(loaded).variable, "ENABLE_DOCUMENT_CONSUMER");
  }
}

TEST(Config, EveryBadValueNamesTheVariableAndWhatIsAllowed) {
  const std::pair<const char*, const char*> cases[] = {
      {"DATABASE_URL", "mysql://db/x"},
      {"DATABASE_URL", "postgresql://"},
      {"DOCVAULT_HTTP_ADDR", "8080"},
      {"DOCVAULT_HTTP_ADDR", "0.0.0.0:70000"},
      {"DOCVAULT_HTTP_ADDR", "0.0.0.0:http"},
      {"DOCVAULT_MAX_UPLOAD_BYTES", "0"},
      {"DOCVAULT_MAX_UPLOAD_BYTES", "10MB"},
      {"DOCVAULT_MAX_UPLOAD_BYTES", "-1"},
      {"DOCVAULT_AUTO_MIGRATE", "maybe"},
      {"DOCVAULT_DB_POOL_SIZE", "0"},
      {"LOG_LEVEL", "verbose"},
      {"LOG_FORMAT", "xml"},
  };
  for (auto [name, value] : cases) {
    auto loaded = load_config(env_of({{name, value}}));
    ASSERT_TRUE(std::holds_alternative<ConfigError>(loaded)) << name << "=" << value;
    const auto& error = std::get<ConfigError>(loaded);
    EXPECT_EQ(error.variable, name);
    EXPECT_NE(error.message().find(name), std::string::npos);
    EXPECT_NE(error.message().find("expected"), std::string::npos);
  }
}

TEST(Config, SecretsAreRedactedEverywhere) {
  auto env = env_of({{"DATABASE_URL", "postgresql://app:hunter2@db/docvault"}});
  auto description = describe_config(env);
  EXPECT_EQ(description.find("hunter2"), std::string::npos);
  EXPECT_NE(description.find("DATABASE_URL=postgresql://app:***@db/docvault  # env"), std::string::npos);
  EXPECT_NE(description.find("DOCVAULT_HTTP_ADDR=0.0.0.0:8080  # default"), std::string::npos);

  auto bad = load_config(env_of({{"DATABASE_URL", "mysql://app:hunter2@db/docvault"}}));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(bad));
  EXPECT_EQ(std::get<ConfigError>(bad).message().find("hunter2"), std::string::npos);
}

TEST(Config, DriverErrorsLoseThePasswordOnlyWhereTheUrlHasIt) {
  // The secret is also an ordinary word: only its place in the URL is masked.
  const std::string url = "postgresql://app:accept@db.internal:5432/docvault";
  auto reason = store::redact_database_error(
      "connection to server at \"db.internal\" failed: is the server accepting connections? (" + url + ")\nmore",
      url);
  EXPECT_NE(reason.find("accepting connections"), std::string::npos) << reason;
  EXPECT_NE(reason.find("postgresql://app:***@db.internal:5432/docvault"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("more"), std::string::npos);
  EXPECT_EQ(store::redact_database_error("bad option password=accept here", "host=db password=accept"),
            "bad option password=*** here");
}

TEST(Config, ReadmeShowsTheVariableTable) {
  std::ifstream readme(docvault::testing::source_dir() / "README.md");
  ASSERT_TRUE(readme) << "README.md is missing";
  std::stringstream text;
  text << readme.rdbuf();
  EXPECT_NE(text.str().find(config_markdown_table()), std::string::npos)
      << "README.md's variable table is out of date; paste `docvault config docs` into it:\n"
      << config_markdown_table();
}

}  // namespace
}  // namespace docvault::app

namespace docvault::app {
namespace {

TEST(SecurityConfig, ServeNeedsAKeyUnlessAuthIsDisabledExplicitly) {
  auto config = std::get<Config>(load_config(env_of({})));
  EXPECT_TRUE(config.auth_enabled);
  auto missing = check_auth(config);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->variable, "DOCVAULT_JWT_SECRET");
  EXPECT_FALSE(check_auth(std::get<Config>(load_config(env_of({{"DOCVAULT_AUTH", "disabled"}})))));
  EXPECT_FALSE(check_auth(
      std::get<Config>(load_config(env_of({{"DOCVAULT_JWT_SECRET", std::string(32, 's')}})))));
  EXPECT_FALSE(check_auth(std::get<Config>(load_config(env_of({{"DOCVAULT_JWT_PUBLIC_KEY_FILE", "/k.pem"}})))));
}

TEST(SecurityConfig, CrossChecksNameTheVariable) {
  auto variable_of = [](std::map<std::string, std::string> values) {
    auto loaded = load_config(env_of(std::move(values)));
    auto* error = std::get_if<ConfigError>(&loaded);
    return error ? error->variable : std::string();
  };
  EXPECT_EQ(variable_of({{"DOCVAULT_JWT_SECRET", std::string(32, 's')}, {"DOCVAULT_JWT_PUBLIC_KEY_FILE", "/k"}}),
            "DOCVAULT_JWT_PUBLIC_KEY_FILE");
  EXPECT_EQ(variable_of({{"DOCVAULT_AUTH", "disabled"}, {"DOCVAULT_METRICS_AUTH", "required"}}),
            "DOCVAULT_METRICS_AUTH");
  EXPECT_EQ(variable_of({{"DOCUMENT_CONSUMER_VERIFY_SNS_SIGNATURE", "true"}}), "DOCUMENT_CONSUMER_ALLOWED_TOPIC_ARNS");
  EXPECT_EQ(variable_of({{"DOCUMENT_CONSUMER_ALLOWED_TOPIC_ARNS", "arn:aws:sns:us-east-1:1:a, not-an-arn"}}),
            "DOCUMENT_CONSUMER_ALLOWED_TOPIC_ARNS");
  auto config = std::get<Config>(load_config(
      env_of({{"DOCUMENT_CONSUMER_VERIFY_SNS_SIGNATURE", "true"},
              {"DOCUMENT_CONSUMER_ALLOWED_TOPIC_ARNS", "arn:aws:sns:us-east-1:1:a,arn:aws:sns:eu-west-1:2:b"}})));
  EXPECT_EQ(config.consumer_allowed_topic_arns,
            (std::vector<std::string>{"arn:aws:sns:us-east-1:1:a", "arn:aws:sns:eu-west-1:2:b"}));
}

TEST(SecurityConfig, TheJwtSecretIsRedacted) {
  const std::string secret = "a-very-secret-hs256-key-0123456789";
  auto described = describe_config(env_of({{"DOCVAULT_JWT_SECRET", secret}}));
  EXPECT_EQ(described.find(secret), std::string::npos);
  EXPECT_NE(described.find("DOCVAULT_JWT_SECRET=***"), std::string::npos);
  auto refused = load_config(env_of({{"DOCVAULT_JWT_SECRET", "short-secret"}}));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(refused));
  EXPECT_EQ(std::get<ConfigError>(refused).message().find("short-secret"), std::string::npos);
}

}  // namespace
}  // namespace docvault::app
