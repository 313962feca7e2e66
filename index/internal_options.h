// What tests (and benchmarks) can set on an Index beyond its public Options:
// the file system every file goes through, and hooks into recovery. Not part
// of the installed API.
#ifndef CELLINDEX_INDEX_INTERNAL_OPTIONS_H_
#define CELLINDEX_INDEX_INTERNAL_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "index/index.h"
#include "recovery/cell_set.h"

namespace rocksdb {
class FileSystem;
}

namespace cellindex {

enum class MoveEvent { kStart, kBeforeSwitch, kAfterOpen };

// The steps of a split (Index::SplitCell) or merge (MergeCells), in order.
enum class SplitEvent {
  kStart,           // checked and about to checkpoint the parent(s)
  kParentClosed,    // the parents' requests held, they are closed (flushed)
  kChildrenMade,    // the children's local states are in place
  kMapSaved,        // the map naming the children is saved: the commit
  kChildrenServing, // the children serve and the parents are retired
};
const char* SplitEventName(SplitEvent event);

struct InternalOptions {
  // Every file of the index (cells' RocksDB files, journals, the store, the
  // cell map) is written through it. Null: the default file system.
  std::shared_ptr<rocksdb::FileSystem> file_system;
  // Called at each moment of a cell's recovery (RecoveryEvent: its start,
  // each phase as it starts, its end) and of a background validation. It
  // may block to hold the cell there.
  std::function<void(uint32_t cell, RecoveryEvent event)> recovery_hook;
  // Called at each moment of a cell's graceful move (a drain): before it
  // starts, before the map is switched to its target (the cell is held and
  // closed), and once it serves there (or failed to).
  std::function<void(uint32_t cell, MoveEvent event)> move_hook;
  // Called at each step of a split or merge, with the (left) parent's id;
  // may block.
  std::function<void(uint32_t parent, SplitEvent event)> split_hook;
  // Called when a host loss starts to wait for capacity changes under way
  // (a split or merge that has not committed gives way to it from then on).
  std::function<void()> loss_hook;
  // Called at the start of ~Index, once background work has been told to
  // stop and before it is waited for.
  std::function<void()> shutdown_hook;
  // ~Index closes the cells as a crash would leave them: no memtable flush
  // (for tests that cut the power, where a flush could only fail).
  bool close_without_flush = false;
};

// Index::Open with internal options.
absl::StatusOr<std::unique_ptr<Index>> OpenIndex(const Options& options,
                                                 const InternalOptions& internal);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_INTERNAL_OPTIONS_H_
