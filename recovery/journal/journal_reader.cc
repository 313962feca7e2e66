#include "recovery/journal/journal_reader.h"

#include "absl/strings/str_cat.h"
#include "index/base/coding.h"
#include "recovery/journal/journal_format.h"

namespace cellindex::journal {
namespace {

// Checks for a well-formed fragment at `pos`; sets `*length` and `*type`.
bool FragmentAt(absl::string_view contents, uint64_t pos, uint64_t seed, size_t* length,
                uint8_t* type) {
  const uint64_t left_in_block = kBlockSize - pos % kBlockSize;
  if (left_in_block < kHeaderSize || pos + kHeaderSize > contents.size()) return false;
  const char* h = contents.data() + pos;
  const size_t len = DecodeFixed16(h + 8);
  const uint8_t t = static_cast<uint8_t>(h[10]);
  if (t < kFull || t > kLast) return false;
  if (kHeaderSize + len > left_in_block || pos + kHeaderSize + len > contents.size()) {
    return false;
  }
  if (Checksum64(absl::string_view(h + 8, 3 + len), seed) != DecodeFixed64(h)) return false;
  *length = len;
  *type = t;
  return true;
}

}  // namespace

void Reader::MarkDamage(uint64_t offset, uint64_t scan_from, std::string reason) {
  damaged_ = true;
  damage_offset_ = offset;
  scan_from_ = scan_from;
  damage_reason_ = std::move(reason);
}

Reader::Next Reader::ReadFragment(uint8_t* type, absl::string_view* payload) {
  while (true) {
    if (pos_ >= contents_.size()) return Next::kEnd;
    const uint64_t left_in_block = kBlockSize - pos_ % kBlockSize;
    if (left_in_block < kHeaderSize) {
      pos_ += left_in_block;  // zero-filled block trailer
      continue;
    }
    size_t len;
    if (!FragmentAt(contents_, pos_, seed_, &len, type)) {
      MarkDamage(pos_, pos_ + 1,
                 pos_ + kHeaderSize > contents_.size()
                           ? "truncated fragment header"
                           : "bad fragment (checksum, type or length)");
      return Next::kBad;
    }
    *payload = contents_.substr(pos_ + kHeaderSize, len);
    pos_ += kHeaderSize + len;
    return Next::kFragment;
  }
}

bool Reader::ReadRecord(absl::string_view* record, std::string* scratch) {
  if (damaged_) return false;
  bool in_record = false;
  uint64_t record_start = pos_;
  scratch->clear();
  while (true) {
    const uint64_t fragment_pos = pos_;
    uint8_t type;
    absl::string_view payload;
    switch (ReadFragment(&type, &payload)) {
      case Next::kEnd:
        if (in_record) {
          MarkDamage(record_start, contents_.size(), "record cut short at end of segment");
        }
        return false;
      case Next::kBad:
        if (in_record) damage_offset_ = record_start;
        return false;
      case Next::kFragment:
        break;
    }
    switch (type) {
      case kFull:
        if (in_record) {
          MarkDamage(record_start, fragment_pos, "record interrupted by a new record");
          return false;
        }
        *record = payload;
        valid_end_ = pos_;
        return true;
      case kFirst:
        if (in_record) {
          MarkDamage(record_start, fragment_pos, "record interrupted by a new record");
          return false;
        }
        in_record = true;
        record_start = fragment_pos;
        scratch->assign(payload.data(), payload.size());
        break;
      case kMiddle:
      case kLast:
        if (!in_record) {
          MarkDamage(fragment_pos, fragment_pos,
                     "continuation fragment without a first fragment");
          return false;
        }
        scratch->append(payload.data(), payload.size());
        if (type == kLast) {
          *record = *scratch;
          valid_end_ = pos_;
          return true;
        }
        break;
    }
  }
}

bool Reader::ValidFragmentAfterDamage() const {
  if (!damaged_) return false;
  for (uint64_t p = scan_from_; p + kHeaderSize <= contents_.size(); ++p) {
    size_t len;
    uint8_t type;
    if (FragmentAt(contents_, p, seed_, &len, &type)) return true;
  }
  return false;
}

}  // namespace cellindex::journal
