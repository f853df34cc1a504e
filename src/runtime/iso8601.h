// The one ISO 8601 parser: UTC timestamps as AWS metadata endpoints, S3 and
// docvault itself write them.
//
// Accepts "YYYY-MM-DDTHH:MM:SS", an optional fraction (".789", any number of
// digits; kept to the millisecond, truncated) and a UTC designator: "Z", "z"
// or "+00:00" ("t" for "T" too). A leap second (":60") is read as the next
// second. No surrounding spaces, no other offsets: nullopt for anything else.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace docvault::runtime {

std::optional<std::chrono::sys_time<std::chrono::milliseconds>> parse_iso8601(std::string_view text);

}  // namespace docvault::runtime
