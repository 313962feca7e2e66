// Journal format, version 2. Framing modelled on LevelDB's log format.
//
// A cell's journal is a directory of segment files plus a head file beside
// the directory. Each segment is named by the sequence number of its first
// record, as 20 decimal digits plus ".log", so names sort in sequence order.
//
// Framing. A segment is a run of 32 KiB blocks. A block holds fragments:
//
//     checksum : fixed64, xxh3-64 of (length, type, payload), seeded with the
//                segment's salt (0 for the segment header's fragment)
//     length   : fixed16, payload bytes
//     type     : 1 byte, kFull | kFirst | kMiddle | kLast
//     payload  : `length` bytes
//
// A fragment never crosses a block boundary. When fewer than kHeaderSize bytes
// are left in a block they are zero-filled and the next fragment starts at the
// next block. A logical record is one kFull fragment, or kFirst kMiddle* kLast.
//
// Logical records. Each starts with a fixed64 sequence number. Data records
// have seq >= 1; seq 0 marks a control record, whose next byte is its kind:
//
//   data   seq (>= 1), then the cell's operations (see index/cell.h). Seqs are
//          consecutive within a segment, from the segment's first_seq.
//   header seq 0, kind 1, then (varints unless noted):
//            format        = 2
//            index id      length-prefixed: the index the journal belongs to
//            cell id
//            first_seq     = the segment's name
//            prev_first    the name of the predecessor segment; 0: none
//            prev_end      bytes of the predecessor that belong to the journal;
//                          anything after them (a torn write at a crash, or
//                          bytes written after a failed sync) is not read
//            prev_last_seq the last seq accounted for through the predecessor
//                          (its last data record, or its first_seq - 1)
//            gap_end       the highest seq the journal declared missing so far
//                          (see below); 0: none
//            writer_epoch  the owner epoch of the process that wrote it (0:
//                          no fencing; see JournalOptions::writer_epoch)
//            created       fixed64, Unix microseconds
//            salt          fixed64, random: the seed of every later fragment's
//                          checksum. A record's payload holds bytes clients
//                          chose (user metadata); without a secret seed they
//                          could plant what reads as a valid fragment, which
//                          would make a crash's torn tail read as damage.
//          The header is the first record of every segment, one kFull
//          fragment at offset 0.
//   seal   seq 0, kind 2, then last_seq (varint): written at a clean close.
//          Nothing follows it, so damage before it is never a torn tail.
//
// Extent. Each segment's header says where its predecessor ended, so a
// missing or shortened segment inside the chain is detected, and the head
// file names the newest segment, so a missing newest segment is detected too:
//
//     magic     : fixed32 0x444a4843 ("CHJD")
//     format    : 1 byte, = 1
//     cell id   : varint64
//     newest    : varint64, first_seq of the newest segment
//     closed    : 1 byte: 1 when the journal was closed cleanly, then
//       end     : varint64, the newest segment's size after its seal
//       last    : varint64, the last seq in it
//     checksum  : fixed64, xxh3-64 of every byte before it
//
// A new segment is created (header written and synced, directory synced)
// before the head names it, and appended to only after; so the head names
// the newest segment, or the one before it when the newest holds no data.
// At a clean close, after the seal is synced, the head also records where
// the journal ends: a newest segment found shorter, or ending elsewhere, is
// damage (without it, a newest segment cut at a record boundary would read
// as a shorter history, and one cut inside a record as a torn write).
//
// Gaps. When a journal is restarted above a state it cannot cover (records
// seq..first_seq-1 exist in a cell's state but not in the journal, as after
// a power loss in buffered durability), the new segment's header declares
// first_seq > prev_last_seq + 1. Reading across that gap is DataLoss; the
// cell takes a checkpoint at or above gap_end before it serves, so nothing
// needs those records again.
#ifndef CELLINDEX_RECOVERY_JOURNAL_JOURNAL_FORMAT_H_
#define CELLINDEX_RECOVERY_JOURNAL_JOURNAL_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cellindex::journal {

enum FragmentType : uint8_t {
  kFull = 1,
  kFirst = 2,
  kMiddle = 3,
  kLast = 4,
};

inline constexpr size_t kBlockSize = 32 * 1024;
inline constexpr size_t kHeaderSize = 8 + 2 + 1;
inline constexpr uint64_t kFormat = 2;

enum class ControlKind : uint8_t { kHeader = 1, kSeal = 2 };

struct SegmentHeader {
  std::string index_id;
  uint32_t cell_id = 0;
  uint64_t first_seq = 0;
  uint64_t prev_first = 0;
  uint64_t prev_end = 0;
  uint64_t prev_last_seq = 0;
  uint64_t gap_end = 0;
  uint64_t writer_epoch = 0;
  absl::Time created = absl::UnixEpoch();
  uint64_t salt = 0;
};

struct Head {
  uint32_t cell_id = 0;
  uint64_t newest = 0;
  bool closed = false;
  uint64_t closed_end = 0;
  uint64_t closed_last_seq = 0;
};

// The logical record (seq 0 included) of each control record.
std::string EncodeSegmentHeader(const SegmentHeader& h);
std::string EncodeSeal(uint64_t last_seq);

// What a logical record is.
struct RecordView {
  enum class Kind { kData, kHeader, kSeal } kind = Kind::kData;
  uint64_t seq = 0;           // data
  absl::string_view body;     // data
  SegmentHeader header;       // header
  uint64_t seal_last_seq = 0; // seal
};
// DataLoss when the record is malformed; FailedPrecondition for a header of
// another format version.
absl::StatusOr<RecordView> DecodeRecord(absl::string_view record);

std::string EncodeHead(const Head& head);
// DataLoss when damaged.
absl::StatusOr<Head> DecodeHead(absl::string_view data);

}  // namespace cellindex::journal

#endif  // CELLINDEX_RECOVERY_JOURNAL_JOURNAL_FORMAT_H_
