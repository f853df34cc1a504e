#include "domain/uuid.h"

#include <set>

#include <gtest/gtest.h>

namespace docvault {
namespace {

TEST(Uuid, V4IsCanonicalRandomAndVersioned) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = uuid_v4();
    ASSERT_EQ(canonical_uuid(id), id);
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Uuid, V5MatchesRfc4122Example) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
  EXPECT_EQ(uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}

TEST(Uuid, V5IsDeterministicAndNameSensitive) {
  EXPECT_EQ(uuid_v5(kDocvaultUuidNamespace, "a"), uuid_v5(kDocvaultUuidNamespace, "a"));
  EXPECT_NE(uuid_v5(kDocvaultUuidNamespace, "a"), uuid_v5(kDocvaultUuidNamespace, "b"));
}

TEST(Uuid, CanonicalFormLowercasesAndRejectsMalformed) {
  EXPECT_EQ(canonical_uuid("F47AC10B-58CC-4372-A567-0E02B2C3D479"), "f47ac10b-58cc-4372-a567-0e02b2c3d479");
  EXPECT_FALSE(canonical_uuid(""));
  EXPECT_FALSE(canonical_uuid("f47ac10b58cc4372a5670e02b2c3d479"));
  EXPECT_FALSE(canonical_uuid("f47ac10b-58cc-4372-a567-0e02b2c3d47g"));
  EXPECT_FALSE(canonical_uuid("f47ac10b-58cc-4372-a567-0e02b2c3d4790"));
  EXPECT_FALSE(canonical_uuid("../../etc/passwd-aaaaaaaaaaaaaaaaaaaa"));
}

}  // namespace
}  // namespace docvault
