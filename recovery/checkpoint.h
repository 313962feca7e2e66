// Taking a cell's checkpoint into the durable store, and finding them again.
//
// A checkpoint is incremental: SST files are immutable and named in the store
// by the RocksDB identity and file name, so one already in the store is not
// copied again. The manifest (checkpoint_manifest.h) is published last and
// atomically: a crash at any point leaves the previous checkpoints intact,
// and at worst some unreferenced files that the next checkpoint removes.
#ifndef CELLINDEX_RECOVERY_CHECKPOINT_H_
#define CELLINDEX_RECOVERY_CHECKPOINT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/cell.h"
#include "index/stats.h"
#include "recovery/checkpoint_manifest.h"
#include "recovery/durable_store.h"

namespace cellindex {


// Checkpoints `cell` into `store`, keeps the newest `keep` checkpoints
// (at least 2), deletes files no kept checkpoint references, and trims the
// journal through the oldest kept checkpoint. Not to be called concurrently
// for one cell.
absl::StatusOr<CheckpointReport> TakeCheckpoint(Cell& cell, DurableStore& store, uint64_t epoch,
                                                int keep);

// applied_seqs of the cell's checkpoints in the store, newest first.
absl::StatusOr<std::vector<uint64_t>> ListCheckpoints(DurableStore& store, CellId id);
// DataLoss when the manifest is damaged; NotFound when missing.
absl::StatusOr<CheckpointManifest> LoadCheckpoint(DurableStore& store, CellId id,
                                                  uint64_t applied_seq);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_CHECKPOINT_H_
