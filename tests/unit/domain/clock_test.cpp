#include "domain/clock.h"

#include <gtest/gtest.h>

namespace docvault {
namespace {

TEST(Timestamp, FormatsAsTheEventContractDoes) {
  auto t = parse_timestamp("2025-10-23T12:34:56.789Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_timestamp(*t), "2025-10-23T12:34:56.789Z");
  EXPECT_EQ(format_timestamp(Timestamp{}), "1970-01-01T00:00:00.000Z");
}

TEST(Timestamp, RoundTripsNow) {
  auto now = SystemClock().now();
  EXPECT_EQ(parse_timestamp(format_timestamp(now)), now);
}

TEST(Timestamp, RejectsOtherForms) {
  for (const char* bad : {"", "2025-10-23T12:34:56Z", "2025-10-23 12:34:56.789Z", "2025-13-01T00:00:00.000Z",
                          "2025-02-30T00:00:00.000Z", "2025-10-23T24:00:00.000Z", "2025-10-23T12:34:56.789+00:00"}) {
    EXPECT_FALSE(parse_timestamp(bad)) << bad;
  }
}

}  // namespace
}  // namespace docvault
