// The cell map: which cell owns which range of encoded keys, and where the
// cell lives.
//
// Cells partition the whole encoded-key space into contiguous ranges
// [lo, hi): the first cell starts at "" and the last is unbounded above. The
// map grows its epoch on every change. Persisted form (in the durable store,
// replaced atomically):
//
//     magic        : fixed32 0x50414d43 ("CMAP")
//     format       : 1 byte, = 2
//     index id     : length-prefixed, random, fixed when the index is created;
//                    every cell's state, journal and checkpoints carry it
//     epoch        : varint64
//     cell count   : varint64, then per cell:
//                      the range (PutCellRange below), host (length-prefixed)
//     checksum     : fixed64, xxh3-64 of every byte before it
#ifndef CELLINDEX_INDEX_MODEL_CELL_MAP_H_
#define CELLINDEX_INDEX_MODEL_CELL_MAP_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cellindex {

using CellId = uint32_t;

// 32 hex digits of randomness: the id of a new index.
std::string NewIndexId();

struct CellRange {
  CellId id = 0;
  std::string lo;              // inclusive
  std::string hi;              // exclusive; meaningless when hi_unbounded
  bool hi_unbounded = false;
  std::string host;            // the host that serves the cell

  bool Contains(absl::string_view encoded_key) const {
    return encoded_key >= lo && (hi_unbounded || encoded_key < hi);
  }
  // "[lo, hi)" with non-printable bytes escaped, for messages.
  std::string Describe() const;
};

// The one encoding of a range, shared by the cell map, checkpoint manifests
// and a cell's identity (not the host):
//
//     id (varint64), lo (length-prefixed), hi_unbounded (1 byte),
//     hi (length-prefixed)
void PutCellRange(std::string* dst, const CellRange& range);
// Consumes a range from the front of `*input`; false when malformed (an id
// over 32 bits, a bad length, or hi_unbounded other than 0 or 1).
bool GetCellRange(absl::string_view* input, CellRange* range);

class CellMap {
 public:
  // One cell per gap between `boundaries` (encoded keys, strictly increasing,
  // none empty): boundaries.size() + 1 cells, ids 0..n-1, all on `host`.
  static absl::StatusOr<CellMap> FromBoundaries(std::vector<std::string> boundaries,
                                                const std::string& host = "local");
  // Up to `num_cells` cells whose boundaries are quantiles of `sample`
  // (encoded keys, any order, duplicates allowed). Fewer cells when the
  // sample has too few distinct keys.
  static absl::StatusOr<CellMap> FromSample(std::vector<std::string> sample, size_t num_cells,
                                            const std::string& host = "local");

  // Index into cells() of the cell owning `encoded_key`: a binary search.
  size_t Route(absl::string_view encoded_key) const;

  const std::vector<CellRange>& cells() const { return cells_; }
  // Moves cell `index` to `host` and grows the epoch.
  void MoveCell(size_t index, const std::string& host);
  // Places the cells on `hosts` round-robin (a new index).
  void PlaceRoundRobin(const std::vector<std::string>& hosts);
  uint64_t epoch() const { return epoch_; }
  // Who the index is: random, set once when it is created (NewIndexId).
  const std::string& index_id() const { return index_id_; }
  void set_index_id(std::string id) { index_id_ = std::move(id); }
  // Split points between cells (size() - 1 keys).
  std::vector<std::string> Boundaries() const;

  std::string Encode() const;
  // DataLoss when damaged.
  static absl::StatusOr<CellMap> Decode(absl::string_view data);

 private:
  std::string index_id_;
  uint64_t epoch_ = 1;
  std::vector<CellRange> cells_;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_CELL_MAP_H_
