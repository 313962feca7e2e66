// An owner fence: where one owner of a cell took it over from the owners
// before it, written to the durable store by host processes (owner epochs,
// JournalOptions::writer_epoch) before the new owner serves the cell.
//
// Why. An owner whose lease lapsed may still be running (frozen, then
// woken). Its journal appends after the new owner's start are never read
// (the new owner's first segment says where the chain ends), but its
// checkpoint could still be published: a manifest naming a state with
// writes nobody acknowledged, at seqs the new owner uses for its own. So a
// manifest of owner epoch E at applied_seq S is valid only if S is at most
// the fence of the first owner epoch after E: every write in it was then
// in the journal that owner took over. A manifest past it is a late
// owner's: kept in the store, never restored from.
//
// Where: recovery/store/layout.h (OwnerFenceName). Format (little-endian,
// LEB128 varints):
//
//     magic        : fixed32 0x45434e46 ("FNCE")
//     format       : 1 byte, = 1
//     index id     : length-prefixed
//     cell id      : varint64
//     owner epoch  : varint64, the owner that wrote it
//     fence seq    : varint64, the last seq of the owners before it (its
//                    journal's first new record is fence seq + 1)
//     created      : fixed64, Unix microseconds
//     checksum     : fixed64, xxh3-64 of every byte before it
#ifndef CELLINDEX_RECOVERY_STORE_OWNER_FENCE_H_
#define CELLINDEX_RECOVERY_STORE_OWNER_FENCE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "index/model/cell_map.h"

namespace cellindex {

struct OwnerFence {
  std::string index_id;
  CellId cell = 0;
  uint64_t owner_epoch = 0;
  uint64_t fence_seq = 0;
  absl::Time created = absl::UnixEpoch();

  std::string Encode() const;
  // DataLoss when damaged.
  static absl::StatusOr<OwnerFence> Decode(absl::string_view data);
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_STORE_OWNER_FENCE_H_
