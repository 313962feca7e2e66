// The background copy of an in-place restore: brings the checkpoint files a
// cell still reads from the durable store (recovery/store/store_backed_fs.h)
// to its host, one at a time, at a bounded rate (Options::
// restore_copy_bytes_per_sec, for all the cells of an index), each checked against its manifest digest as
// it lands. A mismatch is a damaged checkpoint: the cell is failed with
// DataLoss, and the index restores it (in copy mode, which verifies every
// file first, falling back to an older checkpoint). Other errors (a full
// disk) stop the copy and are reported in the cell's stats; the files stay
// readable from the store, and the copy resumes at the cell's next open.
#ifndef CELLINDEX_RECOVERY_CHECKPOINT_COPIER_H_
#define CELLINDEX_RECOVERY_CHECKPOINT_COPIER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "index/cell/cell.h"
#include "recovery/store/store_backed_fs.h"
#include "rocksdb/rate_limiter.h"

namespace cellindex {

class CheckpointCopier : public CellCompanion {
 public:
  // `limiter` (may be shared, or null: unpaced) paces the copy; it starts
  // once `wait_quiet` (may be empty: at once) says no recovery is running.
  CheckpointCopier(std::shared_ptr<StoreBackedFs> fs,
                   std::shared_ptr<rocksdb::RateLimiter> limiter,
                   std::function<bool(absl::Duration)> wait_quiet = nullptr);
  ~CheckpointCopier() override;

  void Start(Cell* cell) override;
  // Ends the copy between chunks (the file being copied is dropped, and
  // copied again at the next open).
  void Stop() override;
  void AddStats(CellStats* stats) const override;

 private:
  void Run(Cell* cell);
  // Paces one chunk; false once stopped.
  bool Pace(size_t bytes);

  const std::shared_ptr<StoreBackedFs> fs_;
  const std::shared_ptr<rocksdb::RateLimiter> limiter_;
  const std::function<bool(absl::Duration)> wait_quiet_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> files_landed_{0}, bytes_landed_{0};
  mutable absl::Mutex mu_;
  std::string error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_CHECKPOINT_COPIER_H_
