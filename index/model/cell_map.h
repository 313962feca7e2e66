// The cell map: which cell owns which range of encoded keys, and where the
// cell lives.
//
// Cells partition the whole encoded-key space into contiguous ranges
// [lo, hi): the first cell starts at "" and the last is unbounded above. The
// map grows its epoch on every change. A split or merge retires cells and
// creates new ones under fresh ids: an id is never used twice, since the
// durable store keeps each cell's files under its id. Persisted form (in the
// durable store, replaced atomically):
//
//     magic        : fixed32 0x50414d43 ("CMAP")
//     format       : 1 byte, = 3 (2 is still read: see below)
//     index id     : length-prefixed, random, fixed when the index is created;
//                    every cell's state, journal and checkpoints carry it
//     epoch        : varint64
//     next cell id : varint64, above every id the index has ever used
//     cell count   : varint64, then per cell:
//                      the range (PutCellRange below), host (length-prefixed),
//                      origin (1 byte: 0 none, 1 split, 2 merge),
//                      parent count (varint64: 0, 1 or 2, as the origin says),
//                      per parent: id (varint64), seq (varint64),
//                      born (varint64, Unix microseconds; 0 for origin none)
//     checksum     : fixed64, xxh3-64 of every byte before it
//
// Format 2, written before splits and merges existed, has no next cell id
// and no lineage: its cells read as origin none, and the next cell id as one
// above the largest id.
#ifndef CELLINDEX_INDEX_MODEL_CELL_MAP_H_
#define CELLINDEX_INDEX_MODEL_CELL_MAP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cellindex {

using CellId = uint32_t;

// 32 hex digits of randomness: the id of a new index.
std::string NewIndexId();

// How a cell came to be.
enum class CellOrigin : uint8_t {
  kNone = 0,   // created with the index
  kSplit = 1,  // one half of a split parent
  kMerge = 2,  // two neighbouring parents joined
};
const char* CellOriginName(CellOrigin origin);

// A retired cell that a newer one was made from. `seq` is the parent's last
// applied journal sequence number at the split or merge: the child's state
// starts from the parent's state up to it.
struct CellParent {
  CellId id = 0;
  uint64_t seq = 0;

  friend bool operator==(const CellParent& a, const CellParent& b) {
    return a.id == b.id && a.seq == b.seq;
  }
};

struct CellLineage {
  CellOrigin origin = CellOrigin::kNone;
  // None for kNone, one for kSplit, two for kMerge (left, then right).
  std::vector<CellParent> parents;
  // When the split or merge made the cell; the Unix epoch for kNone.
  absl::Time born = absl::UnixEpoch();
};

struct CellRange {
  CellId id = 0;
  std::string lo;              // inclusive
  std::string hi;              // exclusive; meaningless when hi_unbounded
  bool hi_unbounded = false;
  std::string host;            // the host that serves the cell
  CellLineage lineage;         // kept by the cell map only (not PutCellRange)

  bool Contains(absl::string_view encoded_key) const {
    return encoded_key >= lo && (hi_unbounded || encoded_key < hi);
  }
  // "[lo, hi)" with non-printable bytes escaped, for messages.
  std::string Describe() const;
};

// The one encoding of a range, shared by the cell map, checkpoint manifests
// and a cell's identity (not the host, not the lineage):
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
  // none empty): boundaries.size() + 1 cells, ids 0..n-1, all on `host`,
  // origin none; next_cell_id() is n.
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
  // Index into cells() of the cell with id `id`; nullopt when none has it.
  std::optional<size_t> IndexOf(CellId id) const;
  // Moves cell `index` to `host` and grows the epoch.
  void MoveCell(size_t index, const std::string& host);
  // Moves the cell with id `id` to `host` and grows the epoch;
  // InvalidArgument, and no change, when no cell has that id.
  absl::Status SetHost(CellId id, const std::string& host);
  // Places the cells on `hosts` round-robin (a new index).
  void PlaceRoundRobin(const std::vector<std::string>& hosts);
  uint64_t epoch() const { return epoch_; }
  // Who the index is: random, set once when it is created (NewIndexId).
  const std::string& index_id() const { return index_id_; }
  void set_index_id(std::string id) { index_id_ = std::move(id); }
  // Split points between cells (size() - 1 keys).
  std::vector<std::string> Boundaries() const;
  // The id the next new cell gets: above every id this index has used,
  // retired cells' included. At most 2^32, when no id is left.
  uint64_t next_cell_id() const { return next_cell_id_; }

  // Split and Merge return a new map, one epoch on, that still tiles the key
  // space; `*this` is unchanged. `now` is the children's born time (finite,
  // not before the Unix epoch).
  //
  // Replaces cell `parent` [lo, hi) with [lo, at) and [at, hi), ids
  // next_cell_id() and next_cell_id() + 1, on the parent's host; both have
  // origin split and parent {parent, parent_seq}. InvalidArgument when no
  // cell has id `parent` or `at` is not strictly inside the range (at == lo
  // and the empty key are refused: a child would be empty); ResourceExhausted
  // when the ids have run out.
  absl::StatusOr<CellMap> Split(CellId parent, const std::string& at, uint64_t parent_seq,
                                absl::Time now) const;
  // Replaces neighbours `left` and `right` with one cell [left.lo, right.hi),
  // id next_cell_id(), on left's host; origin merge, parents
  // {left, left_seq}, {right, right_seq}. InvalidArgument when an id is
  // unknown or `right` is not the cell just right of `left`;
  // ResourceExhausted when the ids have run out.
  absl::StatusOr<CellMap> Merge(CellId left, CellId right, uint64_t left_seq,
                                uint64_t right_seq, absl::Time now) const;

  // Always the newest format.
  std::string Encode() const;
  // Reads format 3 or 2. DataLoss when damaged: a bad checksum or field,
  // ranges that do not tile the key space, a repeated cell id, a next cell
  // id not above every cell's, or a lineage that is inconsistent (parent
  // count against origin, a parent that is still a cell or not older than
  // its child).
  static absl::StatusOr<CellMap> Decode(absl::string_view data);

 private:
  std::string index_id_;
  uint64_t epoch_ = 1;
  uint64_t next_cell_id_ = 0;  // uint64: 2^32 means the ids have run out
  std::vector<CellRange> cells_;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_CELL_MAP_H_
