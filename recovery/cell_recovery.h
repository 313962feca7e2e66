// Bringing one cell back: from its local state when the host kept it, or from
// its newest valid checkpoint in the durable store when the host lost it,
// falling back to older checkpoints (with a longer journal tail) when one is
// damaged. Never serves a state it could not verify: with nothing valid left
// the result is DataLoss with every reason. Only damage (DataLoss) falls
// back; any other error (a full disk, an I/O error) fails the cell with its
// own code and leaves what it found in place.
#ifndef CELLINDEX_RECOVERY_CELL_RECOVERY_H_
#define CELLINDEX_RECOVERY_CELL_RECOVERY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/cell/cell.h"
#include "index/base/stats.h"
#include "recovery/store/durable_store.h"
#include "rocksdb/rate_limiter.h"

namespace cellindex {

struct CellRecoveryOptions {
  // Files fetched at once while restoring one cell.
  int fetch_parallelism = 4;
  // Options::restore_mode (the cell set asks for kCopy after damage).
  RestoreMode restore_mode = RestoreMode::kCopy;
  // Paces the background copy of an in-place restore (shared by all the
  // cells of an index); null: unpaced.
  std::shared_ptr<rocksdb::RateLimiter> copy_limiter;
  // Waits, at most the given time, until no cell is waiting for or in
  // recovery (true then): the background copies start only once every
  // cell serves, so as not to slow the cells still coming back. Empty: no
  // wait. It must stay callable until the cell closes.
  std::function<bool(absl::Duration)> wait_for_recoveries;
  // Run the deep validation (Cell::Validate) before the cell serves.
  bool paranoid = false;
  // Ignore local state and restore only from checkpoints older than this
  // applied_seq (after a checkpoint failed validation).
  bool force_restore = false;
  uint64_t below_checkpoint = UINT64_MAX;
  // Called as each phase starts: kFetch, kVerify, kOpen, kReplay,
  // kValidate.
  std::function<void(CellPhase phase)> on_phase;
  // Passed to the cell (CellOpenHooks::on_failure).
  std::function<void(const Cell* cell, const absl::Status& why)> on_failure;
  // For a checkpoint taken before the cell serves, when its journal has
  // declared records missing that no checkpoint covers yet.
  uint64_t epoch = 0;
  int checkpoints_to_keep = 2;
  // The owner epoch the cell's journal is opened with (CellOpenHooks).
  uint64_t owner_epoch = 0;
};

using CellRecoveryReport = RecoveryReport;

absl::StatusOr<std::unique_ptr<Cell>> RecoverCell(const CellIdentity& identity,
                                                  const Cell::Paths& paths,
                                                  const Options& options,
                                                  const CellResources& resources,
                                                  DurableStore& store,
                                                  const CellRecoveryOptions& recovery,
                                                  CellRecoveryReport* report);

// Readies the store for `child`, a split's child whose state holds its
// parent's records up to `parent_seq`: whatever an earlier attempt that
// never committed left under its id goes (the id was never in a saved map),
// and its journal starts at parent_seq + 1 with its head, so that its first
// open can prove where the journal ends.
absl::Status StartChildJournal(const CellIdentity& child, uint64_t parent_seq,
                               const Options& options, const CellResources& resources,
                               DurableStore& store);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_CELL_RECOVERY_H_
