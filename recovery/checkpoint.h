// Taking a cell's checkpoint into the durable store, and finding them again.
//
// A checkpoint is incremental: SST files are immutable and named in the store
// by the RocksDB session that wrote them and their number (unique, even when
// a cell restored from an older checkpoint writes files with numbers a newer
// history used), so one already in the store is not copied again. The
// manifest (checkpoint_manifest.h) is published last and atomically: a crash
// at any point leaves the previous checkpoints intact, and at worst some
// unreferenced files that the next checkpoint removes.
#ifndef CELLINDEX_RECOVERY_CHECKPOINT_H_
#define CELLINDEX_RECOVERY_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/cell/cell.h"
#include "index/base/stats.h"
#include "recovery/store/checkpoint_manifest.h"
#include "recovery/store/durable_store.h"
#include "recovery/store/owner_fence.h"

namespace cellindex {

// Checkpoints `cell` into `store`, keeps the newest `keep` checkpoints that
// verify (at least 2; a manifest that does not decode, or whose files are
// missing or of the wrong size, does not count), deletes files no remaining
// manifest references, and trims the journal through the oldest kept
// checkpoint. A manifest that does not decode is moved under damaged/; one
// that decodes but whose files are incomplete stays, with its files. Each
// SST file uploaded is checked against the checksum RocksDB recorded when it
// wrote it: DataLoss when the local file has changed since. Not to be
// called concurrently for one cell. `still_owner`, when given, is asked
// again right before the manifest is published and before anything is
// deleted (a host process whose lease may have expired publishes and
// deletes nothing: Unavailable). The manifest carries the cell's owner
// epoch; one that a later owner's fence makes a late owner's
// (CheckOwnerFence) is not valid: it is kept, with its files, and never
// counted, and nothing is published while a later owner's fence exists.
absl::StatusOr<CheckpointReport> TakeCheckpoint(
    Cell& cell, DurableStore& store, uint64_t epoch, int keep,
    const std::function<bool()>& still_owner = nullptr);

// applied_seqs of the cell's checkpoints in the store, newest first.
absl::StatusOr<std::vector<uint64_t>> ListCheckpoints(DurableStore& store, CellId id);
// DataLoss when the manifest is damaged, missing, or of another cell or
// index (`index_id` empty: not checked).
absl::StatusOr<CheckpointManifest> LoadCheckpoint(DurableStore& store, const std::string& index_id,
                                                  CellId id, uint64_t applied_seq);
// DataLoss unless every file of `m` is in the store with its size.
absl::Status CheckCheckpointFiles(DurableStore& store, const CheckpointManifest& m);

// How many of the cell's checkpoints a restore could use: they decode, are
// no late owner's (CheckOwnerFence) and have all their files.
absl::StatusOr<size_t> CountRestorableCheckpoints(DurableStore& store,
                                                  const std::string& index_id, CellId id);

// The owner fences of cell `id` (recovery/store/owner_fence.h), by owner
// epoch; one that does not decode, or names another cell or index, is kept
// as its DataLoss.
// `journal_start`, when given, stands in for a fence that does not read:
// where the epoch's owner took the journal over, as its segments say
// (Journal::EpochStart; an error keeps the fence's DataLoss).
using OwnerFences = std::map<uint64_t, absl::StatusOr<OwnerFence>>;
absl::StatusOr<OwnerFences> LoadOwnerFences(
    DurableStore& store, const std::string& index_id, CellId id,
    const std::function<absl::StatusOr<uint64_t>(uint64_t epoch)>& journal_start = nullptr);
// DataLoss when `m` is a late owner's checkpoint: its applied_seq is past
// the fence of the first owner epoch after its own, so it may hold writes
// that owner never saw (and nobody acknowledged), at seqs that owner wrote
// others under. Also DataLoss when that fence is damaged: nothing proves
// the manifest good.
absl::Status CheckOwnerFence(const OwnerFences& fences, const CheckpointManifest& m);
// Writes the fence of `owner_epoch` (> 0): the owners before it end at
// `fence_seq`. Once per epoch: an existing fence of it is kept (the first
// open under an epoch is where it took the cell), damaged or not.
absl::Status PublishOwnerFence(DurableStore& store, const std::string& index_id, CellId id,
                               uint64_t owner_epoch, uint64_t fence_seq);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_CHECKPOINT_H_
