// Where everything lives: every object of the durable store, and every
// directory of a host, is named here.
//
// The durable store (names relative to its root):
//
//     CELLMAP                                  the cell map (index/model/cell_map.h)
//     LOCK                                     held by the one Index using the store
//     cells/NNNNN/JOURNAL-HEAD                 names the newest journal segment
//     cells/NNNNN/journal/<first-seq>.log      journal segments (recovery/journal/)
//     cells/NNNNN/checkpoints/<seq>.manifest   one per checkpoint, <seq> = its
//                                              applied_seq as 20 digits
//                                              (recovery/store/checkpoint_manifest.h)
//     cells/NNNNN/files/<session>-<name>       SST files (immutable, shared by
//                                              checkpoints: copied once),
//                                              named by the RocksDB session
//                                              that wrote them and their
//                                              number: unique even across
//                                              restores of older states
//     cells/NNNNN/files/<seq>-<session>-<name> the checkpoint's MANIFEST,
//                                              OPTIONS and CURRENT files
//     cells/NNNNN/damaged/<seq>.manifest       manifests that did not decode,
//                                              moved aside (kept, never read)
//     cells/NNNNN/late/<seq>-<epoch>.manifest  a late owner's manifest (see
//                                              owner_fence.h), moved aside when
//                                              the cell's own state reaches its
//                                              seq; kept with its files, never
//                                              read
//     cells/NNNNN/fences/<epoch>.fence         owner fences: where owner epoch
//                                              <epoch> (20 digits) took the cell
//                                              (recovery/store/owner_fence.h);
//                                              written once, never deleted
//
// An object a kept manifest names is never overwritten.
//
// A host (its directory HOST):
//
//     HOST/cells/NNNNN/                        a cell's RocksDB
//     HOST/cells/NNNNN/CELLINDEX-REMOTE        after an in-place restore, the
//                                              table files still read from
//                                              the store (recovery/store/
//                                              store_backed_fs.h); removed
//                                              once all are copied
//     HOST/cells/NNNNN/<name>.landing          a store file being copied in
//     HOST/cells/NNNNN.restore/                a restore being fetched
//     HOST/cells/NNNNN.parent-K/               a split's or merge's parent being
//                                              restored for a child
//     HOST/cells/NNNNN.split-staging/          a split's child being made
//     HOST/cells/NNNNN.merge-staging/          a merge's child being made
//     HOST/cells/NNNNN.damaged-<micros>/       state found damaged, moved aside
//                                              (kept for an operator, never read)
#ifndef CELLINDEX_RECOVERY_STORE_LAYOUT_H_
#define CELLINDEX_RECOVERY_STORE_LAYOUT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "index/model/cell_map.h"

namespace cellindex {

inline constexpr char kCellMapFile[] = "CELLMAP";
inline constexpr char kLockFile[] = "LOCK";
// Written by the first cluster member to open the store (Options::
// cluster_member): from then on a single-process open is refused unless it
// says that it leaves the cluster (Options::leave_cluster), which removes it.
inline constexpr char kClusterMarkFile[] = "CLUSTER";

// Store names.
std::string CellStorePrefix(CellId id);                       // "cells/NNNNN/"
std::string CheckpointManifestName(CellId id, uint64_t applied_seq);
std::string CheckpointManifestPrefix(CellId id);              // ".../checkpoints/"
std::string CheckpointFilePrefix(CellId id);                  // ".../files/"
std::string DamagedManifestName(CellId id, uint64_t applied_seq);
std::string LateManifestPrefix(CellId id);                    // ".../late/"
std::string LateManifestName(CellId id, uint64_t applied_seq, uint64_t owner_epoch);
std::string OwnerFencePrefix(CellId id);                       // ".../fences/"
std::string OwnerFenceName(CellId id, uint64_t owner_epoch);
// The owner epoch a fence name stands for; false if not a fence name.
bool ParseOwnerFenceName(absl::string_view name, uint64_t* owner_epoch);
std::string JournalDirName(CellId id);                        // ".../journal"
std::string JournalHeadName(CellId id);                       // ".../JOURNAL-HEAD"
// The applied_seq a manifest name stands for; false if not a manifest name.
bool ParseCheckpointManifestName(absl::string_view name, uint64_t* applied_seq);

// Host paths.
std::string CellDbDir(const std::string& host_dir, CellId id);
std::string CellRestoreDir(const std::string& cell_db_dir);
// Where a split's or merge's child without a checkpoint restores its
// parent number `k` (0, or 0 and 1) before making itself from it
// (recovery/cell_recovery.cc).
std::string CellParentScratchDir(const std::string& cell_db_dir, size_t k);
std::string CellDamagedDir(const std::string& cell_db_dir, int64_t unix_micros);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_STORE_LAYOUT_H_
