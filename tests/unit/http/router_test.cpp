#include <gtest/gtest.h>

#include "http/server.h"

namespace docvault::http {
namespace {

TEST(Router, MatchesWholeSegmentsAndCapturesIds) {
  Router router;
  router.route("/healthz", {{"GET", open_endpoint([](const Request&, Response&) {})}});
  router.route("/v1/documents/([^/]+)", {{"GET", open_endpoint([](const Request&, Response&) {})}});
  router.route("/v1/documents/([^/]+)/content", {{"GET", open_endpoint([](const Request&, Response&) {})}});
  std::vector<std::string> matches;
  auto* route = router.match("/v1/documents/abc/content", matches);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->label, "/v1/documents/{id}/content");
  EXPECT_EQ(matches, (std::vector<std::string>{"/v1/documents/abc/content", "abc"}));
  EXPECT_EQ(router.match("/v1/documents/abc", matches)->label, "/v1/documents/{id}");
  EXPECT_EQ(router.match("/healthz", matches)->allow, "GET");
  for (const char* miss : {"/v1/documents/", "/v1/documents//content", "/healthz/", "/HEALTHZ", "", "healthz",
                           "/v1/documents/a/b/content"}) {
    EXPECT_EQ(router.match(miss, matches), nullptr) << miss;
  }
  // A long path costs its length (no regex recursion).
  EXPECT_EQ(router.match("/v1/documents/" + std::string(1 << 20, 'a'), matches)->label, "/v1/documents/{id}");
}

}  // namespace
}  // namespace docvault::http
