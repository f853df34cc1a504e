#include "http/document_routes.h"

#include <gtest/gtest.h>

#include "http/api_error.h"

namespace docvault::http {
namespace {

TEST(ContentDisposition, KeepsPlainNamesAndEncodesTheRest) {
  EXPECT_EQ(content_disposition("report.pdf"), "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
  EXPECT_EQ(content_disposition("Q3 report \"final\";.pdf"),
            "attachment; filename=\"Q3 report _final__.pdf\"; filename*=UTF-8''Q3%20report%20%22final%22%3B.pdf");
  EXPECT_EQ(content_disposition("résumé.pdf"),
            "attachment; filename=\"r__sum__.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf");
  // Nothing that could end the header or the quoted string survives.
  auto header = content_disposition("a\r\nSet-Cookie: x=1\\\".pdf");
  EXPECT_EQ(header.find('\r'), std::string::npos);
  EXPECT_EQ(header.find('\n'), std::string::npos);
  EXPECT_EQ(header.find("\\"), std::string::npos);
  EXPECT_EQ(content_disposition(""), "attachment; filename=\"document\"; filename*=UTF-8''");
}

TEST(ApiErrors, LibraryStatusesGetTheApiShape) {
  EXPECT_EQ(error_for_status(400).code, "malformed_request");
  EXPECT_EQ(error_for_status(404).code, "not_found");
  EXPECT_EQ(error_for_status(413).code, "payload_too_large");
  EXPECT_EQ(error_for_status(503).code, "unavailable");
  EXPECT_EQ(error_for_status(502).code, "internal_error");

  Response res;
  respond(res, ApiError::bad_field(FieldError{"entity_type", "must be one of issuer"}));
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.body,
            R"({"error":{"code":"invalid_field","message":"entity_type must be one of issuer","field":"entity_type"}})");
}

}  // namespace
}  // namespace docvault::http
