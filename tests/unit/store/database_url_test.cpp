#include "store/database_url.h"

#include <gtest/gtest.h>

namespace docvault::store {
namespace {

TEST(RedactDatabaseUrl, HidesPasswordsInEveryForm) {
  EXPECT_EQ(store::redact_database_url("postgresql://app:s3cret@db:5432/docvault"),
            "postgresql://app:***@db:5432/docvault");
  EXPECT_EQ(store::redact_database_url("postgres://app@db/docvault"), "postgres://app@db/docvault");
  EXPECT_EQ(store::redact_database_url("postgresql://db/docvault?user=app&password=s3cret&sslmode=require"),
            "postgresql://db/docvault?user=app&password=***&sslmode=require");
  EXPECT_EQ(store::redact_database_url("host=db password=s3cret user=app"),
            "host=db password=*** user=app");
  EXPECT_EQ(store::redact_database_url("host=db password = 'with space' user=app"),
            "host=db password = *** user=app");
}

TEST(ParseDatabaseUrl, FindsEachPasswordWhereTheFormPutsIt) {
  const std::string_view uri = "postgresql://app:pw@db/docvault?password=again&sslmode=require";
  const auto parsed = parse_database_url(uri);
  EXPECT_EQ(parsed.form, DatabaseUrl::Form::uri);
  ASSERT_EQ(parsed.passwords.size(), 2u);
  EXPECT_EQ(uri.substr(parsed.passwords[0].begin, parsed.passwords[0].end - parsed.passwords[0].begin), "pw");
  EXPECT_EQ(uri.substr(parsed.passwords[1].begin, parsed.passwords[1].end - parsed.passwords[1].begin), "again");

  // A keyword that only ends in "password" is another keyword; a quoted value
  // runs to its closing quote, past escaped ones.
  const std::string_view pairs = R"(host=db oldpassword=x password='it\'s' user=app)";
  const auto kv = parse_database_url(pairs);
  EXPECT_EQ(kv.form, DatabaseUrl::Form::keyword_value);
  ASSERT_EQ(kv.passwords.size(), 1u);
  EXPECT_EQ(pairs.substr(kv.passwords[0].begin, kv.passwords[0].end - kv.passwords[0].begin), R"('it\'s')");

  EXPECT_TRUE(parse_database_url("postgresql://app@db/docvault").passwords.empty());
}

}  // namespace
}  // namespace docvault::store
