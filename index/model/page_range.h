// Where a page of a read that spans cells (List, Locate) starts and ends,
// and the token it ends with. The index reads a page across its cells in one
// scan (index/cell/listing.h, index/cell/locate.h); the cluster client
// assembles it from the hosts that serve the cells, one cell's part at a
// time (ListOptions::cell). Both use these, so their pages and tokens agree.
#ifndef CELLINDEX_INDEX_MODEL_PAGE_RANGE_H_
#define CELLINDEX_INDEX_MODEL_PAGE_RANGE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/model/cell_map.h"
#include "index/model/list_result.h"
#include "index/model/locate_result.h"

namespace cellindex {

// Encoded object keys [start, end); an empty end reads to the end of the
// key space.
struct ScanRange {
  std::string start;
  std::string end;
  // Whether it holds no key.
  bool empty() const { return !end.empty() && start >= end; }
};

// Narrows `range` to what the cell with id `cell` holds, when set
// (ListOptions::cell, LocateOptions::cell). InvalidArgument naming the id
// when `map` has no such cell. Afterwards the range may be empty.
absl::Status NarrowToCell(const CellMap& map, std::optional<uint32_t> cell, ScanRange* range);

// The keys a page of `bucket` reads: from just past the previous page's last
// entry (or past start_after), never before the prefix, to the prefix's end
// (options.cell aside). InvalidArgument naming the problem for a bad bucket
// name, a prefix, delimiter or start_after that is not UTF-8, a negative
// max_keys, or a continuation token that was altered or belongs to another
// bucket, prefix or delimiter.
absl::StatusOr<ScanRange> ListKeyRange(absl::string_view bucket, const ListOptions& options);
// The continuation token of a page of `bucket` that ended at `position`, a
// key or a common prefix.
std::string ListPageToken(absl::string_view bucket, const ListOptions& options,
                          std::string position, bool position_is_prefix);

// What a Locate looks up (options checked or not).
struct LocateTarget {
  bool by_volume;
  absl::string_view name;  // the volume or node; points into the options
};
LocateTarget LocateTargetOf(const LocateOptions& options);
// The keys of the objects a Locate page reads: past the previous page's last
// object, to the end. InvalidArgument naming the problem when not exactly one
// of volume and node is set, the name is not a valid location name,
// max_objects is negative, or the token was altered or belongs to another
// lookup.
absl::StatusOr<ScanRange> LocateKeyRange(const LocateOptions& options);
// The token of a Locate page whose last object has encoded key `position`.
std::string LocatePageToken(const LocateOptions& options, std::string position);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_PAGE_RANGE_H_
