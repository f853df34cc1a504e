#include "domain/entity.h"

#include <cstdint>

namespace docvault {

std::string_view to_string(EntityType type) {
  switch (type) {
    case EntityType::issuer: return "issuer";
    case EntityType::investor: return "investor";
    case EntityType::deal: return "deal";
    case EntityType::token: return "token";
    case EntityType::compliance: return "compliance";
  }
  return "unknown";
}

std::optional<EntityType> parse_entity_type(std::string_view text) {
  for (EntityType type : kEntityTypes) {
    if (to_string(type) == text) return type;
  }
  return std::nullopt;
}

bool is_printable_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<std::uint8_t>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > text.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<std::uint8_t>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return false;
    }
    i += len;
  }
  return true;
}

std::optional<FieldError> check_entity_id(std::string_view id, std::string_view field) {
  if (id.empty()) return FieldError{std::string(field), "must not be empty"};
  if (id.size() > kMaxEntityIdLength) {
    return FieldError{std::string(field), "must be at most 255 bytes"};
  }
  if (!is_printable_utf8(id)) {
    return FieldError{std::string(field), "must be UTF-8 text without control characters"};
  }
  return std::nullopt;
}

Validated<EntityRef> parse_entity_ref(std::string_view id, std::string_view type,
                                      std::string_view id_field, std::string_view type_field) {
  if (auto error = check_entity_id(id, id_field)) return *error;
  auto parsed = parse_entity_type(type);
  if (!parsed) {
    return FieldError{std::string(type_field),
                      "must be one of issuer, investor, deal, token, compliance"};
  }
  return EntityRef{std::string(id), *parsed};
}

}  // namespace docvault
