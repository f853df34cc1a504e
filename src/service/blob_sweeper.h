// BlobSweeper: finds (and, when asked, deletes) blobs no document row points at.
//
// Such blobs are left by uploads whose transaction failed after the content
// was written (DocumentService::create writes the blob first, so that a row
// never points at missing content). A blob is an orphan when:
//   - it is older than the grace period (by its modification time, which every
//     put refreshes): an upload in progress has written its blob but not yet
//     committed its row, and must not lose it; and
//   - no document row, of any status, references its SHA-256 (asked of the
//     store in batches, per page of the listing).
// Before deleting, the sweeper looks at the blob once more and skips it if it
// was written again meanwhile. What remains is a window of milliseconds
// between that look and the delete, in which a re-upload of the same bytes
// could write the blob and then commit its row; the grace period makes it
// require an orphan and a re-upload of identical content at that moment.
//
// A dry run (the default) only reports. Works on any BlobStore.
// Thread-safety: a sweep runs on the caller's thread; run one at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "blob/blob_store.h"
#include "domain/clock.h"
#include "store/store.h"

namespace docvault::service {

struct SweepOptions {
  std::chrono::seconds grace = std::chrono::hours(1);
  bool apply = false;  // false: report only
  // Called for each orphan found (deleted or not), for a report line.
  std::function<void(const blob::BlobStat& orphan, bool deleted)> on_orphan;
};

struct SweepReport {
  std::size_t scanned = 0;     // blobs listed
  std::size_t recent = 0;      // younger than the grace period: left alone
  std::size_t referenced = 0;  // pointed at by a document row
  std::size_t orphans = 0;     // neither
  std::size_t deleted = 0;     // orphans removed (apply only)
  std::uint64_t orphan_bytes = 0;
};

class BlobSweeper {
 public:
  BlobSweeper(store::Store& store, blob::BlobStore& blobs, const Clock& clock);

  SweepReport sweep(const SweepOptions& options);

 private:
  void settle(std::vector<blob::BlobStat>& candidates, const SweepOptions& options, Timestamp cutoff,
              SweepReport& report);

  store::Store& store_;
  blob::BlobStore& blobs_;
  const Clock& clock_;
};

}  // namespace docvault::service
