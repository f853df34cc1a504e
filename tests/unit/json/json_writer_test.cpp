#include "json/json_writer.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace docvault::json {
namespace {

std::string hostile() {
  std::string text = "q\"b\\s/\b\f\n\r\t";
  for (char c = 1; c < 0x20; ++c) text += c;
  text += std::string("\0 nul", 5);
  text += "\x7f caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x84 '%_ plain run at the end";
  return text;
}

TEST(JsonWriter, WritesWhatTheJsonLibraryWritesForTheSameValues) {
  const std::string text = hostile();
  JsonWriter writer(16);
  writer.open()
      .string("name", text)
      .number("big", 18446744073709551615ull)
      .optional_string("none", std::nullopt)
      .optional_string("some", text)
      .key("list")
      .open_array();
  for (int i = 0; i < 3; ++i) {
    writer.open().string("Id", std::to_string(i)).key("inner").open().string(text, "v").close().close();
  }
  writer.close_array().key("empty").open_array().close_array().key("object").open().close().close();
  const std::string written = std::move(writer).finish();

  nlohmann::ordered_json expected = {{"name", text},
                                     {"big", 18446744073709551615ull},
                                     {"none", nullptr},
                                     {"some", text},
                                     {"list", nlohmann::ordered_json::array()},
                                     {"empty", nlohmann::ordered_json::array()},
                                     {"object", nlohmann::ordered_json::object()}};
  for (int i = 0; i < 3; ++i) {
    expected["list"].push_back({{"Id", std::to_string(i)}, {"inner", {{text, "v"}}}});
  }
  EXPECT_EQ(written, expected.dump());
}

TEST(JsonWriter, QuotesEmptyAndPlainStringsAsTheyAre) {
  std::string out;
  append_quoted(out, "");
  append_quoted(out, "plain");
  EXPECT_EQ(out, R"("""plain")");
}

}  // namespace
}  // namespace docvault::json
