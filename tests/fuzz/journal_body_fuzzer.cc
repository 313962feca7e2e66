// Fuzzes the body of a cell's journal record (index/cell/cell_ops.h):
// DecodeJournalBody. The input is a body as the journal hands it over (its
// fragments' checksums already held). Damage is DataLoss, never a crash or a
// read past the end; every accepted body re-encodes, op by op, into one that
// decodes to the same ops, and whose second encoding equals the first.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "index/cell/cell_ops.h"
#include "tests/fuzz/fuzz_util.h"

namespace cellindex::fuzz {
namespace {

std::string Encode(const std::vector<JournalOp>& ops) {
  std::string body;
  JournalBodyEncoder e(&body);
  e.Begin(ops.size());
  for (const JournalOp& op : ops) {
    if (!op.carries_old) {
      op.is_put ? e.AddLegacyPut(op.encoded_key, op.record_bytes)
                : e.AddLegacyDelete(op.encoded_key);
    } else if (op.is_put) {
      e.AddPut(op.encoded_key, op.record_bytes, op.had_old ? &op.old : nullptr);
    } else {
      e.AddDelete(op.encoded_key, op.old);
    }
  }
  return body;
}

bool SameOps(const std::vector<JournalOp>& a, const std::vector<JournalOp>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const JournalOp& x = a[i];
    const JournalOp& y = b[i];
    if (x.is_put != y.is_put || x.encoded_key != y.encoded_key ||
        x.record_bytes != y.record_bytes || x.carries_old != y.carries_old ||
        x.had_old != y.had_old || x.old.volumes != y.old.volumes || x.old.nodes != y.old.nodes) {
      return false;
    }
  }
  return true;
}

}  // namespace
}  // namespace cellindex::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellindex;
  using namespace cellindex::fuzz;
  const ExactBuffer exact(absl::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<JournalOp> ops;
  absl::Status s = DecodeJournalBody(exact.view(), &ops);
  if (!s.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(s), s.ToString());
    return 0;
  }
  const std::string again = Encode(ops);
  std::vector<JournalOp> second;
  FUZZ_CHECK(DecodeJournalBody(again, &second).ok(), "a re-encoded body does not decode");
  FUZZ_CHECK(SameOps(ops, second), "a body's ops changed in a round trip");
  FUZZ_CHECK(Encode(second) == again, "a body's second encoding differs");
  return 0;
}
