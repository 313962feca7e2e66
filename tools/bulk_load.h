// Loading many synthetic objects fast: threads claim chunks of object
// numbers and write one batch per cell, so each group commit carries many
// objects.
#ifndef CELLINDEX_TOOLS_BULK_LOAD_H_
#define CELLINDEX_TOOLS_BULK_LOAD_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "index/index.h"
#include "tools/workload.h"

namespace cellindex::tools {

// Puts objects first .. first + count - 1 of `workload` into `index` from
// `threads` threads (0: one per hardware thread), adding each object written
// to `*done` as it goes (for a progress display). Stops at the first error.
//
// A batch refused with Unavailable (its cell is moving, splitting or being
// restored) is written again, as a storage service would retry it: after
// 10 ms, doubling to 1 s, for at most kLoadRetryFor in all; each retry is
// counted in `*retries` (when given), so that a load that needed them says
// so. Past that, the Unavailable is the load's error.
inline constexpr absl::Duration kLoadRetryFor = absl::Seconds(60);
absl::Status BulkLoad(Index& index, const Workload& workload, uint64_t first, uint64_t count,
                      int threads, std::atomic<uint64_t>* done,
                      std::atomic<uint64_t>* retries = nullptr);

// BulkLoad on a thread of its own while this one draws a "loading"
// progress line (tools/progress.h) until it ends.
absl::Status BulkLoadWithProgress(Index& index, const Workload& workload, uint64_t first,
                                  uint64_t count, int threads,
                                  std::atomic<uint64_t>* retries = nullptr);

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_BULK_LOAD_H_
