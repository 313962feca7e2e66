// The cells of an index and their life cycle. Each cell is queued, recovered
// (RecoverCell), serves, is validated in the background, and may be taken
// out of service (a host loss, damage found while serving, a failed journal
// sync, a failed validation) to be recovered again. One recovery per cell at
// a time, by construction: a recovery owns its cell from the moment it is
// claimed until it ends, and whoever meets a cell already owned leaves it
// to that recovery.
#ifndef CELLINDEX_RECOVERY_CELL_SET_H_
#define CELLINDEX_RECOVERY_CELL_SET_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/base/stats.h"
#include "index/cell/cell.h"
#include "rocksdb/rate_limiter.h"
#include "index/cell/cell_resources.h"
#include "index/model/options.h"
#include "recovery/recovery_scheduler.h"
#include "recovery/store/durable_store.h"

namespace cellindex {

// The moments of a cell's recovery a test can hook into (and hold).
enum class RecoveryEvent {
  kStart,     // a recovery of the cell begins
  kFetch,     // the phases, as each starts
  kVerify,
  kOpen,
  kReplay,
  kValidate,  // the deep validation, inline (paranoid) or in the background
  kDone,      // the recovery has ended (serving or failed), before it lets go
};
const char* RecoveryEventName(RecoveryEvent event);

class CellSet {
 public:
  // Where cell `i` is now: who it is, its local directory, the map's epoch.
  struct Place {
    CellIdentity identity;
    std::string db_dir;
    uint64_t epoch = 0;
  };
  struct Deps {
    const Options* options = nullptr;
    const CellResources* resources = nullptr;
    DurableStore* store = nullptr;
    // Called under no lock of the set's; may take the caller's.
    std::function<Place(size_t i)> place;
    // Optional (tests): called at each RecoveryEvent; may block.
    std::function<void(CellId cell, RecoveryEvent event)> on_event;
    // Optional: called after a recovery has ended and the cell serves (or
    // has failed), under no lock of the set's.
    std::function<void()> on_settled;
  };

  // `n` cells, none recovering yet. `open_start` is when the index began to
  // open (time to first and to full availability count from it).
  CellSet(size_t n, Deps deps, absl::Time open_start);
  // Stop(), then closes every cell.
  ~CellSet();
  CellSet(const CellSet&) = delete;
  CellSet& operator=(const CellSet&) = delete;

  // Queues the first recovery of every cell, most urgent first.
  void RecoverAll();
  // Blocks until no cell is waiting for or running recovery.
  void WaitForRecovery();
  // Stops validating (a running check finishes), lets every recovery queued
  // or running finish (a cell found damaged is restored before the index
  // closes), then drops whatever is scheduled later.
  void Stop();
  // Closes every cell; without a memtable flush when `flush` is false.
  void CloseAll(bool flush);

  // The serving cell `i`, or Unavailable naming its phase, or its failure.
  absl::StatusOr<std::shared_ptr<Cell>> Serving(size_t i) const;
  size_t size() const { return slots_.size(); }

  // Takes each of `cells` for a recovery the caller schedules next
  // (ScheduleRecovery): waits for any recovery of it under way, owns it,
  // takes it out of service and closes it once no request holds it. For a
  // host loss, which deletes the cells' directories afterwards.
  void TakeOver(const std::vector<size_t>& cells);
  // Hands the recoveries of `cells` (owned by the caller) to the scheduler.
  // `force_restore`: ignore local state; `below_checkpoint`: only
  // checkpoints older than this applied_seq; `after_damage`: damage was
  // found, so the restore copies and verifies every file before it opens
  // (never in place).
  void ScheduleRecovery(const std::vector<size_t>& cells, bool force_restore,
                        uint64_t below_checkpoint, bool after_damage);

  // Moves serving cell `i` gracefully (a drain, not a loss): checkpoints it
  // while it serves, then holds its requests (they wait, up to
  // `hold_timeout`, instead of failing), closes it without a flush once no
  // request holds it, calls `switch_place` (the caller moves the cell in its
  // map, so Deps::place names the target), and restores it there from that
  // checkpoint and the journal tail; the held requests go on once it
  // serves. Returns how long the cell was out of service. When the cell
  // does not serve at the end, its status (the hold is released either way).
  // When `switch_place` fails the cell is reopened where it was.
  absl::StatusOr<absl::Duration> Move(size_t i, const std::function<absl::Status()>& switch_place,
                                      absl::Duration hold_timeout);
  // Whether cell `i` serves and has passed (or skipped) validation; else
  // what it is doing, in `*condition`.
  bool Healthy(size_t i, std::string* condition) const;
  // When cell `i` last began to serve (InfinitePast: never).
  absl::Time ServingSince(size_t i) const;

  // Checkpoints cell `i`. A state that has not passed validation is never
  // checkpointed: with `wait_for_validation` the pending validation runs
  // first (FailedPrecondition when it fails); without it, such a cell is
  // FailedPrecondition at once. DataLoss (a local file that no longer
  // matches what RocksDB wrote) takes the cell out and restores it.
  absl::StatusOr<CheckpointReport> Checkpoint(size_t i, bool wait_for_validation);
  // When cell `i` was last checkpointed (or began its recovery).
  absl::Time LastCheckpointTime(size_t i) const;

  // What the set knows of cell `i` (the cell's own stats when it serves).
  CellStats Stats(size_t i) const;
  // Since the index began to open: the first and every cell serving (zero
  // until it happens).
  absl::Duration time_to_first_cell() const;
  absl::Duration time_to_all_cells() const;

 private:
  struct Slot;
  bool ClaimRecovery(size_t i, const Cell* expected);
  void RecoverSlot(size_t i, bool force_restore, uint64_t below_checkpoint, bool after_damage);
  void ValidateSlot(size_t i, const std::shared_ptr<Cell>& cell);
  absl::Status EnsureValidated(size_t i, const std::shared_ptr<Cell>& cell);
  void OnCellFailed(size_t i, const Cell* cell, const absl::Status& why);
  int64_t PriorityOf(CellId id) const;
  void Event(CellId id, RecoveryEvent event) const;

  const Deps deps_;
  const absl::Time open_start_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<int64_t> first_serving_us_{-1};
  std::atomic<int64_t> all_serving_us_{-1};
  std::atomic<size_t> serving_count_{0};
  std::unique_ptr<RecoveryScheduler> recovery_;
  std::unique_ptr<RecoveryScheduler> validation_;
  // Paces the background copies of every in-place restore together
  // (Options::restore_copy_bytes_per_sec); null: unpaced.
  std::shared_ptr<rocksdb::RateLimiter> copy_limiter_;
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_CELL_SET_H_
