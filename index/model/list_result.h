// What a listing asks and what one page of it holds: the semantics of S3
// ListObjectsV2 (see index/cell/listing.h for how a page is read).
#ifndef CELLINDEX_INDEX_MODEL_LIST_RESULT_H_
#define CELLINDEX_INDEX_MODEL_LIST_RESULT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cellindex {

// Most entries one page returns; a larger max_keys is treated as this (as S3).
inline constexpr int kMaxListKeys = 1000;

struct ListOptions {
  // Only keys that start with this. Empty: every key.
  std::string prefix;
  // Roll keys up into common prefixes at this string (any length). Empty: no
  // rolling up.
  std::string delimiter;
  // Only keys after this one. Ignored when continuation_token is set (as S3).
  std::string start_after;
  // The next_continuation_token of the previous page of the same listing
  // (same bucket, prefix and delimiter). Empty: the first page.
  std::string continuation_token;
  // Entries (keys and common prefixes) per page: 0 to 1000; more is 1000.
  int max_keys = kMaxListKeys;
  // Only what the cell with this id holds: the page ends where the cell's
  // range does (is_truncated says only whether more follows in the cell).
  // A cluster client assembles a page from the hosts that serve its cells
  // (index/rpc/cluster/cluster_client.h). Tokens are the same either way.
  // InvalidArgument when the cell map has no such cell. Unset: every cell.
  std::optional<uint32_t> cell;
};

// One key of a listing, with the fields ListObjectsV2 shows.
struct ListedObject {
  std::string key;
  uint64_t size = 0;
  std::string etag;
  absl::Time last_modified;
  std::string storage_class;  // empty means STANDARD
};

struct ListResult {
  std::vector<ListedObject> contents;
  std::vector<std::string> common_prefixes;
  // More entries follow this page: pass next_continuation_token to read them.
  // False when the page is the last, and always for max_keys 0 (as S3).
  bool is_truncated = false;
  // Set only when is_truncated.
  std::string next_continuation_token;
  // contents.size() + common_prefixes.size().
  int key_count = 0;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_LIST_RESULT_H_
