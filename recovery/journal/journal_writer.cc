#include "recovery/journal/journal_writer.h"

#include <algorithm>

#include "index/base/coding.h"
#include "recovery/journal/journal_format.h"

namespace cellindex::journal {

static_assert(kBlockSize == 32 * 1024, "Writer's block size must match the format");

void Writer::AddRecord(absl::string_view record, std::string* out) {
  bool begin = true;
  do {
    const size_t left_in_block = kBlockSize - block_offset_;
    if (left_in_block < kHeaderSize) {
      out->append(left_in_block, '\0');
      block_offset_ = 0;
      continue;
    }
    const size_t avail = left_in_block - kHeaderSize;
    const size_t n = std::min(avail, record.size());
    const bool end = n == record.size();
    FragmentType type = begin && end ? kFull : begin ? kFirst : end ? kLast : kMiddle;

    std::string header_tail;  // length + type: covered by the checksum
    PutFixed16(&header_tail, static_cast<uint16_t>(n));
    header_tail.push_back(static_cast<char>(type));
    std::string covered = header_tail;
    covered.append(record.data(), n);
    PutFixed64(out, Checksum64(covered, seed_));
    out->append(covered);

    block_offset_ += kHeaderSize + n;
    record.remove_prefix(n);
    begin = false;
    if (end) break;
  } while (true);
}

}  // namespace cellindex::journal
