#include "index/model/cell_map.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "index/base/coding.h"

namespace cellindex {
namespace {
constexpr uint32_t kMagic = 0x50414d43;
constexpr uint8_t kFormat = 3;
// Before lineage and the next cell id; still read.
constexpr uint8_t kFormatNoLineage = 2;
// One above the largest CellId: next_cell_id() when no id is left.
constexpr uint64_t kNoIdLeft = uint64_t{UINT32_MAX} + 1;

size_t ParentCount(CellOrigin origin) {
  switch (origin) {
    case CellOrigin::kNone:
      return 0;
    case CellOrigin::kSplit:
      return 1;
    case CellOrigin::kMerge:
      return 2;
  }
  return 0;
}

// A born time that the persisted form (varint64 Unix microseconds) holds and
// gives back as it was.
absl::Status CheckBornTime(absl::Time now) {
  if (now < absl::UnixEpoch() || now == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "time of a split or merge must be finite and not before the Unix epoch, not ",
        absl::FormatTime(now, absl::UTCTimeZone())));
  }
  return absl::OkStatus();
}

void PutLineage(std::string* dst, const CellLineage& lineage) {
  dst->push_back(static_cast<char>(lineage.origin));
  PutVarint64(dst, lineage.parents.size());
  for (const CellParent& p : lineage.parents) {
    PutVarint64(dst, p.id);
    PutVarint64(dst, p.seq);
  }
  PutVarint64(dst, static_cast<uint64_t>(absl::ToUnixMicros(lineage.born)));
}

// Consumes a lineage from the front of `*input`; returns why it is damaged,
// or nullptr.
const char* GetLineage(absl::string_view* input, CellLineage* lineage) {
  uint8_t origin;
  uint64_t count, born;
  if (!GetByte(input, &origin)) return "bad cell entry";
  if (origin > static_cast<uint8_t>(CellOrigin::kMerge)) return "unknown cell origin";
  lineage->origin = static_cast<CellOrigin>(origin);
  if (!GetVarint64(input, &count)) return "bad cell entry";
  if (count != ParentCount(lineage->origin)) return "parent count disagrees with the origin";
  for (uint64_t i = 0; i < count; ++i) {
    CellParent p;
    uint64_t id;
    if (!GetVarint64(input, &id) || id > UINT32_MAX || !GetVarint64(input, &p.seq)) {
      return "bad cell entry";
    }
    p.id = static_cast<CellId>(id);
    lineage->parents.push_back(p);
  }
  if (!GetVarint64(input, &born) || born > static_cast<uint64_t>(INT64_MAX)) {
    return "bad cell entry";
  }
  lineage->born = absl::FromUnixMicros(static_cast<int64_t>(born));
  return nullptr;
}
}  // namespace

const char* CellOriginName(CellOrigin origin) {
  switch (origin) {
    case CellOrigin::kNone:
      return "none";
    case CellOrigin::kSplit:
      return "split";
    case CellOrigin::kMerge:
      return "merge";
  }
  return "unknown";
}

std::string NewIndexId() {
  absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
}

void PutCellRange(std::string* dst, const CellRange& range) {
  PutVarint64(dst, range.id);
  PutLengthPrefixed(dst, range.lo);
  dst->push_back(range.hi_unbounded ? 1 : 0);
  PutLengthPrefixed(dst, range.hi);
}

bool GetCellRange(absl::string_view* input, CellRange* range) {
  uint64_t id;
  uint8_t unbounded;
  absl::string_view lo, hi;
  if (!GetVarint64(input, &id) || id > UINT32_MAX || !GetLengthPrefixed(input, &lo) ||
      !GetByte(input, &unbounded) || unbounded > 1 || !GetLengthPrefixed(input, &hi)) {
    return false;
  }
  range->id = static_cast<CellId>(id);
  range->lo = std::string(lo);
  range->hi = std::string(hi);
  range->hi_unbounded = unbounded == 1;
  return true;
}

std::string CellRange::Describe() const {
  return absl::StrCat("[\"", absl::CEscape(lo), "\", ",
                      hi_unbounded ? std::string("+inf") : absl::StrCat("\"", absl::CEscape(hi), "\""),
                      ")");
}

absl::StatusOr<CellMap> CellMap::FromBoundaries(std::vector<std::string> boundaries,
                                                const std::string& host) {
  for (size_t i = 0; i < boundaries.size(); ++i) {
    if (boundaries[i].empty()) {
      return absl::InvalidArgumentError("cell boundary must not be the empty key");
    }
    if (i > 0 && boundaries[i - 1] >= boundaries[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cell boundaries must be strictly increasing: \"", absl::CEscape(boundaries[i - 1]),
          "\" is not below \"", absl::CEscape(boundaries[i]), "\""));
    }
  }
  CellMap map;
  for (size_t i = 0; i <= boundaries.size(); ++i) {
    CellRange c;
    c.id = static_cast<CellId>(i);
    c.lo = i == 0 ? std::string() : boundaries[i - 1];
    c.hi_unbounded = i == boundaries.size();
    if (!c.hi_unbounded) c.hi = boundaries[i];
    c.host = host;
    map.cells_.push_back(std::move(c));
  }
  map.next_cell_id_ = map.cells_.size();
  return map;
}

