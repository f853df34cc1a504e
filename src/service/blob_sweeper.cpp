#include "service/blob_sweeper.h"

#include <unordered_set>
#include <vector>

namespace docvault::service {
namespace {

// Addresses asked of the store at once.
constexpr std::size_t kBatch = 500;

}  // namespace

BlobSweeper::BlobSweeper(store::Store& store, blob::BlobStore& blobs, const Clock& clock)
    : store_(store), blobs_(blobs), clock_(clock) {}

SweepReport BlobSweeper::sweep(const SweepOptions& options) {
  SweepReport report;
  const Timestamp cutoff = clock_.now() - options.grace;
  std::vector<blob::BlobStat> candidates;
  blobs_.list([&](const blob::BlobStat& blob) {
    ++report.scanned;
    if (blob.modified >= cutoff) {
      ++report.recent;
      return;
    }
    candidates.push_back(blob);
    if (candidates.size() >= kBatch) settle(candidates, options, cutoff, report);
  });
  settle(candidates, options, cutoff, report);
  return report;
}

void BlobSweeper::settle(std::vector<blob::BlobStat>& candidates, const SweepOptions& options, Timestamp cutoff,
                         SweepReport& report) {
  if (candidates.empty()) return;
  std::vector<std::string> addresses;
  addresses.reserve(candidates.size());
  for (const auto& blob : candidates) addresses.push_back(blob.sha256);
  auto referenced_list = store::read(store_, [&](store::Transaction& tx) { return tx.referenced_blobs(addresses); });
  std::unordered_set<std::string> referenced(referenced_list.begin(), referenced_list.end());
  for (const auto& blob : candidates) {
    if (referenced.contains(blob.sha256)) {
      ++report.referenced;
      continue;
    }
    bool deleted = false;
    if (options.apply) {
      // Written again since it was listed (an upload of the same bytes in
      // progress, its row not committed yet)? Then it is no orphan.
      auto now = blobs_.stat(blob.sha256);
      if (!now) continue;  // gone already
      if (now->modified >= cutoff) {
        ++report.recent;
        continue;
      }
      blobs_.remove(blob.sha256);
      deleted = true;
      ++report.deleted;
    }
    ++report.orphans;
    report.orphan_bytes += blob.size;
    if (options.on_orphan) options.on_orphan(blob, deleted);
  }
  candidates.clear();
}

}  // namespace docvault::service
