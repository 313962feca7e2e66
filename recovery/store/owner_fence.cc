#include "recovery/store/owner_fence.h"

#include "absl/strings/str_cat.h"
#include "index/base/coding.h"

namespace cellindex {
namespace {
constexpr uint32_t kMagic = 0x45434e46;
constexpr uint8_t kFormat = 1;
}  // namespace

std::string OwnerFence::Encode() const {
  std::string out;
  PutFrameHeader(&out, kMagic, kFormat);
  PutLengthPrefixed(&out, index_id);
  PutVarint64(&out, cell);
  PutVarint64(&out, owner_epoch);
  PutVarint64(&out, fence_seq);
  PutFixed64(&out, static_cast<uint64_t>(absl::ToUnixMicros(created)));
  PutChecksumTrailer(&out);
  return out;
}

absl::StatusOr<OwnerFence> OwnerFence::Decode(absl::string_view data) {
  auto damaged = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("owner fence is damaged: ", why));
  };
  absl::string_view body;
  if (const char* why = OpenFrame(data, kMagic, kFormat, &body)) return damaged(why);
  OwnerFence f;
  absl::string_view index_id;
  uint64_t cell = 0, created = 0;
  if (!GetLengthPrefixed(&body, &index_id) || !GetVarint64(&body, &cell) ||
      cell > UINT32_MAX || !GetVarint64(&body, &f.owner_epoch) ||
      !GetVarint64(&body, &f.fence_seq) || !GetFixed64(&body, &created)) {
    return damaged("bad body");
  }
  if (!body.empty()) return damaged("trailing bytes");
  f.index_id = std::string(index_id);
  f.cell = static_cast<CellId>(cell);
  f.created = absl::FromUnixMicros(static_cast<int64_t>(created));
  return f;
}

}  // namespace cellindex
