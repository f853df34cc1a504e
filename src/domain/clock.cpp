#include "domain/clock.h"

#include <cstdio>

namespace docvault {

Timestamp SystemClock::now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

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
  if (text.size() != 24) return std::nullopt;
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    bool digit = text[i] >= '0' && text[i] <= '9';
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return std::nullopt;
  }
  auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  std::chrono::year_month_day ymd{std::chrono::year{num(0, 4)},
                                  std::chrono::month{static_cast<unsigned>(num(5, 2))},
                                  std::chrono::day{static_cast<unsigned>(num(8, 2))}};
  int h = num(11, 2), m = num(14, 2), s = num(17, 2), ms = num(20, 3);
  if (!ymd.ok() || h > 23 || m > 59 || s > 59) return std::nullopt;
  return Timestamp{std::chrono::sys_days{ymd}} + std::chrono::hours{h} + std::chrono::minutes{m} +
         std::chrono::seconds{s} + std::chrono::milliseconds{ms};
}

}  // namespace docvault
