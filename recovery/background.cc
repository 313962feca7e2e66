#include "recovery/background.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace cellindex {

BackgroundWork::BackgroundWork(const Options& options, CellSet* cells)
    : options_(options), cells_(cells) {
  if (options_.durability == Durability::kBuffered) {
    sync_thread_ = std::thread([this] { SyncLoop(); });
  }
  if (options_.background_checkpoints) {
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
  }
}

BackgroundWork::~BackgroundWork() { Stop(); }

void BackgroundWork::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sync_thread_.joinable()) sync_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

void BackgroundWork::SyncLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.buffered_sync_interval);
    if (stopping_) break;
    mu_.Unlock();
    for (CellId i : cells_->Ids()) {
      absl::StatusOr<std::shared_ptr<Cell>> cell = cells_->Serving(i, /*wait_if_held=*/false);
      if (cell.ok()) (void)(*cell)->SyncJournal();  // a failure fails the cell
    }
    mu_.Lock();
  }
}

void BackgroundWork::CheckpointLoop() {
  const absl::Duration tick = std::min(absl::Seconds(1), options_.checkpoint_interval);
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), tick);
    if (stopping_) break;
    mu_.Unlock();
    for (CellId i : cells_->Ids()) {
      absl::StatusOr<std::shared_ptr<Cell>> cell = cells_->Serving(i, /*wait_if_held=*/false);
      if (!cell.ok()) continue;
      const uint64_t since = (*cell)->journal_bytes_since_checkpoint();
      if (since >= options_.checkpoint_journal_bytes ||
          (since > 0 && absl::Now() - cells_->LastCheckpointTime(i) >= options_.checkpoint_interval)) {
        // Errors are kept in the set; a cell still validating is skipped.
        (void)cells_->Checkpoint(i, /*wait_for_validation=*/false);
      }
    }
    ++checkpoint_loop_passes_;
    mu_.Lock();
  }
}

}  // namespace cellindex
