// Versioned schema migrations, compiled into the binary from the .sql files in
// store/<backend>/migrations/ (cmake/EmbedFiles.cmake). A file is named
// NNNN_description.sql; NNNN is its version. Each file is complete and
// idempotent on its own, and records itself in schema_migrations, so an
// operator can also apply it by hand with psql (../../migrations links here).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace docvault::store {

struct Migration {
  int version;
  std::string name;
  std::string_view sql;
};

// (file name, text) pairs as embedded, in version order.
using EmbeddedFiles = std::vector<std::pair<std::string_view, std::string_view>>;

// Parses versions from file names; throws std::logic_error on a malformed or
// duplicate name (a build defect, caught by the unit tests).
std::vector<Migration> parse_migrations(const EmbeddedFiles& files);

}  // namespace docvault::store
