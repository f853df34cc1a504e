#include "store/migrations.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "runtime/parse.h"

namespace docvault::store {

std::vector<Migration> parse_migrations(const EmbeddedFiles& files) {
  std::vector<Migration> out;
  for (const auto& [file, sql] : files) {
    std::string name(file);
    if (name.size() < 10 || name.substr(name.size() - 4) != ".sql" || name[4] != '_' ||
        !std::all_of(name.begin(), name.begin() + 4, [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      throw std::logic_error("migration file name must look like NNNN_name.sql: " + name);
    }
    const int version = runtime::parse_integer<int>(std::string_view(name).substr(0, 4)).value();
    name.resize(name.size() - 4);
    out.push_back(Migration{version, name, sql});
  }
  std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      throw std::logic_error("duplicate migration version " + std::to_string(out[i].version));
    }
  }
  return out;
}

}  // namespace docvault::store
