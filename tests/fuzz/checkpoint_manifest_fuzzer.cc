// Fuzzes CheckpointManifest::Decode (recovery/checkpoint_manifest.h).
//
// The input is an encoded manifest's body: the harness appends its checksum
// trailer. (The input as is is decoded too, to exercise the refusals.) Every
// accepted manifest must survive Encode -> Decode with the same fields and
// the same encoding.
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "recovery/store/checkpoint_manifest.h"
#include "tests/fuzz/fuzz_util.h"

namespace cellindex::fuzz {
namespace {

// The fields known here; equal encodings (checked too) cover any others.
bool Equal(const CheckpointManifest& a, const CheckpointManifest& b) {
  if (a.range.id != b.range.id || a.range.lo != b.range.lo || a.range.hi != b.range.hi ||
      a.range.hi_unbounded != b.range.hi_unbounded || a.epoch != b.epoch ||
      a.owner_epoch != b.owner_epoch ||
      a.applied_seq != b.applied_seq || a.key_count != b.key_count || a.created != b.created ||
      a.db_identity != b.db_identity || a.files.size() != b.files.size()) {
    return false;
  }
  for (size_t i = 0; i < a.files.size(); ++i) {
    if (a.files[i].db_name != b.files[i].db_name ||
        a.files[i].store_name != b.files[i].store_name || a.files[i].digest != b.files[i].digest) {
      return false;
    }
  }
  return true;
}

void CheckDecode(absl::string_view encoded) {
  absl::StatusOr<CheckpointManifest> manifest = CheckpointManifest::Decode(encoded);
  if (!manifest.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(manifest.status()), manifest.status().ToString());
    return;
  }
  (void)manifest->total_bytes();
  CheckReencodes(
      *manifest, [](const CheckpointManifest& m) { return m.Encode(); },
      CheckpointManifest::Decode, Equal, "manifest");
}

}  // namespace
}  // namespace cellindex::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellindex::fuzz;
  CheckAsIsAndWithTrailer(data, size, CheckDecode);
  return 0;
}
