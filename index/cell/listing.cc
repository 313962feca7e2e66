#include "index/cell/listing.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "index/cell/cell.h"
#include "index/cell/cell_scan.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "index/model/page_token.h"

namespace cellindex {
namespace {

absl::Status ValidateListOptions(absl::string_view bucket, const ListOptions& o) {
  if (absl::Status s = ValidateBucketName(bucket); !s.ok()) return s;
  if (o.max_keys < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid max-keys ", o.max_keys, ": must be 0 or more"));
  }
  const std::pair<const char*, const std::string*> strings[] = {
      {"prefix", &o.prefix}, {"delimiter", &o.delimiter}, {"start-after", &o.start_after}};
  for (const auto& [name, value] : strings) {
    if (!IsValidUtf8(*value)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid ", name, ": not valid UTF-8"));
    }
  }
  return absl::OkStatus();
}

// The encoded key the page starts at: just past the previous page's last
// entry, or past start_after, and never before the prefix.
absl::StatusOr<std::string> StartKey(absl::string_view bucket, const ListOptions& o) {
  const std::string bucket_prefix = EncodeBucketPrefix(bucket);
  std::string start = bucket_prefix + o.prefix;
  std::string after;
  if (!o.continuation_token.empty()) {
    absl::StatusOr<PageToken> token =
        DecodePageToken(o.continuation_token, PageToken::Kind::kList,
                        {{"bucket", bucket}, {"prefix", o.prefix}, {"delimiter", o.delimiter}});
    if (!token.ok()) return token.status();
    // Past a common prefix means past every key that starts with it.
    after = token->position_is_prefix
                ? PrefixSuccessor(bucket_prefix + token->position)
                : absl::StrCat(bucket_prefix, token->position, absl::string_view("\0", 1));
  } else if (!o.start_after.empty()) {
    after = absl::StrCat(bucket_prefix, o.start_after, absl::string_view("\0", 1));
  }
  return std::max(start, after);
}

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
  if (absl::Status s = ValidateListOptions(bucket, options); !s.ok()) return s;
  absl::StatusOr<std::string> start = StartKey(bucket, options);
  if (!start.ok()) return start.status();
  ListResult result;
  const int max_keys = std::min(options.max_keys, kMaxListKeys);
  if (max_keys == 0) return result;  // S3: empty and not truncated

  const std::string bucket_prefix = EncodeBucketPrefix(bucket);
  const absl::string_view prefix = options.prefix;
  const absl::string_view delimiter = options.delimiter;
  CellScan scan(map, cells, CellScan::Family::kRecords, std::string(1, kRecordPrefix),
                PrefixSuccessor(bucket_prefix + options.prefix));
  if (absl::Status s = scan.Seek(*start); !s.ok()) return s;

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
    PageToken token;
    token.kind = PageToken::Kind::kList;
    token.scope = {std::string(bucket), options.prefix, options.delimiter};
    token.position = last_is_prefix ? std::move(last) : result.contents.back().key;
    token.position_is_prefix = last_is_prefix;
    result.next_continuation_token = EncodePageToken(token);
  }
  return result;
}

}  // namespace cellindex
