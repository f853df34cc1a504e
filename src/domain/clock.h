// Timestamps as docvault writes them, over the Env seam's clock.
//
// docvault keeps every timestamp at millisecond precision in UTC and writes it
// as ISO 8601 with a `Z` ("2025-10-23T12:34:56.789Z"), the form of the event
// contracts. The application makes the timestamps (never the database), so the
// same instant appears in a row and in the events written with it. The clock
// itself is runtime::Clock (runtime/clock.h): wall and steady time and the
// stoppable waits, one interface for the whole program.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/clock.h"

namespace docvault {

using Timestamp = runtime::Timestamp;
using Clock = runtime::Clock;
using SystemClock = runtime::SystemClock;

// "2025-10-23T12:34:56.789Z"
std::string format_timestamp(Timestamp t);
// Accepts exactly the form format_timestamp writes.
std::optional<Timestamp> parse_timestamp(std::string_view text);

}  // namespace docvault
