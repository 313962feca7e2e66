// Location lookups: which objects have bytes on a volume or a node. This is
// what a storage service asks after it loses disks or machines: the objects to
// repair.
//
// Each cell keeps a reverse index in the same atomic batch as its records
// ('v' volume 0x00 encoded_key and 'n' node 0x00 encoded_key; see
// index/cell.h), so an answer is never stale against the records: an
// overwrite moves an object's entries, a delete removes them. Objects come in
// key order (bucket, then key), cell after cell.
#ifndef CELLINDEX_INDEX_LOCATE_H_
#define CELLINDEX_INDEX_LOCATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/cell_map.h"
#include "index/object_key.h"
#include "index/object_record.h"
#include "index/serving_cell.h"

namespace cellindex {

// Most objects one page returns; a larger max_objects is treated as this.
inline constexpr int kMaxLocateObjects = 1000;

struct LocateOptions {
  // Exactly one of the two: the volume or the node whose objects to find.
  std::string volume;
  std::string node;
  // The next_continuation_token of the previous page of the same lookup.
  // Empty: the first page.
  std::string continuation_token;
  // Objects per page: 0 to 1000; more is 1000.
  int max_objects = kMaxLocateObjects;
};

struct LocatedObject {
  ObjectKey key;
  uint64_t size = 0;
  uint64_t version = 0;
  // The object's extents on the volume (or node) asked about: a replica, or
  // several shards.
  std::vector<Extent> extents;
};

struct LocateResult {
  std::vector<LocatedObject> objects;
  // More objects follow: pass next_continuation_token to read them.
  bool is_truncated = false;
  // Set only when is_truncated.
  std::string next_continuation_token;
};

// One page of the objects on options.volume or options.node, read from
// `cells` (cells(i) gives the cell serving map.cells()[i]); Index::Locate
// calls this. InvalidArgument naming the problem when not exactly one of volume and node
// is set, the name is not a valid location name, max_objects is negative, or
// the token was altered or belongs to another lookup. Unavailable naming the
// cell when a cell is not serving (every cell holds part of the answer);
// DataLoss when a stored record is damaged.
absl::StatusOr<LocateResult> LocateObjects(const CellMap& map, const ServingCellFn& cells,
                                           const LocateOptions& options);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_LOCATE_H_
