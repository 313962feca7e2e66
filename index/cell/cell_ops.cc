#include "index/cell/cell_ops.h"

#include "index/base/coding.h"

namespace cellindex {
namespace {
constexpr uint8_t kOpPut = 1;
constexpr uint8_t kOpDelete = 2;
}  // namespace

void JournalBodyEncoder::Begin(uint64_t op_count) { PutVarint64(body_, op_count); }

void JournalBodyEncoder::AddPut(absl::string_view encoded_key, absl::string_view record_bytes) {
  body_->push_back(static_cast<char>(kOpPut));
  PutLengthPrefixed(body_, encoded_key);
  PutLengthPrefixed(body_, record_bytes);
}

void JournalBodyEncoder::AddDelete(absl::string_view encoded_key) {
  body_->push_back(static_cast<char>(kOpDelete));
  PutLengthPrefixed(body_, encoded_key);
}

absl::Status DecodeJournalBody(absl::string_view body, std::vector<JournalOp>* ops) {
  ops->clear();
  uint64_t n;
  if (!GetVarint64(&body, &n) || n > body.size()) return absl::DataLossError("malformed op count");
  ops->reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint8_t kind;
    JournalOp op;
    if (!GetByte(&body, &kind) || (kind != kOpPut && kind != kOpDelete) ||
        !GetLengthPrefixed(&body, &op.encoded_key) ||
        (kind == kOpPut && !GetLengthPrefixed(&body, &op.record_bytes))) {
      return absl::DataLossError("malformed op");
    }
    op.is_put = kind == kOpPut;
    ops->push_back(op);
  }
  if (!body.empty()) return absl::DataLossError("trailing bytes after ops");
  return absl::OkStatus();
}

}  // namespace cellindex
