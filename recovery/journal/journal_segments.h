// The segment files of a journal directory (format in journal_format.h):
// their names, and listing them in order.
#ifndef CELLINDEX_RECOVERY_JOURNAL_JOURNAL_SEGMENTS_H_
#define CELLINDEX_RECOVERY_JOURNAL_JOURNAL_SEGMENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class FileSystem;
}

namespace cellindex::journal {

// A segment's file name: its first seq as 20 digits, then ".log".
std::string SegmentFileName(uint64_t first_seq);
// The first seq a segment file name stands for; false if not one.
bool ParseSegmentFileName(absl::string_view name, uint64_t* first_seq);

struct SegmentFile {
  uint64_t first = 0;
  std::string path;
};
// The journal's segments in `dir`, oldest first; none when `dir` is missing.
absl::StatusOr<std::vector<SegmentFile>> ListSegments(rocksdb::FileSystem& fs,
                                                      const std::string& dir);

}  // namespace cellindex::journal

#endif  // CELLINDEX_RECOVERY_JOURNAL_JOURNAL_SEGMENTS_H_