absl::StatusOr<CellMap> CellMap::FromSample(std::vector<std::string> sample, size_t num_cells,
                                            const std::string& host) {
  if (num_cells == 0) return absl::InvalidArgumentError("number of cells must be at least 1");
  std::sort(sample.begin(), sample.end());
  sample.erase(std::unique(sample.begin(), sample.end()), sample.end());
  std::vector<std::string> boundaries;
  for (size_t i = 1; i < num_cells && !sample.empty(); ++i) {
    const std::string& b = sample[i * sample.size() / num_cells];
    if (!b.empty() && (boundaries.empty() || boundaries.back() < b)) boundaries.push_back(b);
  }
  return FromBoundaries(std::move(boundaries), host);
}

size_t CellMap::Route(absl::string_view encoded_key) const {
  // The first cell whose lo is above the key, minus one.
  auto it = std::upper_bound(cells_.begin() + 1, cells_.end(), encoded_key,
                             [](absl::string_view k, const CellRange& c) { return k < c.lo; });
  return static_cast<size_t>(it - cells_.begin()) - 1;
}

std::optional<size_t> CellMap::IndexOf(CellId id) const {
  // A scan: maps hold hundreds of cells, and ids are not in key order once
  // cells split and merge.
  for (size_t i = 0; i < cells_.size(); ++i) {
    if (cells_[i].id == id) return i;
  }
  return std::nullopt;
}

void CellMap::MoveCell(size_t index, const std::string& host) {
  cells_[index].host = host;
  ++epoch_;
}

absl::Status CellMap::SetHost(CellId id, const std::string& host) {
  const std::optional<size_t> index = IndexOf(id);
  if (!index) {
    return absl::InvalidArgumentError(absl::StrCat("no cell with id ", id, " in the cell map"));
  }
  MoveCell(*index, host);
  return absl::OkStatus();
}

absl::StatusOr<CellMap> CellMap::Split(CellId parent, const std::string& at,
                                       uint64_t parent_seq, absl::Time now) const {
  const std::optional<size_t> index = IndexOf(parent);
  if (!index) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot split cell ", parent, ": no cell with that id in the cell map"));
  }
  const CellRange& p = cells_[*index];
  if (at.empty() || at <= p.lo || (!p.hi_unbounded && at >= p.hi)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot split cell ", parent, " ",
                                                   p.Describe(), " at \"", absl::CEscape(at),
                                                   "\": the key is not strictly inside it"));
  }
  if (absl::Status s = CheckBornTime(now); !s.ok()) return s;
  if (next_cell_id_ + 2 > kNoIdLeft) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot split cell ", parent, ": no cell ids are left"));
  }
  CellRange left;
  left.id = static_cast<CellId>(next_cell_id_);
  left.lo = p.lo;
  left.hi = at;
  left.host = p.host;
  left.lineage.origin = CellOrigin::kSplit;
  left.lineage.parents = {CellParent{parent, parent_seq}};
  left.lineage.born = now;
  CellRange right = left;
  right.id = static_cast<CellId>(next_cell_id_ + 1);
  right.lo = at;
  right.hi = p.hi;
  right.hi_unbounded = p.hi_unbounded;

  CellMap out = *this;
  out.cells_[*index] = std::move(left);
  out.cells_.insert(out.cells_.begin() + *index + 1, std::move(right));
  out.next_cell_id_ += 2;
  ++out.epoch_;
  return out;
}

absl::StatusOr<CellMap> CellMap::Merge(CellId left, CellId right, uint64_t left_seq,
                                       uint64_t right_seq, absl::Time now) const {
  const std::optional<size_t> li = IndexOf(left);
  const std::optional<size_t> ri = IndexOf(right);
  if (!li || !ri) {
    return absl::InvalidArgumentError(absl::StrCat("cannot merge cells ", left, " and ", right,
                                                   ": no cell with id ", !li ? left : right,
                                                   " in the cell map"));
  }
  if (*ri != *li + 1) {
    return absl::InvalidArgumentError(absl::StrCat("cannot merge cells ", left, " and ", right,
                                                   ": cell ", right,
                                                   " is not the right neighbour of cell ", left));
  }
  if (absl::Status s = CheckBornTime(now); !s.ok()) return s;
  if (next_cell_id_ + 1 > kNoIdLeft) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot merge cells ", left, " and ",
                                                     right, ": no cell ids are left"));
  }
  const CellRange& l = cells_[*li];
  const CellRange& r = cells_[*ri];
  CellRange child;
  child.id = static_cast<CellId>(next_cell_id_);
  child.lo = l.lo;
  child.hi = r.hi;
  child.hi_unbounded = r.hi_unbounded;
  child.host = l.host;
  child.lineage.origin = CellOrigin::kMerge;
  child.lineage.parents = {CellParent{left, left_seq}, CellParent{right, right_seq}};
  child.lineage.born = now;

  CellMap out = *this;
  out.cells_[*li] = std::move(child);
  out.cells_.erase(out.cells_.begin() + *ri);
  out.next_cell_id_ += 1;
  ++out.epoch_;
  return out;
}

