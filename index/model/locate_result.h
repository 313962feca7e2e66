// What a location lookup asks and what one page of its answer holds (see
// index/cell/locate.h for how it is read).
#ifndef CELLINDEX_INDEX_MODEL_LOCATE_RESULT_H_
#define CELLINDEX_INDEX_MODEL_LOCATE_RESULT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "index/model/object_key.h"
#include "index/model/object_record.h"

namespace cellindex {

// Most objects one page returns; a larger max_objects is treated as this.
inline constexpr int kMaxLocateObjects = 1000;

struct LocateOptions {
  // Exactly one of the two: the volume or the node whose objects to find.
  std::string volume;
  std::string node;
  // The next_continuation_token of the previous page of the same lookup.
  // Empty: the first page.
  std::string continuation_token;
  // Objects per page: 0 to 1000; more is 1000.
  int max_objects = kMaxLocateObjects;
  // Only what the cell with this id holds, as ListOptions::cell.
  std::optional<uint32_t> cell;
};

struct LocatedObject {
  ObjectKey key;
  uint64_t size = 0;
  uint64_t version = 0;
  // The object's extents on the volume (or node) asked about: a replica, or
  // several shards.
  std::vector<Extent> extents;
};

struct LocateResult {
  std::vector<LocatedObject> objects;
  // More objects follow: pass next_continuation_token to read them.
  bool is_truncated = false;
  // Set only when is_truncated.
  std::string next_continuation_token;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_LOCATE_RESULT_H_
