// A child's local state made from its parent's: the first half of splitting
// (or, with two parents, merging) a cell.
//
// How, and why this way. A child of a split holds a contiguous part of its
// parent's range, and its parent's files already hold every record of it.
// So the child starts as a RocksDB checkpoint of the parent (hard links: no
// byte is copied, whatever the cell's size, and the parent's files are left
// as they are), then drops what lies outside its range:
//   - records: one DeleteRange on each side of the range (two tombstones,
//     whatever the number of keys; compaction reclaims the space later);
//   - the reverse index: its keys are location name, NUL, object key, and
//     names hold no NUL, so under each name the objects sort as the records
//     do: one DeleteRange on each side of the range per name, the names
//     found by one seek each (no entry is read one by one; the cost grows
//     with the number of names, not of entries);
//   - the state key keeps the parent's applied_seq (the child's journal
//     continues from there) with the count of the records the child holds;
//   - the identity becomes the child's (index, id, range), so the state can
//     never be opened as its parent's.
// The trimmed state is flushed and synced in a staging directory beside the
// child's and renamed into place only when whole: a crash leaves no child
// directory (only the staging one, which the next split replaces), or a
// whole child.
#ifndef CELLINDEX_INDEX_CELL_CELL_SPLIT_H_
#define CELLINDEX_INDEX_CELL_CELL_SPLIT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/cell/cell_keys.h"
#include "index/cell/cell_resources.h"
#include "index/model/options.h"

namespace cellindex {

struct ChildStateReport {
  uint64_t applied_seq = 0;       // the parent's, carried over (a merge: the larger)
  std::vector<uint64_t> parent_seqs;  // each parent's state's applied_seq, as read
  uint64_t records = 0;           // records the child holds
  // Range tombstones that dropped the other cells' records and reverse
  // entries (one or two per key space: records, each location name).
  uint64_t ranges_deleted = 0;
  absl::Duration link_time;       // the checkpoint by hard links
  absl::Duration trim_time;       // deletes, count, identity, flush
};

// Makes `child_dir` (which must not exist) hold `child`'s part of the
// closed local state of `parent` in `parent_dir`. The parent's state must be
// closed (RocksDB's lock is taken) and is opened only to read and link.
// InvalidArgument when the child is not of the parent's index or its range
// does not lie inside the parent's; FailedPrecondition when `child_dir`
// exists (nothing is overwritten); DataLoss when the parent's state belongs
// to another cell or index; I/O errors as they come.
absl::StatusOr<ChildStateReport> MakeChildState(const Options& options,
                                                const CellResources& resources,
                                                const std::string& parent_dir,
                                                const CellIdentity& parent,
                                                const std::string& child_dir,
                                                const CellIdentity& child);

// Where a child of a split goes, and who it is.
struct ChildPlace {
  std::string dir;
  CellIdentity identity;
};

// MakeChildState for several children of one parent at once (a split's
// two): the parent is opened and linked once, and the children are trimmed
// in parallel, each on a thread of its own. `stop` (when set) is asked
// between the steps; once it says so, the making ends with Aborted. On
// error, a child that was made may be in place: the caller removes the
// children's directories.
absl::StatusOr<std::vector<ChildStateReport>> MakeChildStates(
    const Options& options, const CellResources& resources, const std::string& parent_dir,
    const CellIdentity& parent, const std::vector<ChildPlace>& children,
    const std::function<bool()>& stop = nullptr);

// Makes `child_dir` (which must not exist) hold the merge of the closed
// local states of neighbours `left` (in `left_dir`) and `right` (in
// `right_dir`): a checkpoint of the left by hard links, then the right's
// records and reverse entries copied in (a merge joins cells that have
// stayed small, so the copy is short), its count the sum of theirs, its
// applied_seq the larger of theirs (the child's journal starts after it),
// its identity the child's. Staged and renamed into place as a split's
// child is. InvalidArgument when the child's range is not exactly the two
// neighbours' or an index differs; FailedPrecondition when `child_dir`
// exists; DataLoss when a parent's state belongs to another cell or its
// records do not match its count.
absl::StatusOr<ChildStateReport> MakeMergedState(const Options& options,
                                                 const CellResources& resources,
                                                 const std::string& left_dir,
                                                 const CellIdentity& left,
                                                 const std::string& right_dir,
                                                 const CellIdentity& right,
                                                 const std::string& child_dir,
                                                 const CellIdentity& child);

// The encoded key of the serving `cell`'s middle record (by count, at one
// snapshot), where a split without a given key divides it: the right child
// starts there. FailedPrecondition when the cell holds fewer than two
// records (a child would be empty).
class Cell;
absl::StatusOr<std::string> MedianRecordKey(const Cell& cell);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_CELL_SPLIT_H_
