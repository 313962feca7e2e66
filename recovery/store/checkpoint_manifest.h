// A checkpoint manifest: the list of files that make up one consistent state
// of a cell's RocksDB, published in the durable store.
//
// Where manifests and their files live in the store: recovery/store/layout.h.
//
// Manifest format (little-endian, LEB128 varints):
//
//     magic        : fixed32 0x5446434d ("MCFT")
//     format       : 1 byte, = 3 (2: without the owner epoch, read as 0)
//     index id     : length-prefixed, the index the cell belongs to
//     cell id      : varint64
//     lo           : length-prefixed; hi_unbounded: 1 byte; hi: length-prefixed
//     epoch        : varint64 (of the cell map when taken)
//     owner epoch  : varint64, the epoch of the owner whose state it is (its
//                    journal's writer epoch; 0: one process, never fenced).
//                    Checked against the owner fences (owner_fence.h)
//     applied_seq  : varint64, the last journal record inside the state
//     key count    : varint64, objects in the state
//     created      : fixed64, Unix microseconds
//     db identity  : length-prefixed, the RocksDB identity to restore
//     file count   : varint64, then per file:
//                      db name, store name (length-prefixed),
//                      size (varint64), xxh3-128 (fixed64 low, fixed64 high)
//     checksum     : fixed64, xxh3-64 of every byte before it
#ifndef CELLINDEX_RECOVERY_STORE_CHECKPOINT_MANIFEST_H_
#define CELLINDEX_RECOVERY_STORE_CHECKPOINT_MANIFEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "index/model/cell_map.h"
#include "recovery/store/durable_store.h"
#include "recovery/store/layout.h"

namespace cellindex {

struct CheckpointFile {
  std::string db_name;     // name inside the RocksDB directory
  std::string store_name;  // object name in the durable store
  FileDigest digest;
};
// One file's entry, as the manifest (and a cell's list of files left in the
// store) encodes it. GetCheckpointFile is false when `*in` does not start
// with a whole entry.
void PutCheckpointFile(std::string* out, const CheckpointFile& f);
bool GetCheckpointFile(absl::string_view* in, CheckpointFile* f);

struct CheckpointManifest {
  std::string index_id;
  CellRange range;
  uint64_t epoch = 0;
  uint64_t owner_epoch = 0;
  uint64_t applied_seq = 0;
  uint64_t key_count = 0;
  absl::Time created = absl::UnixEpoch();
  std::string db_identity;
  std::vector<CheckpointFile> files;

  uint64_t total_bytes() const;
  std::string Encode() const;
  // DataLoss when damaged.
  static absl::StatusOr<CheckpointManifest> Decode(absl::string_view data);
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_STORE_CHECKPOINT_MANIFEST_H_
