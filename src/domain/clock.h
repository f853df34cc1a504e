// Time, behind an interface so tests can freeze it.
//
// docvault keeps every timestamp at millisecond precision in UTC and writes it
// as ISO 8601 with a `Z` ("2025-10-23T12:34:56.789Z"), the form of the event
// contracts. The application makes the timestamps (never the database), so the
// same instant appears in a row and in the events written with it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace docvault {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// Thread-safe: implementations may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override;
};

// "2025-10-23T12:34:56.789Z"
std::string format_timestamp(Timestamp t);
// Accepts exactly the form format_timestamp writes.
std::optional<Timestamp> parse_timestamp(std::string_view text);

}  // namespace docvault
