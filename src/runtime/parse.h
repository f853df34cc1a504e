// Parsing of numbers and flags from untrusted text (query parameters,
// environment variables, headers, message attributes).
//
// The whole text must be the value: no sign on unsigned numbers, no spaces,
// no trailing characters ("12abc" and " 12" are not 12), base 10, in range
// of the type. nullopt otherwise; never throws.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>

namespace docvault::runtime {

template <std::integral Int>
std::optional<Int> parse_integer(std::string_view text) {
  Int value{};
  if (text.empty() || text.front() == '+') return std::nullopt;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Within [min, max] as well.
template <std::integral Int>
std::optional<Int> parse_integer(std::string_view text, Int min, Int max) {
  auto value = parse_integer<Int>(text);
  if (!value || *value < min || *value > max) return std::nullopt;
  return value;
}

inline std::optional<std::uint64_t> parse_uint(std::string_view text) { return parse_integer<std::uint64_t>(text); }

// true/1/yes/on and false/0/no/off, in any case.
std::optional<bool> parse_bool(std::string_view text);

}  // namespace docvault::runtime
