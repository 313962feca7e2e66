// Location lookups: which objects have bytes on a volume or a node. This is
// what a storage service asks after it loses disks or machines: the objects to
// repair.
//
// Each cell keeps a reverse index in the same atomic batch as its records
// ('v' volume 0x00 encoded_key and 'n' node 0x00 encoded_key; see
// index/cell.h), so an answer is never stale against the records: an
// overwrite moves an object's entries, a delete removes them. Objects come in
// key order (bucket, then key), cell after cell.
#ifndef CELLINDEX_INDEX_CELL_LOCATE_H_
#define CELLINDEX_INDEX_CELL_LOCATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/model/cell_map.h"
#include "index/model/locate_result.h"
#include "index/cell/serving_cell.h"

namespace cellindex {

// One page of the objects on options.volume or options.node, read from
// `cells` (cells(i) gives the cell serving map.cells()[i]); Index::Locate
// calls this. InvalidArgument naming the problem when not exactly one of volume and node
// is set, the name is not a valid location name, max_objects is negative, or
// the token was altered or belongs to another lookup. Unavailable naming the
// cell when a cell is not serving (every cell holds part of the answer);
// DataLoss when a stored record is damaged.
// options.cell set: only that cell's part (InvalidArgument when the map has
// no such cell).
absl::StatusOr<LocateResult> LocateObjects(const CellMap& map, const ServingCellFn& cells,
                                           const LocateOptions& options);


}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_LOCATE_H_
