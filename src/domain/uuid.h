// UUIDs in their canonical text form (36 lowercase characters).
//
// Document ids are random (version 4, from the CSPRNG). Outgoing event ids are
// name-based (version 5, SHA-1) so that the same cause always yields the same
// id: a redelivered message or a replay can never mint a new one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace docvault {

// Namespace of every name-based id docvault derives.
inline constexpr std::string_view kDocvaultUuidNamespace = "6f1d7a52-0c2e-4e43-9a51-3c8b2f6d9e10";

std::string uuid_v4();
// RFC 4122 version 5: SHA-1 of the namespace's 16 bytes followed by `name`.
std::string uuid_v5(std::string_view namespace_uuid, std::string_view name);

// The canonical lowercase form of a UUID written in 8-4-4-4-12 hex, or nothing
// if `text` is not one.
std::optional<std::string> canonical_uuid(std::string_view text);

}  // namespace docvault
