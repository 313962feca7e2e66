// Fuzzes DecodeRecord and DecodeRecordSummary (index/object_record.h).
//
// The input is an encoded record's body: the harness appends its checksum
// trailer. (The input as is is decoded too, to exercise the refusals.) Every
// accepted record must survive EncodeRecord -> DecodeRecord unchanged, decode
// the same into a used record, and agree with its summary.
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "index/model/object_record.h"
#include "tests/fuzz/fuzz_util.h"

namespace cellindex::fuzz {
namespace {

bool Inside(absl::string_view part, absl::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// A record with every field set, to decode over.
ObjectRecord UsedRecord() {
  ObjectRecord r;
  r.size = 77;
  r.etag = "used-etag";
  r.created = absl::FromUnixSeconds(1);
  r.modified = absl::FromUnixSeconds(2);
  r.content_type = "text/used";
  r.storage_class = "USED";
  r.user_metadata = {{"used", "yes"}, {"zz", "last"}};
  r.version = 99;
  r.locations = {{"node-u", "vol-u", 1, 2}, {"node-v", "vol-v", 3, 4}};
  return r;
}

void CheckDecode(absl::string_view encoded) {
  absl::StatusOr<ObjectRecord> record = DecodeRecord(encoded);
  absl::StatusOr<RecordSummary> summary = DecodeRecordSummary(encoded);
  ObjectRecord reused = UsedRecord();
  const absl::Status into = DecodeRecord(encoded, &reused);
  FUZZ_CHECK(into.ok() == record.ok(), "the two DecodeRecord forms disagree");
  if (!record.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(record.status()), record.status().ToString());
  }
  if (!summary.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(summary.status()), summary.status().ToString());
    FUZZ_CHECK(!record.ok(), "DecodeRecordSummary refused a record DecodeRecord accepted");
    return;
  }
  FUZZ_CHECK(Inside(summary->etag, encoded), "summary etag points outside the encoded bytes");
  FUZZ_CHECK(Inside(summary->storage_class, encoded),
             "summary storage class points outside the encoded bytes");
  if (!record.ok()) return;

  FUZZ_CHECK(summary->size == record->size && summary->etag == record->etag &&
                 summary->modified == record->modified &&
                 summary->storage_class == record->storage_class,
             "the summary differs from the record");
  FUZZ_CHECK(reused == *record, "decoding into a used record left a field behind");

  CheckReencodes(
      *record, [](const ObjectRecord& r) { return EncodeRecord(r); },
      [](absl::string_view bytes) { return DecodeRecord(bytes); },
      [](const ObjectRecord& a, const ObjectRecord& b) { return a == b; }, "record");
}

}  // namespace
}  // namespace cellindex::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellindex::fuzz;
  CheckAsIsAndWithTrailer(data, size, CheckDecode);
  return 0;
}
