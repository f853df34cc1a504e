#include "aws/messaging.h"

namespace docvault::aws {

std::optional<std::size_t> batch_entry_index(std::string_view id, std::size_t count) {
  if (id.empty() || id.size() > 2) return std::nullopt;
  std::size_t index = 0;
  for (char c : id) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<std::size_t>(c - '0');
  }
  return index < count ? std::optional(index) : std::nullopt;
}

void report_missing_entries(const std::vector<bool>& seen, std::vector<BatchFailure>& failed) {
  for (std::size_t index = 0; index < seen.size(); ++index) {
    if (!seen[index]) {
      failed.push_back({index, "MissingFromResponse",
                        "the service reported this entry neither successful nor failed", false});
    }
  }
}

}  // namespace docvault::aws
