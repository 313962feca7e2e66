// The body of a cell's journal record (after the seq, see
// recovery/journal/journal_format.h): the operations of one writer, applied
// together. Encoded by the write path, decoded by replay; this is the one
// place that knows its layout:
//
//     op count   : varint64, then per op:
//     kind       : 1 byte, 1 = put, 2 = delete
//     key        : encoded key, length-prefixed
//     record     : encoded ObjectRecord, length-prefixed (put only), with the
//                  version and times already assigned, so replay is exact
#ifndef CELLINDEX_INDEX_CELL_CELL_OPS_H_
#define CELLINDEX_INDEX_CELL_CELL_OPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cellindex {

// Builds one body: Begin, then one Add per op.
class JournalBodyEncoder {
 public:
  explicit JournalBodyEncoder(std::string* body) : body_(body) {}
  void Begin(uint64_t op_count);
  void AddPut(absl::string_view encoded_key, absl::string_view record_bytes);
  void AddDelete(absl::string_view encoded_key);

 private:
  std::string* body_;
};

// One op of a decoded body; the views point into the body.
struct JournalOp {
  bool is_put = false;
  absl::string_view encoded_key;
  absl::string_view record_bytes;  // put only
};

// DataLoss naming what is malformed (the body's framing only; the records
// are decoded by the caller).
absl::Status DecodeJournalBody(absl::string_view body, std::vector<JournalOp>* ops);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_CELL_OPS_H_
