// Journal segment format, modelled on LevelDB's log format.
//
// A cell's journal is a directory of segment files. Each segment is named by
// the sequence number of its first record, as 20 decimal digits plus ".log",
// so names sort in sequence order.
//
// A segment is a run of 32 KiB blocks. A block holds fragments:
//
//     checksum : fixed64, xxh3-64 of (length, type, payload)
//     length   : fixed16, payload bytes
//     type     : 1 byte, kFull | kFirst | kMiddle | kLast
//     payload  : `length` bytes
//
// A fragment never crosses a block boundary. When fewer than kHeaderSize bytes
// are left in a block they are zero-filled and the next fragment starts at the
// next block. A logical record is one kFull fragment, or kFirst kMiddle* kLast.
//
// A logical record's payload is
//
//     seq      : fixed64, the cell's sequence number; consecutive, from 1
//     body     : the cell's operations (see index/cell.h)
//
// A crash can leave a torn record at the end of the newest segment. The reader
// stops at the first fragment whose checksum, type or length is wrong and
// reports where; it never returns a damaged or partial record.
#ifndef CELLINDEX_RECOVERY_JOURNAL_FORMAT_H_
#define CELLINDEX_RECOVERY_JOURNAL_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace cellindex::journal {

enum FragmentType : uint8_t {
  kFull = 1,
  kFirst = 2,
  kMiddle = 3,
  kLast = 4,
};

inline constexpr size_t kBlockSize = 32 * 1024;
inline constexpr size_t kHeaderSize = 8 + 2 + 1;

}  // namespace cellindex::journal

#endif  // CELLINDEX_RECOVERY_JOURNAL_FORMAT_H_
