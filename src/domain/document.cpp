#include "domain/document.h"

#include <algorithm>
#include <cctype>

#include "domain/uuid.h"

namespace docvault {
namespace {

// C1 controls (U+0080..U+009F) and the bidirectional embeddings, overrides
// and isolates (U+202A..U+202E, U+2066..U+2069): printable UTF-8 that can
// still make "invoice\u202Efdp.exe" show as "invoiceexe.pdf". `text` is
// valid UTF-8 (checked before).
bool has_hidden_controls(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == 0xc2 && i + 1 < text.size()) {
      auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return true;
    }
    if (c == 0xe2 && i + 2 < text.size()) {
      auto b1 = static_cast<unsigned char>(text[i + 1]);
      auto b2 = static_cast<unsigned char>(text[i + 2]);
      if (b1 == 0x80 && b2 >= 0xaa && b2 <= 0xae) return true;  // U+202A..U+202E
      if (b1 == 0x81 && b2 >= 0xa6 && b2 <= 0xa9) return true;  // U+2066..U+2069
    }
  }
  return false;
}


bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

// RFC 9110 token characters, for media type names.
bool is_mime_token_char(char c) {
  static constexpr std::string_view kExtra = "!#$&-^_.+";
  return std::isalnum(static_cast<unsigned char>(c)) || kExtra.find(c) != std::string_view::npos;
}

bool is_media_type(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return false;
  auto params = text.find(';');
  auto subtype_end = params == std::string_view::npos ? text.size() : params;
  if (slash >= subtype_end) return false;
  auto type = text.substr(0, slash);
  auto subtype = text.substr(slash + 1, subtype_end - slash - 1);
  while (!subtype.empty() && subtype.back() == ' ') subtype.remove_suffix(1);
  auto ok = [](std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_mime_token_char); };
  return ok(type) && ok(subtype) && is_printable_utf8(text);
}

}  // namespace

std::string_view to_string(DocumentStatus status) {
  return status == DocumentStatus::active ? "active" : "archived";
}

std::optional<DocumentStatus> parse_document_status(std::string_view text) {
  if (text == "active") return DocumentStatus::active;
  if (text == "archived") return DocumentStatus::archived;
  return std::nullopt;
}

std::optional<DocumentId> DocumentId::parse(std::string_view text) {
  auto canonical = canonical_uuid(text);
  if (!canonical) return std::nullopt;
  return DocumentId(std::move(*canonical));
}

DocumentId DocumentId::generate() { return DocumentId(uuid_v4()); }

Validated<NewDocument> validate_upload(const DocumentUpload& upload) {
  auto entity = parse_entity_ref(upload.entity_id, upload.entity_type);
  if (!entity) return entity.error();

  std::string document_type(upload.document_type.value_or(std::string(kDefaultDocumentType)));
  if (document_type.empty() || document_type.size() > 64 ||
      !std::all_of(document_type.begin(), document_type.end(), is_token_char)) {
    return FieldError{"document_type", "must be 1 to 64 characters of letters, digits, '_', '-' or '.'"};
  }

  std::string filename = upload.filename.empty() ? std::string(kDefaultFilename) : upload.filename;
  if (filename.size() > 255 || !is_printable_utf8(filename) || has_hidden_controls(filename)) {
    return FieldError{"filename",
                      "must be at most 255 bytes of UTF-8 text without control characters or bidirectional overrides"};
  }

  std::string content_type =
      upload.content_type.empty() ? std::string(kDefaultContentType) : upload.content_type;
  if (content_type.size() > 255 || !is_media_type(content_type)) {
    return FieldError{"content_type", "must be a media type such as application/pdf"};
  }

  return NewDocument{std::move(entity).value(), std::move(document_type), std::move(filename),
                     std::move(content_type)};
}

}  // namespace docvault
