#include "runtime/parse.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace docvault::runtime {

std::optional<bool> parse_bool(std::string_view text) {
  auto is = [text](std::string_view word) {
    return text.size() == word.size() && std::equal(text.begin(), text.end(), word.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  for (auto word : {"true", "1", "yes", "on"}) {
    if (is(word)) return true;
  }
  for (auto word : {"false", "0", "no", "off"}) {
    if (is(word)) return false;
  }
  return std::nullopt;
}

}  // namespace docvault::runtime
