#include "recovery/placement.h"

#include <algorithm>
#include <map>

namespace cellindex {

void PlaceOnLeastLoaded(CellMap* map, const std::vector<size_t>& cells,
                        const std::vector<std::string>& hosts) {
  std::map<std::string, size_t> load;
  for (const std::string& h : hosts) load[h] = 0;
  for (const CellRange& c : map->cells()) {
    if (auto it = load.find(c.host); it != load.end()) ++it->second;
  }
  for (size_t i : cells) {
    auto least = std::min_element(load.begin(), load.end(), [](const auto& a, const auto& b) {
      return a.second < b.second;
    });
    map->MoveCell(i, least->first);
    ++least->second;
  }
}

}  // namespace cellindex
