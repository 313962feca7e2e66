// Fuzzes CellMap::Decode (index/cell_map.h).
//
// The input is an encoded cell map's body: the harness appends its checksum
// trailer. (The input as is is decoded too, to exercise the refusals.) Every
// accepted map must tile the key space, route each cell's lower bound to that
// cell, and survive Encode -> Decode with the same cells (lineage too), epoch,
// next cell id and encoding. Every cell id must lie below the next cell id.
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "index/model/cell_map.h"
#include "tests/fuzz/fuzz_util.h"

namespace cellindex::fuzz {
namespace {

// The fields known here; equal encodings (checked too) cover any others.
bool Equal(const CellMap& a, const CellMap& b) {
  if (a.epoch() != b.epoch() || a.next_cell_id() != b.next_cell_id() ||
      a.cells().size() != b.cells().size()) {
    return false;
  }
  for (size_t i = 0; i < a.cells().size(); ++i) {
    const CellRange& x = a.cells()[i];
    const CellRange& y = b.cells()[i];
    if (x.id != y.id || x.lo != y.lo || x.hi != y.hi || x.hi_unbounded != y.hi_unbounded ||
        x.host != y.host || x.lineage.origin != y.lineage.origin ||
        x.lineage.parents != y.lineage.parents || x.lineage.born != y.lineage.born) {
      return false;
    }
  }
  return true;
}

void CheckTiling(const CellMap& map) {
  const std::vector<CellRange>& cells = map.cells();
  FUZZ_CHECK(!cells.empty(), "an accepted cell map has no cells");
  FUZZ_CHECK(cells.front().lo.empty(), "the first cell does not start at the empty key");
  FUZZ_CHECK(cells.back().hi_unbounded, "the last cell is bounded");
  FUZZ_CHECK(map.Boundaries().size() == cells.size() - 1, "Boundaries() has the wrong size");
  for (size_t i = 0; i < cells.size(); ++i) {
    const CellRange& c = cells[i];
    FUZZ_CHECK(map.Route(c.lo) == i, "a cell's lower bound routes to another cell");
    FUZZ_CHECK(c.Contains(c.lo), "a cell does not contain its lower bound");
    (void)c.Describe();
    if (i + 1 < cells.size()) {
      FUZZ_CHECK(!c.hi_unbounded && c.lo < c.hi && c.hi == cells[i + 1].lo,
                 "the cells do not tile the key space");
      FUZZ_CHECK(!c.Contains(c.hi), "a cell contains its upper bound");
    }
  }
}

void CheckDecode(absl::string_view encoded) {
  absl::StatusOr<CellMap> map = CellMap::Decode(encoded);
  if (!map.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(map.status()), map.status().ToString());
    return;
  }
  CheckTiling(*map);
  for (const CellRange& c : map->cells()) {
    FUZZ_CHECK(c.id < map->next_cell_id(), "a cell id is not below the next cell id");
  }
  CheckReencodes(
      *map, [](const CellMap& m) { return m.Encode(); }, CellMap::Decode, Equal, "cell map");
}

}  // namespace
}  // namespace cellindex::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellindex::fuzz;
  CheckAsIsAndWithTrailer(data, size, CheckDecode);
  return 0;
}
