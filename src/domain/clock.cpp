#include "domain/clock.h"

#include <cstdio>

#include "runtime/iso8601.h"

namespace docvault {

std::string format_timestamp(Timestamp t) {
  auto day = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day ymd{day};
  std::chrono::hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()),
                int(hms.subseconds().count()));
  return buf;
}

std::optional<Timestamp> parse_timestamp(std::string_view text) {
  // Only the one shape format_timestamp writes; the parsing itself is the
  // Env seam's (runtime/iso8601.h).
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != kShape.size()) return std::nullopt;
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    bool digit = text[i] >= '0' && text[i] <= '9';
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return std::nullopt;
  }
  if (text.substr(17, 2) == "60") return std::nullopt;  // no leap seconds in our own timestamps
  return runtime::parse_iso8601(text);
}

}  // namespace docvault
