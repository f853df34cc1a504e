#include "http/multipart.h"

#include <gtest/gtest.h>

namespace docvault::http {
namespace {

// Parses `body` fed in pieces of `piece` bytes; the events as text.
std::pair<std::string, bool> parse(std::string_view body, std::size_t piece, const std::string& boundary = "xx") {
  std::string events;
  MultipartParser parser(boundary, {[&](const PartHeaders& p) {
                                      events += "[" + p.name + "|" + p.filename.value_or("-") + "|" + p.content_type + "]";
                                      return true;
                                    },
                                    [&](std::string_view data) {
                                      events += data;
                                      return true;
                                    },
                                    [&] {
                                      events += ";";
                                      return true;
                                    }});
  bool ok = true;
  for (std::size_t at = 0; at < body.size() && ok; at += piece) ok = parser.feed(body.substr(at, piece));
  return {events, parser.finish()};
}

TEST(Multipart, BoundaryComesFromTheContentType) {
  EXPECT_EQ(MultipartParser::boundary_of("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(MultipartParser::boundary_of("Multipart/Form-Data;boundary=\"a b\""), "a b");
  EXPECT_FALSE(MultipartParser::boundary_of("multipart/form-data"));
  EXPECT_FALSE(MultipartParser::boundary_of("multipart/mixed; boundary=abc"));
  EXPECT_FALSE(MultipartParser::boundary_of("multipart/form-data; boundary="));
  EXPECT_FALSE(MultipartParser::boundary_of("multipart/form-data; boundary=a; boundary=b"));
  EXPECT_FALSE(MultipartParser::boundary_of("multipart/form-data; boundary=" + std::string(71, 'a')));
  EXPECT_FALSE(MultipartParser::boundary_of("application/json"));
}

TEST(Multipart, PartsArriveTheSameWhateverThePieces) {
  const std::string body =
      "preamble\r\n--xx\r\nContent-Disposition: form-data; name=\"entity_id\"\r\n\r\nissuer-1\r\n"
      "--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \"q\".pdf\"\r\n"
      "Content-Type: application/pdf\r\n\r\n%PDF\r\n--x not yet\r\n--xx--\r\nepilogue";
  const std::string expected = "[entity_id|-|]issuer-1;[file|a \"q\".pdf|application/pdf]%PDF\r\n--x not yet;";
  for (std::size_t piece : {body.size(), std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{7}}) {
    auto [events, ok] = parse(body, piece);
    EXPECT_TRUE(ok) << piece;
    EXPECT_EQ(events, expected) << piece;
  }
}

TEST(Multipart, MalformedBodiesAreRefused) {
  for (const std::string& body : {
           std::string("--xx\r\ngarbage"),                                         // cut short
           std::string("--xx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv"),  // no close delimiter
           std::string("--xx--"),                                                  // no part
           std::string("--xx\r\nContent-Type: text/plain\r\n\r\nv\r\n--xx--"),       // no disposition
           std::string("--xx\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--xx--"),
           std::string("--xx\r\nContent-Disposition: form-data\r\n\r\nv\r\n--xx--"),  // no name
           std::string("--xx\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nv\r\n--xx--"),
           std::string("--xx\r\n Content-Disposition: form-data; name=a\r\n\r\nv\r\n--xx--"),  // folded
           std::string("--xxjunk\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--xx--"),
           std::string("--xx\r\nContent-Disposition: form-data; name=a\r\nX: " + std::string(9000, 'h') +
                       "\r\n\r\nv\r\n--xx--"),
       }) {
    EXPECT_FALSE(parse(body, body.size()).second) << body.substr(0, 80);
    EXPECT_FALSE(parse(body, 3).second) << body.substr(0, 80);
  }
}

TEST(Multipart, ACallbackCanStopIt) {
  MultipartParser parser("xx", {[](const PartHeaders&) { return false; }, [](std::string_view) { return true; },
                                [] { return true; }});
  EXPECT_FALSE(parser.feed("--xx\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--xx--"));
  EXPECT_EQ(parser.error(), MultipartParser::Error::stopped);
  EXPECT_FALSE(parser.finish());
}

}  // namespace
}  // namespace docvault::http
