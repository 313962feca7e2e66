// Repair questions answered by the index's Locate(volume):
//  - Scrub: the files on each volume that no record names (the bytes of a
//    write whose record was never put, a crash in between) are orphans, and
//    are removed. Run with the server stopped (the index is opened by one
//    process at a time), so no write is between its two steps.
//  - LostVolume: the objects with an extent on a volume, i.e. exactly those
//    to repair when the volume is lost, with whether another extent of each
//    is still readable.
#ifndef CELLINDEX_TOOLS_S3_SCRUB_H_
#define CELLINDEX_TOOLS_S3_SCRUB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/index.h"
#include "tools/s3/volumes.h"

namespace cellindex::s3 {

struct ScrubReport {
  struct PerVolume {
    std::string volume;
    uint64_t files = 0;       // files found
    uint64_t referenced = 0;  // named by a record
    std::vector<std::string> removed;  // orphan files (and leftover temporaries)
  };
  std::vector<PerVolume> volumes;
};

// With `dry_run`, finds orphans without removing them.
absl::StatusOr<ScrubReport> Scrub(Index& index, const Volumes& volumes, bool dry_run);

struct LostObject {
  ObjectKey key;
  uint64_t size = 0;
  std::vector<Extent> extents;  // on the lost volume
  bool other_replica = false;   // an extent elsewhere on this node still reads
};

absl::StatusOr<std::vector<LostObject>> LostVolume(Index& index, const Volumes& volumes,
                                                   const std::string& volume);

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_SCRUB_H_
