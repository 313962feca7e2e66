// Where cells go when they need a host: the one placement rule of the index.
#ifndef CELLINDEX_RECOVERY_PLACEMENT_H_
#define CELLINDEX_RECOVERY_PLACEMENT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "index/model/cell_map.h"

namespace cellindex {

// Moves each of `cells` (indexes into map->cells()), in order, to the host of
// `hosts` holding the fewest of the map's cells at that moment (ties: the
// first by name), growing the map's epoch for each. Cells already on one of
// `hosts` count toward its load; `hosts` must not be empty.
void PlaceOnLeastLoaded(CellMap* map, const std::vector<size_t>& cells,
                        const std::vector<std::string>& hosts);

// Where one more cell of `from` (one of `hosts`) should go instead: the
// other host of `hosts` with the fewest of the map's cells (ties: the first
// by name), if it holds at least two fewer than `from` (so that the move
// evens the two out rather than trading places) and fewer than `max_cells`
// (0: no limit). nullopt: stay on `from`.
std::optional<std::string> LessLoadedHost(const CellMap& map, const std::string& from,
                                          const std::vector<std::string>& hosts,
                                          size_t max_cells = 0);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_PLACEMENT_H_
