// Byte encodings shared by every on-disk format in cellindex: little-endian
// fixed-width integers, LEB128 varints and length-prefixed strings, and the
// xxh3 checksums that guard them. No other file hand-rolls byte shifts.
#ifndef CELLINDEX_INDEX_BASE_CODING_H_
#define CELLINDEX_INDEX_BASE_CODING_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

namespace cellindex {

void PutFixed16(std::string* dst, uint16_t value);
void PutFixed32(std::string* dst, uint32_t value);
void PutFixed64(std::string* dst, uint64_t value);
void PutVarint64(std::string* dst, uint64_t value);
// Appends varint64(size) followed by the bytes of `value`.
void PutLengthPrefixed(std::string* dst, absl::string_view value);

// The decoders are inline: record decoding sits on the listing's per-key path.
inline uint16_t DecodeFixed16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}
inline uint32_t DecodeFixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}
inline uint64_t DecodeFixed64(const char* p) {
  return static_cast<uint64_t>(DecodeFixed32(p)) |
         (static_cast<uint64_t>(DecodeFixed32(p + 4)) << 32);
}

// The Get* functions consume from the front of `*input`. They return false,
// leaving `*input` unspecified, when the input is too short or malformed.
inline bool GetFixed64(absl::string_view* input, uint64_t* value) {
  if (input->size() < 8) return false;
  *value = DecodeFixed64(input->data());
  input->remove_prefix(8);
  return true;
}
// The varints of more than one byte.
bool GetVarint64Slow(absl::string_view* input, uint64_t* value);
inline bool GetVarint64(absl::string_view* input, uint64_t* value) {
  if (!input->empty() && (static_cast<unsigned char>(input->front()) & 0x80) == 0) {
    *value = static_cast<unsigned char>(input->front());
    input->remove_prefix(1);
    return true;
  }
  return GetVarint64Slow(input, value);
}
bool GetVarint32(absl::string_view* input, uint32_t* value);
inline bool GetLengthPrefixed(absl::string_view* input, absl::string_view* value) {
  uint64_t len;
  if (!GetVarint64(input, &len) || len > input->size()) return false;
  *value = input->substr(0, len);
  input->remove_prefix(len);
  return true;
}
inline bool GetByte(absl::string_view* input, uint8_t* value) {
  if (input->empty()) return false;
  *value = static_cast<uint8_t>(input->front());
  input->remove_prefix(1);
  return true;
}

// xxh3 64-bit hash, the checksum used by every format.
uint64_t Checksum64(absl::string_view data);
// The same, seeded: a format whose seed is secret (a journal segment's salt)
// cannot have valid checksums forged by whoever chooses the bytes it holds.
uint64_t Checksum64(absl::string_view data, uint64_t seed);

// The trailer of every checksummed value: fixed64 xxh3-64 of all bytes before
// it. PutChecksumTrailer appends it to `*dst`; VerifyChecksumTrailer sets
// `*body` to the bytes before it and returns whether it matches (false, too,
// when `data` is shorter than the trailer).
void PutChecksumTrailer(std::string* dst);
bool VerifyChecksumTrailer(absl::string_view data, absl::string_view* body);

// A framed value: fixed32 magic, a format byte, the body, the checksum
// trailer. PutFrameHeader starts one in `*dst` (the caller appends the body
// and the trailer). OpenFrame checks the trailer, the magic and the format,
// sets `*body` to the bytes between them and returns nullptr, or returns why
// `data` is not such a value.
void PutFrameHeader(std::string* dst, uint32_t magic, uint8_t format);
const char* OpenFrame(absl::string_view data, uint32_t magic, uint8_t format,
                      absl::string_view* body);
// The same for a reader that still accepts older formats: any format byte in
// [min_format, max_format], returned in `*format` for the caller to branch on.
const char* OpenFrame(absl::string_view data, uint32_t magic, uint8_t min_format,
                      uint8_t max_format, uint8_t* format, absl::string_view* body);

// xxh3-128, the digest of whole files (checkpoint files in the store). Fed in
// pieces as a file is copied.
struct Digest128 {
  uint64_t low = 0;
  uint64_t high = 0;
  friend bool operator==(const Digest128& a, const Digest128& b) {
    return a.low == b.low && a.high == b.high;
  }
};
class Hasher128 {
 public:
  Hasher128();
  ~Hasher128();
  Hasher128(const Hasher128&) = delete;
  Hasher128& operator=(const Hasher128&) = delete;
  void Update(absl::string_view data);
  Digest128 Finish() const;

 private:
  void* state_;  // XXH3_state_t, kept out of this header
};
Digest128 Hash128(absl::string_view data);

// The smallest string greater than every string that starts with `prefix`;
// empty when there is none (`prefix` is empty or all 0xff bytes).
std::string PrefixSuccessor(absl::string_view prefix);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_BASE_CODING_H_
