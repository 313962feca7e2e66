// How readers that span cells (listing, location lookups) reach the cells.
#ifndef CELLINDEX_INDEX_CELL_SERVING_CELL_H_
#define CELLINDEX_INDEX_CELL_SERVING_CELL_H_

#include <cstddef>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"

namespace cellindex {

class Cell;

// The serving cell behind cell-map index i, or why there is none
// (Unavailable naming the cell and its recovery phase, or its failure). Cells
// come and go while an index recovers; holding the pointer keeps one open.
using ServingCellFn = std::function<absl::StatusOr<std::shared_ptr<Cell>>(size_t)>;

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_SERVING_CELL_H_
