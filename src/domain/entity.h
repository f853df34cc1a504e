// The platform entities that own documents.
//
// An entity is named by the EPR service: an opaque id (1 to 255 characters,
// the width of processed_events.entity_id) and one of five supported types.
// Every document belongs to exactly one entity.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "domain/result.h"

namespace docvault {

enum class EntityType { issuer, investor, deal, token, compliance };

inline constexpr std::array<EntityType, 5> kEntityTypes = {
    EntityType::issuer, EntityType::investor, EntityType::deal, EntityType::token,
    EntityType::compliance};

std::string_view to_string(EntityType type);
std::optional<EntityType> parse_entity_type(std::string_view text);

struct EntityRef {
  std::string id;
  EntityType type;
  bool operator==(const EntityRef&) const = default;
};

inline constexpr std::size_t kMaxEntityIdLength = 255;

// Checks an entity id from untrusted input: 1..255 bytes of valid UTF-8 without
// control characters. `field` names it in the error.
std::optional<FieldError> check_entity_id(std::string_view id, std::string_view field = "entity_id");

// Both parts of an entity reference from untrusted input.
Validated<EntityRef> parse_entity_ref(std::string_view id, std::string_view type,
                                      std::string_view id_field = "entity_id",
                                      std::string_view type_field = "entity_type");

// True when `text` is valid UTF-8 and contains no control characters (C0, DEL).
bool is_printable_utf8(std::string_view text);

}  // namespace docvault
