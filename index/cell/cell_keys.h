// The key space of a cell's RocksDB, and the two keys that describe the
// state itself. The default column family:
//
//     'r' encoded_key                 -> encoded ObjectRecord
//     'm' "state"                     -> fixed64 applied_seq (last journal seq
//                                        applied), fixed64 count (records)
//     'm' "identity"                  -> the state's owner (CellIdentity),
//                                        written when the state is created
//
// The "locations" column family (kLocationsColumnFamily, with options of its
// own: cell_resources.h), the reverse index:
//
//     'v' volume 0x00 encoded_key     -> ""   (by volume)
//     'n' node 0x00 encoded_key       -> ""   (by node)
//
// Every WriteBatch carries the new state, so whatever RocksDB has persisted
// is a consistent prefix of the journal. (One key, not two: it is rewritten
// by every batch, and each rewrite is another memtable entry.)
#ifndef CELLINDEX_INDEX_CELL_CELL_KEYS_H_
#define CELLINDEX_INDEX_CELL_CELL_KEYS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/cell/cell_ops.h"
#include "index/model/cell_map.h"
#include "index/model/object_record.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace cellindex {

inline constexpr char kRecordPrefix = 'r';
inline constexpr char kVolumePrefix = 'v';
inline constexpr char kNodePrefix = 'n';

std::string RecordKey(absl::string_view encoded_key);
// `prefix` (kVolumePrefix or kNodePrefix) name 0x00 encoded_key.
std::string ReverseKey(char prefix, absl::string_view name, absl::string_view encoded_key);

// The encoded object key a reverse-index key names (after its prefix and
// location name); false when the key is malformed.
bool ReverseKeyObject(absl::string_view reverse_key, absl::string_view* encoded_key);

// Adds to `b` the mutations that take `encoded_key` from a record with the
// names `old` to `rec` (null: absent), `rec_bytes` being rec's encoding: the
// record and its reverse-index entries (these in `locations`, the column
// family). Needs no read of the state.
void AddMutations(absl::string_view encoded_key, const LocationNames* old,
                  const ObjectRecord* rec, absl::string_view rec_bytes,
                  rocksdb::ColumnFamilyHandle* locations, rocksdb::WriteBatch* b);

// What the state key says; both zero in a new cell.
struct StoredState {
  uint64_t applied_seq = 0;
  uint64_t count = 0;
};
void AddState(const StoredState& state, rocksdb::WriteBatch* b);
// DataLoss when the key is damaged.
absl::StatusOr<StoredState> ReadState(rocksdb::DB* db, const rocksdb::ReadOptions& ro);

// Who a cell's local state belongs to. It is written into the state when the
// state is created, and checked at every open: state of another cell, range
// or index is damage, never served.
struct CellIdentity {
  std::string index_id;
  CellRange range;  // id, lo, hi (not the host)

  std::string Encode() const;
  std::string Describe() const;
};
// Sets the state's identity to `identity` (a child made from its parent's
// state: cell_split.h).
void AddIdentity(const CellIdentity& identity, rocksdb::WriteBatch* b);
// Checks that the state in `db` is `expected`'s: DataLoss naming both when
// it is another's, or when a state with entries (in either family) carries
// no identity. A state with nothing in it yet is given `expected` (written
// with `wo`).
absl::Status CheckIdentity(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* locations,
                           const CellIdentity& expected, const rocksdb::WriteOptions& wo);

// "bucket/key" of an encoded key, escaped, for messages.
std::string Printable(absl::string_view encoded_key);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_CELL_KEYS_H_
