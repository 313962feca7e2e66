// Frames logical journal records into the block format of journal_format.h.
// The writer only encodes; the caller writes the bytes, so a group of records
// reaches the file in one write.
#ifndef CELLINDEX_RECOVERY_JOURNAL_JOURNAL_WRITER_H_
#define CELLINDEX_RECOVERY_JOURNAL_JOURNAL_WRITER_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

namespace cellindex::journal {

class Writer {
 public:
  // `file_offset` is the current size of the segment the bytes will follow;
  // `seed` seeds every fragment's checksum (the segment's salt; 0 for the
  // segment header).
  explicit Writer(uint64_t file_offset = 0, uint64_t seed = 0)
      : block_offset_(file_offset % kBlockSizeForWriter), seed_(seed) {}

  // Appends the framed form of `record` to `*out`.
  void AddRecord(absl::string_view record, std::string* out);

 private:
  static constexpr uint64_t kBlockSizeForWriter = 32 * 1024;
  uint64_t block_offset_;
  uint64_t seed_;
};

}  // namespace cellindex::journal

#endif  // CELLINDEX_RECOVERY_JOURNAL_JOURNAL_WRITER_H_