void CellMap::PlaceRoundRobin(const std::vector<std::string>& hosts) {
  for (size_t i = 0; i < cells_.size() && !hosts.empty(); ++i) {
    cells_[i].host = hosts[i % hosts.size()];
  }
}

std::vector<std::string> CellMap::Boundaries() const {
  std::vector<std::string> out;
  for (size_t i = 1; i < cells_.size(); ++i) out.push_back(cells_[i].lo);
  return out;
}

std::string CellMap::Encode() const {
  std::string out;
  PutFrameHeader(&out, kMagic, kFormat);
  PutLengthPrefixed(&out, index_id_);
  PutVarint64(&out, epoch_);
  PutVarint64(&out, next_cell_id_);
  PutVarint64(&out, cells_.size());
  for (const CellRange& c : cells_) {
    PutCellRange(&out, c);
    PutLengthPrefixed(&out, c.host);
    PutLineage(&out, c.lineage);
  }
  PutChecksumTrailer(&out);
  return out;
}

absl::StatusOr<CellMap> CellMap::Decode(absl::string_view data) {
  auto damaged = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("cell map is damaged: ", why));
  };
  absl::string_view body;
  uint8_t format;
  if (const char* why = OpenFrame(data, kMagic, kFormatNoLineage, kFormat, &format, &body)) {
    return damaged(why);
  }
  const bool has_lineage = format == kFormat;
  uint64_t count;
  absl::string_view index_id;
  CellMap map;
  if (!GetLengthPrefixed(&body, &index_id) || !GetVarint64(&body, &map.epoch_) ||
      (has_lineage && (!GetVarint64(&body, &map.next_cell_id_) ||
                       map.next_cell_id_ > kNoIdLeft)) ||
      !GetVarint64(&body, &count) || count == 0 || count > body.size()) {
    return damaged("bad header");
  }
  map.index_id_ = std::string(index_id);
  for (uint64_t i = 0; i < count; ++i) {
    CellRange c;
    absl::string_view host;
    if (!GetCellRange(&body, &c) || !GetLengthPrefixed(&body, &host)) {
      return damaged("bad cell entry");
    }
    c.host = std::string(host);
    if (has_lineage) {
      if (const char* why = GetLineage(&body, &c.lineage)) {
        return damaged(absl::StrCat("cell ", c.id, ": ", why));
      }
    }
    map.cells_.push_back(std::move(c));
  }
  if (!body.empty()) return damaged("trailing bytes");
  // The ranges must tile the key space.
  for (size_t i = 0; i < map.cells_.size(); ++i) {
    const CellRange& c = map.cells_[i];
    const bool last = i + 1 == map.cells_.size();
    if ((i == 0 && !c.lo.empty()) || c.hi_unbounded != last ||
        (!last && (c.hi != map.cells_[i + 1].lo || c.lo >= c.hi))) {
      return damaged("ranges do not tile the key space");
    }
  }
  // Ids name the cells' directories in the durable store: one per cell, and
  // none that a new cell could be given again.
  std::vector<CellId> ids;
  for (const CellRange& c : map.cells_) ids.push_back(c.id);
  std::sort(ids.begin(), ids.end());
  if (auto dup = std::adjacent_find(ids.begin(), ids.end()); dup != ids.end()) {
    return damaged(absl::StrCat("cell id ", *dup, " is used twice"));
  }
  if (!has_lineage) map.next_cell_id_ = uint64_t{ids.back()} + 1;
  if (map.next_cell_id_ <= ids.back()) {
    return damaged(absl::StrCat("next cell id ", map.next_cell_id_, " is not above cell ",
                                ids.back()));
  }
  // A parent was retired when its children were made, under older ids.
  for (const CellRange& c : map.cells_) {
    for (const CellParent& p : c.lineage.parents) {
      if (std::binary_search(ids.begin(), ids.end(), p.id)) {
        return damaged(
            absl::StrCat("cell ", c.id, " has parent ", p.id, ", which is still a cell"));
      }
      if (p.id >= c.id) {
        return damaged(absl::StrCat("cell ", c.id, " has parent ", p.id, ", a newer id"));
      }
    }
    if (c.lineage.origin == CellOrigin::kMerge &&
        c.lineage.parents[0].id == c.lineage.parents[1].id) {
      return damaged(absl::StrCat("cell ", c.id, " merges cell ", c.lineage.parents[0].id,
                                  " with itself"));
    }
  }
  return map;
}

}  // namespace cellindex
