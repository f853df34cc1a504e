#include <gtest/gtest.h>

#include "crypto/crypto.h"

namespace docvault::crypto {
namespace {

TEST(Base64Url, EncodesRfc4648VectorsWithoutPadding) {
  // RFC 4648 section 10, in the URL-safe alphabet, padding dropped.
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode(std::string("\xfb\xff\xbf", 3)), "-_-_");
}

TEST(Base64Url, RoundTripsAndRefusesWhatIsNotBase64Url) {
  for (const std::string& text : {std::string(), std::string("f"), std::string("fo"), std::string("foob"),
                                  std::string("fooba"), std::string("\0\xff\xfe", 3)}) {
    EXPECT_EQ(base64url_decode(base64url_encode(text)), text);
  }
  EXPECT_EQ(base64url_decode("Zm8="), "fo");  // padding is accepted
  EXPECT_FALSE(base64url_decode("ab+c"));      // the standard alphabet is not
  EXPECT_FALSE(base64url_decode("ab/c"));
  EXPECT_FALSE(base64url_decode("a"));         // no whole byte
  EXPECT_FALSE(base64url_decode("Zm9v\n"));
}

}  // namespace
}  // namespace docvault::crypto
