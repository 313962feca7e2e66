// The status page: the index's health as one self-contained HTML file with
// inline SVG (no script or style from elsewhere, nothing fetched), written
// to a directory of its own so that it stays readable when the index, its
// hosts and its store are down. It says when it was written and, while it
// is open in a browser, how old it is.
#ifndef CELLINDEX_INDEX_STATUS_PAGE_H_
#define CELLINDEX_INDEX_STATUS_PAGE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "index/base/stats.h"
#include "index/model/capacity.h"

namespace cellindex {

inline constexpr char kStatusPageFile[] = "index.html";

// What the page shows, taken from the index at one moment.
struct StatusSnapshot {
  absl::Time written;
  absl::Duration rewrite_every;  // the page calls itself stale past 3x this
  std::string index_id;
  uint64_t epoch = 0;
  std::vector<CellStats> cells;  // with their hosts
  Inventory inventory;
  std::vector<PoolCapacity> pools;
  std::vector<std::string> audit_tail;  // JSON lines, oldest first
};

std::string RenderStatusPage(const StatusSnapshot& s);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_STATUS_PAGE_H_
