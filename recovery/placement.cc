#include "recovery/placement.h"

#include <algorithm>
#include <map>

namespace cellindex {
namespace {

// The cells of `map` on each of `hosts` (by name: ties go to the first).
std::map<std::string, size_t> Loads(const CellMap& map, const std::vector<std::string>& hosts) {
  std::map<std::string, size_t> load;
  for (const std::string& h : hosts) load[h] = 0;
  for (const CellRange& c : map.cells()) {
    if (auto it = load.find(c.host); it != load.end()) ++it->second;
  }
  return load;
}

std::map<std::string, size_t>::iterator Least(std::map<std::string, size_t>& load) {
  return std::min_element(load.begin(), load.end(),
                          [](const auto& a, const auto& b) { return a.second < b.second; });
}

}  // namespace

void PlaceOnLeastLoaded(CellMap* map, const std::vector<size_t>& cells,
                        const std::vector<std::string>& hosts) {
  std::map<std::string, size_t> load = Loads(*map, hosts);
  for (size_t i : cells) {
    auto least = Least(load);
    map->MoveCell(i, least->first);
    ++least->second;
  }
}

std::optional<std::string> LessLoadedHost(const CellMap& map, const std::string& from,
                                          const std::vector<std::string>& hosts,
                                          size_t max_cells) {
  std::map<std::string, size_t> load = Loads(map, hosts);
  auto it = load.find(from);
  if (it == load.end()) return std::nullopt;
  const size_t from_load = it->second;
  load.erase(it);
  if (load.empty()) return std::nullopt;
  auto least = Least(load);
  if (least->second + 2 > from_load) return std::nullopt;
  if (max_cells != 0 && least->second >= max_cells) return std::nullopt;
  return least->first;
}

}  // namespace cellindex
