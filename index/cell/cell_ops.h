// The body of a cell's journal record (after the seq, see
// recovery/journal/journal_format.h): the operations of one writer, applied
// together. Encoded by the write path, decoded by replay; this is the one
// place that knows its layout:
//
//     op count   : varint64, then per op:
//     kind       : 1 byte
//     key        : encoded key, length-prefixed
//
//   kind 3, put:    record : encoded ObjectRecord, length-prefixed, with the
//                            version and times already assigned
//                   had    : 1 byte, 1 when the key held a record before
//                   old    : (when had) the names the old record's extents
//                            put in the reverse index (below)
//   kind 4, delete: old    : the names of the deleted record's extents
//
//     names      : varint64 count, then each volume name length-prefixed;
//                  varint64 count, then each node name length-prefixed
//                  (each name once)
//
// Kinds 3 and 4 carry everything replay needs to apply an op without reading
// the state: the new record and the reverse-index entries to delete. Replay
// builds its RocksDB batches blindly, so it is bound by reading the journal,
// not by point lookups. The state an op was prepared against is exactly the
// state replay applies it to (journal order is apply order), so the old
// names are those the state holds.
//
// Kinds 1 (put: key, record) and 2 (delete: key) are the bodies written
// before: they carry no old names, and replay still applies them by reading
// the old record (see Cell::Replay).
#ifndef CELLINDEX_INDEX_CELL_CELL_OPS_H_
#define CELLINDEX_INDEX_CELL_CELL_OPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "index/model/object_record.h"

namespace cellindex {

// The names a record's extents put in the reverse index, each once (views
// into the record): what a write that replaces or removes it deletes.
struct LocationNames {
  std::vector<absl::string_view> volumes;
  std::vector<absl::string_view> nodes;
};
LocationNames LocationNamesOf(const ObjectRecord& record);

// Builds one body: Begin, then one Add per op.
class JournalBodyEncoder {
 public:
  explicit JournalBodyEncoder(std::string* body) : body_(body) {}
  void Begin(uint64_t op_count);
  // `old`: the names of the record the key held, null when it held none.
  void AddPut(absl::string_view encoded_key, absl::string_view record_bytes,
              const LocationNames* old);
  void AddDelete(absl::string_view encoded_key, const LocationNames& old);
  // The bodies of older versions (kinds 1 and 2), for tests of their replay.
  void AddLegacyPut(absl::string_view encoded_key, absl::string_view record_bytes);
  void AddLegacyDelete(absl::string_view encoded_key);

 private:
  std::string* body_;
};

// One op of a decoded body; the views point into the body.
struct JournalOp {
  bool is_put = false;
  absl::string_view encoded_key;
  absl::string_view record_bytes;  // put only
  // Kinds 3 and 4: what the key held before the op (had_old, and its
  // names). Kinds 1 and 2 carry neither: replay must read the state.
  bool carries_old = false;
  bool had_old = false;
  LocationNames old;
};

// DataLoss naming what is malformed (the body's framing only; the records
// are decoded by the caller).
absl::Status DecodeJournalBody(absl::string_view body, std::vector<JournalOp>* ops);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_CELL_OPS_H_
