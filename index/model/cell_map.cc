#include "index/model/cell_map.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "index/base/coding.h"

namespace cellindex {
namespace {
constexpr uint32_t kMagic = 0x50414d43;
constexpr uint8_t kFormat = 2;
}  // namespace

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

void CellMap::MoveCell(size_t index, const std::string& host) {
  cells_[index].host = host;
  ++epoch_;
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
  PutVarint64(&out, cells_.size());
  for (const CellRange& c : cells_) {
    PutCellRange(&out, c);
    PutLengthPrefixed(&out, c.host);
  }
  PutChecksumTrailer(&out);
  return out;
}

absl::StatusOr<CellMap> CellMap::Decode(absl::string_view data) {
  auto damaged = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("cell map is damaged: ", why));
  };
  absl::string_view body;
  if (const char* why = OpenFrame(data, kMagic, kFormat, &body)) return damaged(why);
  uint64_t count;
  absl::string_view index_id;
  CellMap map;
  if (!GetLengthPrefixed(&body, &index_id) || !GetVarint64(&body, &map.epoch_) ||
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
  return map;
}

}  // namespace cellindex
