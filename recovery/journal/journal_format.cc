#include "recovery/journal/journal_format.h"

#include "absl/strings/str_cat.h"
#include "index/base/coding.h"

namespace cellindex::journal {
namespace {

constexpr uint32_t kHeadMagic = 0x444a4843;
constexpr uint8_t kHeadFormat = 1;

absl::Status Malformed(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("malformed journal ", what));
}

}  // namespace

std::string EncodeSegmentHeader(const SegmentHeader& h) {
  std::string out;
  PutFixed64(&out, 0);
  out.push_back(static_cast<char>(ControlKind::kHeader));
  PutVarint64(&out, kFormat);
  PutLengthPrefixed(&out, h.index_id);
  PutVarint64(&out, h.cell_id);
  PutVarint64(&out, h.first_seq);
  PutVarint64(&out, h.prev_first);
  PutVarint64(&out, h.prev_end);
  PutVarint64(&out, h.prev_last_seq);
  PutVarint64(&out, h.gap_end);
  PutVarint64(&out, h.writer_epoch);
  PutFixed64(&out, static_cast<uint64_t>(absl::ToUnixMicros(h.created)));
  PutFixed64(&out, h.salt);
  return out;
}

std::string EncodeSeal(uint64_t last_seq) {
  std::string out;
  PutFixed64(&out, 0);
  out.push_back(static_cast<char>(ControlKind::kSeal));
  PutVarint64(&out, last_seq);
  return out;
}

absl::StatusOr<RecordView> DecodeRecord(absl::string_view record) {
  RecordView v;
  if (!GetFixed64(&record, &v.seq)) return Malformed("record: no sequence number");
  if (v.seq != 0) {
    v.kind = RecordView::Kind::kData;
    v.body = record;
    return v;
  }
  uint8_t kind;
  if (!GetByte(&record, &kind)) return Malformed("control record: no kind");
  if (kind == static_cast<uint8_t>(ControlKind::kSeal)) {
    v.kind = RecordView::Kind::kSeal;
    if (!GetVarint64(&record, &v.seal_last_seq) || !record.empty()) return Malformed("seal");
    return v;
  }
  if (kind != static_cast<uint8_t>(ControlKind::kHeader)) {
    return Malformed(absl::StrCat("control record of unknown kind ", kind));
  }
  v.kind = RecordView::Kind::kHeader;
  SegmentHeader& h = v.header;
  uint64_t format, cell, created;
  absl::string_view index_id;
  if (!GetVarint64(&record, &format)) return Malformed("segment header");
  if (format != kFormat) {
    return absl::FailedPreconditionError(
        absl::StrCat("journal segment format ", format, " is not supported (this is format ",
                     kFormat, ")"));
  }
  if (!GetLengthPrefixed(&record, &index_id) || !GetVarint64(&record, &cell) ||
      cell > UINT32_MAX || !GetVarint64(&record, &h.first_seq) ||
      !GetVarint64(&record, &h.prev_first) || !GetVarint64(&record, &h.prev_end) ||
      !GetVarint64(&record, &h.prev_last_seq) || !GetVarint64(&record, &h.gap_end) ||
      !GetVarint64(&record, &h.writer_epoch) || !GetFixed64(&record, &created) ||
      !GetFixed64(&record, &h.salt) || !record.empty() || h.first_seq == 0) {
    return Malformed("segment header");
  }
  h.index_id = std::string(index_id);
  h.cell_id = static_cast<uint32_t>(cell);
  h.created = absl::FromUnixMicros(static_cast<int64_t>(created));
  return v;
}

std::string EncodeHead(const Head& head) {
  std::string out;
  PutFrameHeader(&out, kHeadMagic, kHeadFormat);
  PutVarint64(&out, head.cell_id);
  PutVarint64(&out, head.newest);
  out.push_back(head.closed ? 1 : 0);
  if (head.closed) {
    PutVarint64(&out, head.closed_end);
    PutVarint64(&out, head.closed_last_seq);
  }
  PutChecksumTrailer(&out);
  return out;
}

absl::StatusOr<Head> DecodeHead(absl::string_view data) {
  auto damaged = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("journal head is damaged: ", why));
  };
  absl::string_view body;
  if (const char* why = OpenFrame(data, kHeadMagic, kHeadFormat, &body)) return damaged(why);
  uint8_t closed;
  uint64_t cell;
  Head head;
  if (!GetVarint64(&body, &cell) || cell > UINT32_MAX || !GetVarint64(&body, &head.newest) ||
      head.newest == 0 || !GetByte(&body, &closed) || closed > 1) {
    return damaged("bad fields");
  }
  head.closed = closed == 1;
  if (head.closed && (!GetVarint64(&body, &head.closed_end) ||
                      !GetVarint64(&body, &head.closed_last_seq))) {
    return damaged("bad fields");
  }
  if (!body.empty()) return damaged("trailing bytes");
  head.cell_id = static_cast<uint32_t>(cell);
  return head;
}

}  // namespace cellindex::journal
