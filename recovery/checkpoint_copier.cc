#include "recovery/checkpoint_copier.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace cellindex {

CheckpointCopier::CheckpointCopier(std::shared_ptr<StoreBackedFs> fs,
                                   std::shared_ptr<rocksdb::RateLimiter> limiter,
                                   std::function<bool(absl::Duration)> wait_quiet)
    : fs_(std::move(fs)), limiter_(std::move(limiter)), wait_quiet_(std::move(wait_quiet)) {}

CheckpointCopier::~CheckpointCopier() { Stop(); }

void CheckpointCopier::Start(Cell* cell) {
  thread_ = std::thread([this, cell] { Run(cell); });
}

void CheckpointCopier::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool CheckpointCopier::Pace(size_t bytes) {
  if (stop_.load()) return false;
  if (limiter_ == nullptr) return true;
  // A request may not exceed one refill period's bytes.
  const size_t burst = static_cast<size_t>(std::max<int64_t>(1, limiter_->GetSingleBurstBytes()));
  while (bytes > 0 && !stop_.load()) {
    const size_t n = std::min(bytes, burst);
    limiter_->Request(static_cast<int64_t>(n), rocksdb::Env::IO_LOW, nullptr,
                      rocksdb::RateLimiter::OpType::kWrite);
    bytes -= n;
  }
  return !stop_.load();
}

void CheckpointCopier::Run(Cell* cell) {
  // Bounded waits, so that a Stop is seen between them.
  while (wait_quiet_ && !stop_.load() && !wait_quiet_(absl::Milliseconds(50))) {
  }
  for (const CheckpointFile& f : fs_->Remaining()) {
    if (stop_.load()) return;
    absl::Status s = fs_->Land(f, [this](absl::string_view chunk) { return Pace(chunk.size()); });
    if (absl::IsCancelled(s) && stop_.load()) return;
    if (!s.ok()) {
      {
        absl::MutexLock lock(&mu_);
        error_ = std::string(s.message());
      }
      // Damage: the checkpoint cannot be trusted; the cell is restored.
      if (absl::IsDataLoss(s)) cell->ReportDamage(s);
      return;
    }
    ++files_landed_;
    bytes_landed_ += f.digest.size;
  }
}

void CheckpointCopier::AddStats(CellStats* stats) const {
  for (const CheckpointFile& f : fs_->Remaining()) {
    ++stats->store_files;
    stats->store_bytes += f.digest.size;
  }
  stats->files_landed = files_landed_.load();
  stats->bytes_landed = bytes_landed_.load();
  absl::MutexLock lock(&mu_);
  stats->copy_error = error_;
}

}  // namespace cellindex
