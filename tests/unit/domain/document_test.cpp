#include "domain/document.h"

#include <gtest/gtest.h>

namespace docvault {
namespace {

DocumentUpload valid() {
  return DocumentUpload{"f47ac10b-58cc-4372-a567-0e02b2c3d479", "issuer", std::nullopt, "report.pdf",
                        "application/pdf"};
}

TEST(Entity, ParsesTheFiveSupportedTypes) {
  for (auto type : kEntityTypes) EXPECT_EQ(parse_entity_type(to_string(type)), type);
  EXPECT_FALSE(parse_entity_type("Issuer"));
  EXPECT_FALSE(parse_entity_type("fund"));
  EXPECT_FALSE(parse_entity_type(""));
}

TEST(Entity, IdMustBeShortPrintableUtf8) {
  EXPECT_FALSE(check_entity_id("abc"));
  EXPECT_FALSE(check_entity_id("émetteur-🙂"));
  EXPECT_FALSE(check_entity_id(std::string(255, 'a')));
  EXPECT_EQ(check_entity_id("")->field, "entity_id");
  EXPECT_TRUE(check_entity_id(std::string(256, 'a')));
  EXPECT_TRUE(check_entity_id(std::string("a\0b", 3)));
  EXPECT_TRUE(check_entity_id("line\nbreak"));
  EXPECT_TRUE(check_entity_id("\xc3\x28"));          // invalid continuation
  EXPECT_TRUE(check_entity_id("\xc0\xaf"));          // overlong '/'
  EXPECT_TRUE(check_entity_id("\xed\xa0\x80"));      // surrogate
}

TEST(Upload, ValidUploadGetsDefaults) {
  auto upload = valid();
  upload.filename.clear();
  upload.content_type.clear();
  auto result = validate_upload(upload);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->entity.type, EntityType::issuer);
  EXPECT_EQ(result->document_type, "general");
  EXPECT_EQ(result->filename, "document");
  EXPECT_EQ(result->content_type, "application/octet-stream");
}

TEST(Upload, EachBadFieldIsNamed) {
  struct Case {
    void (*mutate)(DocumentUpload&);
    const char* field;
  };
  const Case cases[] = {
      {[](DocumentUpload& u) { u.entity_id = ""; }, "entity_id"},
      {[](DocumentUpload& u) { u.entity_type = "fund"; }, "entity_type"},
      {[](DocumentUpload& u) { u.document_type = "has space"; }, "document_type"},
      {[](DocumentUpload& u) { u.document_type = ""; }, "document_type"},
      {[](DocumentUpload& u) { u.filename = std::string(256, 'x'); }, "filename"},
      {[](DocumentUpload& u) { u.filename = "a\r\nb"; }, "filename"},
      {[](DocumentUpload& u) { u.filename = "invoice\u202Efdp.exe"; }, "filename"},
      {[](DocumentUpload& u) { u.filename = "a\u2069b.pdf"; }, "filename"},
      {[](DocumentUpload& u) { u.filename = "a\xc2\x9b" "31m.pdf"; }, "filename"},
      {[](DocumentUpload& u) { u.content_type = "pdf"; }, "content_type"},
      {[](DocumentUpload& u) { u.content_type = "text/html\r\nX-Evil: 1"; }, "content_type"},
  };
  for (const auto& c : cases) {
    auto upload = valid();
    c.mutate(upload);
    auto result = validate_upload(upload);
    ASSERT_FALSE(result) << c.field;
    EXPECT_EQ(result.error().field, c.field);
  }
}

TEST(Upload, AcceptsMediaTypeParameters) {
  auto upload = valid();
  upload.content_type = "text/plain; charset=utf-8";
  EXPECT_TRUE(validate_upload(upload));
}

TEST(DocumentId, ParsesOnlyUuids) {
  EXPECT_TRUE(DocumentId::parse("F47AC10B-58CC-4372-A567-0E02B2C3D479"));
  EXPECT_EQ(DocumentId::parse("F47AC10B-58CC-4372-A567-0E02B2C3D479")->str(),
            "f47ac10b-58cc-4372-a567-0e02b2c3d479");
  EXPECT_FALSE(DocumentId::parse("not-a-uuid"));
}

}  // namespace
}  // namespace docvault
