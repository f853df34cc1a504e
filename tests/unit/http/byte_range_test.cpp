#include <gtest/gtest.h>

#include "http/document_routes.h"

namespace docvault::http {
namespace {

using Kind = ByteRangeRequest::Kind;

void expect_range(std::string_view header, std::uint64_t size, Kind kind, std::uint64_t offset = 0,
                  std::uint64_t length = 0) {
  auto range = parse_byte_range(header, size);
  EXPECT_EQ(range.kind, kind) << header;
  if (kind == Kind::partial) {
    EXPECT_EQ(range.offset, offset) << header;
    EXPECT_EQ(range.length, length) << header;
  }
}

TEST(ByteRange, ServesOneRangeAndClampsItsEnd) {
  expect_range("bytes=0-0", 10, Kind::partial, 0, 1);
  expect_range("bytes=2-4", 10, Kind::partial, 2, 3);
  expect_range("bytes=7-", 10, Kind::partial, 7, 3);
  expect_range("bytes=7-999", 10, Kind::partial, 7, 3);
  expect_range("bytes=-3", 10, Kind::partial, 7, 3);
  expect_range("bytes=-30", 10, Kind::partial, 0, 10);
}

TEST(ByteRange, RangesPastTheEndAreUnsatisfiable) {
  expect_range("bytes=10-", 10, Kind::unsatisfiable);
  expect_range("bytes=10-20", 10, Kind::unsatisfiable);
  expect_range("bytes=-0", 10, Kind::unsatisfiable);
  expect_range("bytes=0-", 0, Kind::unsatisfiable);
  expect_range("bytes=-5", 0, Kind::unsatisfiable);
}

TEST(ByteRange, AnythingElseIsTheWholeContent) {
  expect_range("", 10, Kind::whole);
  expect_range("items=0-1", 10, Kind::whole);
  expect_range("bytes=0-1,3-4", 10, Kind::whole);
  expect_range("bytes=4-2", 10, Kind::whole);
  expect_range("bytes=a-b", 10, Kind::whole);
  expect_range("bytes=-", 10, Kind::whole);
  expect_range("bytes=18446744073709551616-", 10, Kind::whole);
}

}  // namespace
}  // namespace docvault::http
