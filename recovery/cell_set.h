// The cells of an index and their life cycle. Each cell is queued, recovered
// (RecoverCell), serves, is validated in the background, and may be taken
// out of service (a host loss, damage found while serving, a failed journal
// sync, a failed validation) to be recovered again, or retired for good when
// it is replaced by the cells a split or merge made of it (Replace). Cells
// are named by their ids (CellId), which are never reused. One recovery per
// cell at a time, by construction: a recovery owns its cell from the moment
// it is claimed until it ends, and whoever meets a cell already owned leaves
// it to that recovery.
#ifndef CELLINDEX_RECOVERY_CELL_SET_H_
#define CELLINDEX_RECOVERY_CELL_SET_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
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
  // Where cell `id` is now: who it is, its local directory, the map's epoch.
  struct Place {
    CellIdentity identity;
    std::string db_dir;
    uint64_t epoch = 0;
    uint64_t owner_epoch = 0;  // the journal's (CellRecoveryOptions::owner_epoch)
  };
  struct Deps {
    const Options* options = nullptr;
    const CellResources* resources = nullptr;
    DurableStore* store = nullptr;
    // Called under no lock of the set's; may take the caller's.
    std::function<Place(CellId id)> place;
    // Optional (tests): called at each RecoveryEvent; may block.
    std::function<void(CellId cell, RecoveryEvent event)> on_event;
    // Optional: called after a recovery has ended and the cell serves (or
    // has failed), under no lock of the set's.
    std::function<void()> on_settled;
    // A member of a cluster of host processes: no cell is served until it
    // is adopted (Adopt); the others answer Unavailable, not served here.
    bool adopt_only = false;
  };

  // The cells `ids`, none recovering yet. `open_start` is when the index
  // began to open (time to first and to full availability count from it).
  CellSet(const std::vector<CellId>& ids, Deps deps, absl::Time open_start);
  // Stop(), then closes every cell.
  ~CellSet();
  CellSet(const CellSet&) = delete;
  CellSet& operator=(const CellSet&) = delete;

  // Queues the first recovery of every cell, most urgent first;
  // `force_restore`: from the store, whatever a host directory holds.
  void RecoverAll(bool force_restore = false);
  // With Deps::adopt_only: starts serving cell `id`, restored from the
  // store (its checkpoint and journal: the state of another process that
  // owned it before). Nothing when it is adopted already. NotFound for a
  // cell the set does not know or has retired.
  absl::Status Adopt(CellId id);
  // With Deps::adopt_only: stops serving adopted cell `id` (another process
  // takes it next): waits for a recovery under way, then closes it, without
  // a flush, once no request holds it; its journal is sealed as it closes.
  // Nothing when it is not adopted.
  void Release(CellId id);
  // With Deps::adopt_only, when another process split or merged cells (the
  // map changed elsewhere): the cells `added` become known, away (not
  // served here until adopted); the cells `removed` are released if served
  // here, and retired. Ids known already (added) or unknown (removed) are
  // passed by.
  void FollowMap(const std::vector<CellId>& added, const std::vector<CellId>& removed);
  // Blocks until no cell is waiting for or running recovery.
  void WaitForRecovery();
  // Stops validating (a running check finishes), lets every recovery queued
  // or running finish (a cell found damaged is restored before the index
  // closes), then drops whatever is scheduled later.
  void Stop();
  // Closes every cell; without a memtable flush when `flush` is false.
  void CloseAll(bool flush);

  // The serving cell `id`, or Unavailable naming its phase, or its failure.
  // Unavailable too for a cell retired by a split or merge (the caller's
  // map is stale: it retries on the new one) or one the set does not know.
  // A cell held by a move or replacement is waited for (up to its hold
  // timeout) unless `wait_if_held` is false (background work, which must not
  // stall on one cell).
  absl::StatusOr<std::shared_ptr<Cell>> Serving(CellId id, bool wait_if_held = true) const;
  // The cells not retired, in id order.
  std::vector<CellId> Ids() const;
  // Whether cell `id` was retired (Replace).
  bool Retired(CellId id) const;

  // Replaces the serving cells `parents` by the new cells `children` (a
  // split: one parent, two children; a merge: the reverse). The caller
  // has checkpointed the parents (a child restored before it has
  // checkpoints of its own starts from the parent's). Holds the
  // parents' requests (they wait, up to `hold_timeout`), closes the parents
  // with a flush once no request holds them, and calls `commit` with each
  // parent's last applied seq: it makes the children's local states and
  // switches the map (Deps::place must name the children from then on).
  // The children are then recovered (from their local states), and the
  // parents retired: their held requests fail with Unavailable and retry
  // on the new map. Returns how long the parents' requests were held. When
  // `commit` fails the parents are reopened and serve again; when a child
  // fails to open, its status (the parents are retired anyway: the map
  // names the children, whose recovery goes on as for any failed cell).
  // How long a replacement held the parents' requests, in its parts.
  struct ReplaceTimes {
    absl::Duration held;     // the whole hold
    absl::Duration closing;  // waiting for requests in flight, closing the parents
    absl::Duration commit;   // in `commit`
    absl::Duration opening;  // the children's recovery (from their local states)
  };
  absl::StatusOr<ReplaceTimes> Replace(
      const std::vector<CellId>& parents, const std::vector<CellId>& children,
      const std::function<absl::Status(const std::vector<uint64_t>& parent_seqs)>& commit,
      absl::Duration hold_timeout);

  // Takes each of `cells` (ids) for a recovery the caller schedules next
  // (ScheduleRecovery): waits for any recovery of it under way, owns it,
  // takes it out of service and closes it once no request holds it. For a
  // host loss, which deletes the cells' directories afterwards.
  void TakeOver(const std::vector<CellId>& cells);
  // Hands the recoveries of `cells` (owned by the caller) to the scheduler.
  // `force_restore`: ignore local state; `below_checkpoint`: only
  // checkpoints older than this applied_seq; `after_damage`: damage was
  // found, so the restore copies and verifies every file before it opens
  // (never in place).
  void ScheduleRecovery(const std::vector<CellId>& cells, bool force_restore,
                        uint64_t below_checkpoint, bool after_damage);

  // Moves serving cell `id` gracefully (a drain, not a loss): checkpoints it
  // while it serves, then holds its requests (they wait, up to
  // `hold_timeout`, instead of failing), closes it without a flush once no
  // request holds it, calls `switch_place` (the caller moves the cell in its
  // map, so Deps::place names the target), and restores it there from that
  // checkpoint and the journal tail; the held requests go on once it
  // serves. Returns how long the cell was out of service. When the cell
  // does not serve at the end, its status (the hold is released either way).
  // When `switch_place` fails the cell is reopened where it was.
  // `switch_lock`, if given, is held from before the hold until the restore
  // is scheduled (not during the checkpoint, nor while the restore runs).
  absl::StatusOr<absl::Duration> Move(CellId id, const std::function<absl::Status()>& switch_place,
                                      absl::Duration hold_timeout,
                                      absl::Mutex* switch_lock = nullptr);
  // Whether cell `id` serves and has passed (or skipped) validation; else
  // what it is doing, in `*condition`.
  bool Healthy(CellId id, std::string* condition) const;
  // When cell `id` last began to serve (InfinitePast: never).
  absl::Time ServingSince(CellId id) const;

  // Checkpoints cell `id`. A state that has not passed validation is never
  // checkpointed: with `wait_for_validation` the pending validation runs
  // first (FailedPrecondition when it fails); without it, such a cell is
  // FailedPrecondition at once. DataLoss (a local file that no longer
  // matches what RocksDB wrote) takes the cell out and restores it.
  absl::StatusOr<CheckpointReport> Checkpoint(CellId id, bool wait_for_validation);
  // When cell `id` was last checkpointed (or began its recovery).
  absl::Time LastCheckpointTime(CellId id) const;

  // What the set knows of cell `id` (the cell's own stats when it serves).
  CellStats Stats(CellId id) const;
  // Since the index began to open: the first and every cell serving (zero
  // until it happens).
  absl::Duration time_to_first_cell() const;
  absl::Duration time_to_all_cells() const;

 private:
  struct Slot;
  bool ClaimRecovery(CellId id, const Cell* expected);
  void RecoverSlot(CellId id, bool force_restore, uint64_t below_checkpoint, bool after_damage);
  void ValidateSlot(CellId id, const std::shared_ptr<Cell>& cell);
  absl::Status EnsureValidated(CellId id, const std::shared_ptr<Cell>& cell);
  void OnCellFailed(CellId id, const Cell* cell, const absl::Status& why);
  int64_t PriorityOf(CellId id) const;
  void Event(CellId id, RecoveryEvent event) const;

  const Deps deps_;
  const absl::Time open_start_;
  // The slot of cell `id`, which must exist (slots are never removed).
  Slot& SlotOf(CellId id) const;
  Slot* FindSlot(CellId id) const;
  // Adds slots for `ids`, each owned by a recovery to come (and held, so
  // that requests wait for it, when `held`).
  void AddSlots(const std::vector<CellId>& ids, bool held, absl::Duration hold_timeout);
  // Marks the (owned, closed) cells `ids` retired: requests waiting on them
  // go on, and fail with Unavailable.
  void Retire(const std::vector<CellId>& ids);

  mutable absl::Mutex slots_mu_;
  absl::flat_hash_map<CellId, std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(slots_mu_);
  // Cells not retired.
  std::atomic<size_t> live_count_{0};
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
