#include "bench/recovery_bench_data.h"

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"

namespace cellindex::bench::recovery_bench {
namespace {

constexpr char kBucket[] = "photos-eu-1";

}  // namespace

ObjectKey KeyOf(uint64_t i) {
  const uint64_t h = Mix64(i);
  return {kBucket, absl::StrFormat("user-%05u/2024/%016x.jpg", static_cast<unsigned>(h % 20000),
                                   h)};
}

ObjectRecord RecordOf(uint64_t i, uint64_t generation) {
  static const char* const kTypes[] = {
      "image/jpeg", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      "video/mp4", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"};
  const uint64_t h = Mix64(i ^ 0x5eed);
  ObjectRecord r;
  r.size = 4096 + h % (64ull << 20) + generation;
  r.etag = absl::StrFormat("\"%016x%016x\"", h, Mix64(h + generation));
  r.created = absl::FromUnixSeconds(1700000000 + static_cast<int64_t>(i % 30000000));
  r.modified = r.created + absl::Seconds(static_cast<int64_t>(generation));
  r.content_type = kTypes[h % 4];
  r.version = 1000000 + i;  // the Index assigns its own
  for (uint64_t replica = 0; replica < 2; ++replica) {
    const uint64_t node = (h >> (8 + 16 * replica)) % 2000;
    r.locations.push_back({absl::StrFormat("node-%04u.rack-%02u", node, node % 40),
                           absl::StrFormat("vol-%04u-%02u", node, (h >> 40) % 12),
                           (h >> 20) % (1ull << 40), r.size});
  }
  return r;
}

uint64_t TailObject(uint64_t t, uint64_t objects) { return Mix64(t + 0x7a11ull) % objects; }

}  // namespace cellindex::bench::recovery_bench
