// Fuzzes the journal's control records and head (recovery/journal_format.h):
// journal::DecodeRecord (data, segment header, seal) and journal::DecodeHead.
//
// The first input byte picks what the rest is: a logical record as the
// reader hands it over, or a head file's body (the harness appends its
// checksum trailer; the input as is is decoded too). Every accepted header,
// seal and head must survive encode -> decode with the same fields and the
// same bytes; a data record's seq and body are the input's.
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "index/base/coding.h"
#include "recovery/journal/journal_format.h"
#include "tests/fuzz/fuzz_util.h"

namespace cellindex::fuzz {
namespace {

bool SameHeader(const journal::SegmentHeader& a, const journal::SegmentHeader& b) {
  return a.index_id == b.index_id && a.cell_id == b.cell_id && a.first_seq == b.first_seq &&
         a.prev_first == b.prev_first && a.prev_end == b.prev_end &&
         a.prev_last_seq == b.prev_last_seq && a.gap_end == b.gap_end &&
         a.writer_epoch == b.writer_epoch && a.created == b.created && a.salt == b.salt;
}

void CheckRecord(absl::string_view record) {
  const ExactBuffer exact(record);
  absl::StatusOr<journal::RecordView> v = journal::DecodeRecord(exact.view());
  if (!v.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(v.status()) || absl::IsFailedPrecondition(v.status()),
               v.status().ToString());
    return;
  }
  switch (v->kind) {
    case journal::RecordView::Kind::kData: {
      FUZZ_CHECK(v->seq != 0, "a data record with seq 0");
      std::string again;
      PutFixed64(&again, v->seq);
      again.append(v->body.data(), v->body.size());
      FUZZ_CHECK(again == std::string(record), "a data record does not read back as written");
      break;
    }
    case journal::RecordView::Kind::kHeader: {
      const std::string again = journal::EncodeSegmentHeader(v->header);
      absl::StatusOr<journal::RecordView> second = journal::DecodeRecord(again);
      FUZZ_CHECK(second.ok() && second->kind == journal::RecordView::Kind::kHeader,
                 "a re-encoded segment header does not decode");
      FUZZ_CHECK(SameHeader(second->header, v->header), "a segment header changed in a round trip");
      FUZZ_CHECK(journal::EncodeSegmentHeader(second->header) == again,
                 "a segment header's second encoding differs");
      break;
    }
    case journal::RecordView::Kind::kSeal: {
      absl::StatusOr<journal::RecordView> second =
          journal::DecodeRecord(journal::EncodeSeal(v->seal_last_seq));
      FUZZ_CHECK(second.ok() && second->kind == journal::RecordView::Kind::kSeal &&
                     second->seal_last_seq == v->seal_last_seq,
                 "a seal changed in a round trip");
      break;
    }
  }
}

void CheckHead(absl::string_view encoded) {
  const ExactBuffer exact(encoded);
  absl::StatusOr<journal::Head> head = journal::DecodeHead(exact.view());
  if (!head.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(head.status()), head.status().ToString());
    return;
  }
  FUZZ_CHECK(head->newest != 0, "a head that names segment 0");
  const std::string again = journal::EncodeHead(*head);
  absl::StatusOr<journal::Head> second = journal::DecodeHead(again);
  FUZZ_CHECK(second.ok(), "a re-encoded head does not decode");
  FUZZ_CHECK(second->cell_id == head->cell_id && second->newest == head->newest &&
                 second->closed == head->closed && second->closed_end == head->closed_end &&
                 second->closed_last_seq == head->closed_last_seq,
             "a head changed in a round trip");
  FUZZ_CHECK(journal::EncodeHead(*second) == again, "a head's second encoding differs");
}

}  // namespace
}  // namespace cellindex::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellindex::fuzz;
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    CheckRecord(rest);
  } else {
    CheckHead(rest);
    CheckHead(WithChecksumTrailer(rest));
  }
  return 0;
}
