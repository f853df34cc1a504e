#include "app/config.h"

#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

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
