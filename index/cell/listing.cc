#include "index/cell/listing.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "index/cell/cell.h"
#include "index/cell/cell_scan.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "index/model/page_range.h"

namespace cellindex {
namespace {

// Appends the listed form of the record `value` stored under `key`.
absl::Status AppendListedObject(absl::string_view bucket, absl::string_view key,
                                absl::string_view value, CellId cell,
                                std::vector<ListedObject>* contents) {
  absl::StatusOr<RecordSummary> rec = DecodeRecordSummary(value);
  if (!rec.ok()) {
    return absl::DataLossError(absl::StrCat("cell ", cell, ", object ", bucket, "/",
                                            absl::CHexEscape(key), ": ", rec.status().message()));
  }
  contents->push_back({std::string(key), rec->size, std::string(rec->etag), rec->modified,
                       std::string(rec->storage_class)});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ListResult> ListObjects(const CellMap& map, const ServingCellFn& cells,
                                       absl::string_view bucket, const ListOptions& options) {
  absl::StatusOr<ScanRange> range = ListKeyRange(bucket, options);
  if (!range.ok()) return range.status();
  if (absl::Status s = NarrowToCell(map, options.cell, &*range); !s.ok()) return s;
  ListResult result;
  const int max_keys = std::min(options.max_keys, kMaxListKeys);
  if (max_keys == 0 || range->empty()) return result;  // S3: empty and not truncated

  const std::string bucket_prefix = EncodeBucketPrefix(bucket);
  const absl::string_view prefix = options.prefix;
  const absl::string_view delimiter = options.delimiter;
  CellScan scan(map, cells, CellScan::Family::kRecords, std::string(1, kRecordPrefix),
                std::move(range->end));
  if (absl::Status s = scan.Seek(range->start); !s.ok()) return s;

  // Without a delimiter pages are mostly full of keys: one allocation, no
  // regrowing on the way.
  if (delimiter.empty()) result.contents.reserve(max_keys);
  std::string last;  // the last entry returned, for the token
  bool last_is_prefix = false;
  // Past a full page the scan only looks whether anything follows; when
  // that means entering a cell that is not serving, the page is reported
  // truncated (the next page says what is there), rather than failing a
  // page whose entries were all read.
  auto advanced = [&](absl::Status s) {
    if (s.ok() || !absl::IsUnavailable(s) || result.key_count < max_keys) return s;
    result.is_truncated = true;
    return absl::OkStatus();
  };
  while (scan.Valid() && !result.is_truncated) {
    if (result.key_count == max_keys) {
      result.is_truncated = true;  // an entry follows the full page
      break;
    }
    ++result.key_count;
    const absl::string_view key = scan.encoded_key().substr(bucket_prefix.size());
    size_t cut = absl::string_view::npos;
    if (!delimiter.empty()) cut = key.find(delimiter, prefix.size());
    if (cut != absl::string_view::npos) {
      const absl::string_view common = key.substr(0, cut + delimiter.size());
      result.common_prefixes.emplace_back(common);
      last.assign(common.data(), common.size());
      last_is_prefix = true;
      // One seek past every key of the group.
      if (absl::Status s = advanced(scan.Seek(PrefixSuccessor(bucket_prefix + last))); !s.ok()) {
        return s;
      }
      continue;
    }
    if (absl::Status s =
            AppendListedObject(bucket, key, scan.value(), scan.cell_id(), &result.contents);
        !s.ok()) {
      scan.ReportDamage(s);
      return s;
    }
    last_is_prefix = false;
    if (absl::Status s = advanced(scan.Next()); !s.ok()) return s;
  }
  if (result.is_truncated) {
    result.next_continuation_token = ListPageToken(
        bucket, options, last_is_prefix ? std::move(last) : result.contents.back().key,
        last_is_prefix);
  }
  return result;
}

}  // namespace cellindex
