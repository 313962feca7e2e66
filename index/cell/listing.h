// Listing the objects of a bucket with the semantics of S3 ListObjectsV2.
//
// Keys come in binary (UTF-8 byte) order. With a delimiter, every key that
// holds the delimiter after the prefix is rolled up into one common prefix:
// the key up to and including the first such delimiter. A page holds at most
// max_keys entries, keys and common prefixes together, in key order (a common
// prefix sits where its first key would). A common prefix is read with one
// seek past its keys, never by reading each of them.
#ifndef CELLINDEX_INDEX_CELL_LISTING_H_
#define CELLINDEX_INDEX_CELL_LISTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/model/cell_map.h"
#include "index/model/list_result.h"
#include "index/cell/serving_cell.h"

namespace cellindex {

// One page of `bucket`, read from `cells` (cells(i) gives the cell serving
// map.cells()[i]); Index::List calls this. InvalidArgument naming the problem
// for a bad bucket name, a prefix, delimiter or start_after that is not UTF-8, a negative
// max_keys, or a continuation token that was altered or belongs to another
// bucket, prefix or delimiter. Unavailable naming the cell when a cell the
// page must read is not serving; DataLoss when a stored record is damaged.
// options.cell set: only that cell's part (InvalidArgument when the map has
// no such cell).
absl::StatusOr<ListResult> ListObjects(const CellMap& map, const ServingCellFn& cells,
                                       absl::string_view bucket, const ListOptions& options);


}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_LISTING_H_
