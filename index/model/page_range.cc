#include "index/model/page_range.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "index/base/coding.h"
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

absl::StatusOr<LocateTarget> ValidateLocateOptions(const LocateOptions& o) {
  if (o.volume.empty() == o.node.empty()) {
    return absl::InvalidArgumentError("locate needs exactly one of a volume and a node");
  }
  const LocateTarget t = LocateTargetOf(o);
  if (absl::Status s = ValidateLocationName(t.by_volume ? "volume name" : "node name", t.name);
      !s.ok()) {
    return s;
  }
  if (o.max_objects < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid max objects ", o.max_objects, ": must be 0 or more"));
  }
  return t;
}

PageToken::Kind KindOf(const LocateTarget& t) {
  return t.by_volume ? PageToken::Kind::kLocateVolume : PageToken::Kind::kLocateNode;
}

}  // namespace

absl::Status NarrowToCell(const CellMap& map, std::optional<uint32_t> cell, ScanRange* range) {
  if (!cell) return absl::OkStatus();
  const std::optional<size_t> i = map.IndexOf(*cell);
  if (!i) {
    return absl::InvalidArgumentError(
        absl::StrCat("no cell ", *cell, " in the cell map (epoch ", map.epoch(), ")"));
  }
  const CellRange& c = map.cells()[*i];
  if (range->start < c.lo) range->start = c.lo;
  if (!c.hi_unbounded && (range->end.empty() || c.hi < range->end)) range->end = c.hi;
  return absl::OkStatus();
}

absl::StatusOr<ScanRange> ListKeyRange(absl::string_view bucket, const ListOptions& options) {
  if (absl::Status s = ValidateListOptions(bucket, options); !s.ok()) return s;
  const std::string bucket_prefix = EncodeBucketPrefix(bucket);
  std::string start = bucket_prefix + options.prefix;
  std::string after;
  if (!options.continuation_token.empty()) {
    absl::StatusOr<PageToken> token = DecodePageToken(
        options.continuation_token, PageToken::Kind::kList,
        {{"bucket", bucket}, {"prefix", options.prefix}, {"delimiter", options.delimiter}});
    if (!token.ok()) return token.status();
    // Past a common prefix means past every key that starts with it.
    after = token->position_is_prefix
                ? PrefixSuccessor(bucket_prefix + token->position)
                : absl::StrCat(bucket_prefix, token->position, absl::string_view("\0", 1));
  } else if (!options.start_after.empty()) {
    after = absl::StrCat(bucket_prefix, options.start_after, absl::string_view("\0", 1));
  }
  return ScanRange{std::max(start, after), PrefixSuccessor(bucket_prefix + options.prefix)};
}

std::string ListPageToken(absl::string_view bucket, const ListOptions& options,
                          std::string position, bool position_is_prefix) {
  PageToken token;
  token.kind = PageToken::Kind::kList;
  token.scope = {std::string(bucket), options.prefix, options.delimiter};
  token.position = std::move(position);
  token.position_is_prefix = position_is_prefix;
  return EncodePageToken(token);
}

LocateTarget LocateTargetOf(const LocateOptions& o) {
  return {!o.volume.empty(), o.volume.empty() ? o.node : o.volume};
}

absl::StatusOr<ScanRange> LocateKeyRange(const LocateOptions& options) {
  absl::StatusOr<LocateTarget> target = ValidateLocateOptions(options);
  if (!target.ok()) return target.status();
  ScanRange range;
  if (!options.continuation_token.empty()) {
    absl::StatusOr<PageToken> token =
        DecodePageToken(options.continuation_token, KindOf(*target),
                        {{target->by_volume ? "volume" : "node", target->name}});
    if (!token.ok()) return token.status();
    range.start = token->position;
    range.start.push_back('\0');  // just past it
  }
  return range;
}

std::string LocatePageToken(const LocateOptions& options, std::string position) {
  const LocateTarget t = LocateTargetOf(options);
  PageToken token;
  token.kind = KindOf(t);
  token.scope = {std::string(t.name)};
  token.position = std::move(position);
  return EncodePageToken(token);
}

}  // namespace cellindex
