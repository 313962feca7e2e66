#include "index/cell/locate.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "index/cell/cell.h"
#include "index/cell/cell_scan.h"
#include "index/model/page_range.h"

namespace cellindex {
namespace {

// The object whose reverse-index entry the scan is at, with its extents on
// the target, read from its record at the scan's snapshot.
absl::StatusOr<LocatedObject> ReadLocated(CellScan& scan, const LocateTarget& t) {
  const absl::string_view encoded_key = scan.encoded_key();
  absl::StatusOr<ObjectKey> key = DecodeKey(encoded_key);
  auto damaged = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("cell ", scan.cell_id(), ", ",
                                            t.by_volume ? "volume " : "node ", t.name, " entry ",
                                            absl::CHexEscape(encoded_key), ": ", why));
  };
  if (!key.ok()) return damaged(key.status().message());
  std::string value;
  absl::Status s = scan.GetInCell(absl::StrCat(std::string(1, kRecordPrefix), encoded_key), &value);
  if (absl::IsNotFound(s)) return damaged("the reverse index names an object with no record");
  if (!s.ok()) return s;
  absl::StatusOr<ObjectRecord> rec = DecodeRecord(value);
  if (!rec.ok()) return damaged(rec.status().message());
  LocatedObject o;
  o.key = *std::move(key);
  o.size = rec->size;
  o.version = rec->version;
  for (Extent& e : rec->locations) {
    if ((t.by_volume ? e.volume : e.node) == t.name) o.extents.push_back(std::move(e));
  }
  if (o.extents.empty()) return damaged("the object's record has no extent there");
  return o;
}

}  // namespace

absl::StatusOr<LocateResult> LocateObjects(const CellMap& map, const ServingCellFn& cells,
                                           const LocateOptions& options) {
  absl::StatusOr<ScanRange> range = LocateKeyRange(options);
  if (!range.ok()) return range.status();
  if (absl::Status s = NarrowToCell(map, options.cell, &*range); !s.ok()) return s;
  const LocateTarget target = LocateTargetOf(options);
  LocateResult result;
  const int max_objects = std::min(options.max_objects, kMaxLocateObjects);
  if (max_objects == 0 || range->empty()) return result;

  std::string space(1, target.by_volume ? kVolumePrefix : kNodePrefix);
  space.append(target.name.data(), target.name.size());
  space.push_back('\0');
  CellScan scan(map, cells, CellScan::Family::kLocations, std::move(space),
                std::move(range->end));
  if (absl::Status s = scan.Seek(range->start); !s.ok()) return s;
  std::string last;
  while (scan.Valid()) {
    if (result.objects.size() == static_cast<size_t>(max_objects)) {
      result.is_truncated = true;
      break;
    }
    absl::StatusOr<LocatedObject> object = ReadLocated(scan, target);
    if (!object.ok()) {
      scan.ReportDamage(object.status());
      return object.status();
    }
    last.assign(scan.encoded_key().data(), scan.encoded_key().size());
    result.objects.push_back(*std::move(object));
    absl::Status s = scan.Next();
    if (absl::IsUnavailable(s) && result.objects.size() == static_cast<size_t>(max_objects)) {
      // Looking past a full page stepped into a cell that is not serving:
      // the page is whole; the next one says what follows.
      result.is_truncated = true;
      break;
    }
    if (!s.ok()) return s;
  }
  if (result.is_truncated) {
    result.next_continuation_token = LocatePageToken(options, std::move(last));
  }
  return result;
}

}  // namespace cellindex
