// Listing the objects of a bucket with the semantics of S3 ListObjectsV2.
//
// Keys come in binary (UTF-8 byte) order. With a delimiter, every key that
// holds the delimiter after the prefix is rolled up into one common prefix:
// the key up to and including the first such delimiter. A page holds at most
// max_keys entries, keys and common prefixes together, in key order (a common
// prefix sits where its first key would). A common prefix is read with one
// seek past its keys, never by reading each of them.
#ifndef CELLINDEX_INDEX_LISTING_H_
#define CELLINDEX_INDEX_LISTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "index/cell_map.h"
#include "index/serving_cell.h"

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

// One page of `bucket`, read from `cells` (cells(i) gives the cell serving
// map.cells()[i]); Index::List calls this. InvalidArgument naming the problem
// for a bad bucket name, a prefix, delimiter or start_after that is not UTF-8, a negative
// max_keys, or a continuation token that was altered or belongs to another
// bucket, prefix or delimiter. Unavailable naming the cell when a cell the
// page must read is not serving; DataLoss when a stored record is damaged.
absl::StatusOr<ListResult> ListObjects(const CellMap& map, const ServingCellFn& cells,
                                       absl::string_view bucket, const ListOptions& options);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_LISTING_H_
