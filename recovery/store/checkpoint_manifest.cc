#include "recovery/store/checkpoint_manifest.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "index/base/coding.h"

namespace cellindex {
namespace {
constexpr uint32_t kMagic = 0x5446434d;
constexpr uint8_t kFormat = 3;
constexpr uint8_t kOldestFormat = 2;  // no owner epoch (read as 0)
}  // namespace

void PutCheckpointFile(std::string* out, const CheckpointFile& f) {
  PutLengthPrefixed(out, f.db_name);
  PutLengthPrefixed(out, f.store_name);
  PutVarint64(out, f.digest.size);
  PutFixed64(out, f.digest.hash_low);
  PutFixed64(out, f.digest.hash_high);
}

bool GetCheckpointFile(absl::string_view* in, CheckpointFile* f) {
  absl::string_view db_name, store_name;
  if (!GetLengthPrefixed(in, &db_name) || !GetLengthPrefixed(in, &store_name) ||
      !GetVarint64(in, &f->digest.size) || !GetFixed64(in, &f->digest.hash_low) ||
      !GetFixed64(in, &f->digest.hash_high)) {
    return false;
  }
  f->db_name = std::string(db_name);
  f->store_name = std::string(store_name);
  return true;
}

uint64_t CheckpointManifest::total_bytes() const {
  uint64_t n = 0;
  for (const CheckpointFile& f : files) n += f.digest.size;
  return n;
}

std::string CheckpointManifest::Encode() const {
  std::string out;
  PutFrameHeader(&out, kMagic, kFormat);
  PutLengthPrefixed(&out, index_id);
  PutCellRange(&out, range);
  PutVarint64(&out, epoch);
  PutVarint64(&out, owner_epoch);
  PutVarint64(&out, applied_seq);
  PutVarint64(&out, key_count);
  PutFixed64(&out, static_cast<uint64_t>(absl::ToUnixMicros(created)));
  PutLengthPrefixed(&out, db_identity);
  PutVarint64(&out, files.size());
  for (const CheckpointFile& f : files) PutCheckpointFile(&out, f);
  PutChecksumTrailer(&out);
  return out;
}

absl::StatusOr<CheckpointManifest> CheckpointManifest::Decode(absl::string_view data) {
  auto damaged = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("checkpoint manifest is damaged: ", why));
  };
  absl::string_view body;
  uint8_t format = 0;
  if (const char* why = OpenFrame(data, kMagic, kOldestFormat, kFormat, &format, &body)) {
    return damaged(why);
  }
  CheckpointManifest m;
  uint64_t created, count;
  absl::string_view identity, index_id;
  if (!GetLengthPrefixed(&body, &index_id) || !GetCellRange(&body, &m.range) ||
      !GetVarint64(&body, &m.epoch) ||
      (format >= 3 && !GetVarint64(&body, &m.owner_epoch)) ||
      !GetVarint64(&body, &m.applied_seq) || !GetVarint64(&body, &m.key_count) ||
      !GetFixed64(&body, &created) || !GetLengthPrefixed(&body, &identity) ||
      !GetVarint64(&body, &count) || count > body.size()) {
    return damaged("bad header");
  }
  m.index_id = std::string(index_id);
  m.created = absl::FromUnixMicros(static_cast<int64_t>(created));
  m.db_identity = std::string(identity);
  for (uint64_t i = 0; i < count; ++i) {
    CheckpointFile f;
    if (!GetCheckpointFile(&body, &f)) return damaged("bad file entry");
    m.files.push_back(std::move(f));
  }
  if (!body.empty()) return damaged("trailing bytes");
  return m;
}

}  // namespace cellindex
