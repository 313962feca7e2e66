#include "index/base/coding.h"

#include <limits>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace cellindex {

void PutFixed16(std::string* dst, uint16_t value) {
  char buf[2] = {static_cast<char>(value & 0xff), static_cast<char>(value >> 8)};
  dst->append(buf, 2);
}

void PutFixed32(std::string* dst, uint32_t value) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  dst->append(buf, 4);
}

void PutFixed64(std::string* dst, uint64_t value) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  dst->append(buf, 8);
}

void PutVarint64(std::string* dst, uint64_t value) {
  char buf[10];
  int n = 0;
  while (value >= 0x80) {
    buf[n++] = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  buf[n++] = static_cast<char>(value);
  dst->append(buf, n);
}

void PutLengthPrefixed(std::string* dst, absl::string_view value) {
  PutVarint64(dst, value.size());
  dst->append(value.data(), value.size());
}

bool GetVarint64Slow(absl::string_view* input, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0, i = 0; shift <= 63 && i < static_cast<int>(input->size());
       shift += 7, ++i) {
    const uint64_t byte = static_cast<unsigned char>((*input)[i]);
    if (shift == 63 && byte > 1) return false;  // would overflow 64 bits
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      input->remove_prefix(i + 1);
      *value = result;
      return true;
    }
  }
  return false;
}

bool GetVarint32(absl::string_view* input, uint32_t* value) {
  uint64_t v;
  if (!GetVarint64(input, &v) || v > std::numeric_limits<uint32_t>::max()) return false;
  *value = static_cast<uint32_t>(v);
  return true;
}

uint64_t Checksum64(absl::string_view data) { return XXH3_64bits(data.data(), data.size()); }

uint64_t Checksum64(absl::string_view data, uint64_t seed) {
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

void PutChecksumTrailer(std::string* dst) { PutFixed64(dst, Checksum64(*dst)); }

bool VerifyChecksumTrailer(absl::string_view data, absl::string_view* body) {
  if (data.size() < 8) return false;
  *body = data.substr(0, data.size() - 8);
  return Checksum64(*body) == DecodeFixed64(data.data() + body->size());
}

void PutFrameHeader(std::string* dst, uint32_t magic, uint8_t format) {
  PutFixed32(dst, magic);
  dst->push_back(static_cast<char>(format));
}

const char* OpenFrame(absl::string_view data, uint32_t magic, uint8_t format,
                      absl::string_view* body) {
  uint8_t found;
  return OpenFrame(data, magic, format, format, &found, body);
}

const char* OpenFrame(absl::string_view data, uint32_t magic, uint8_t min_format,
                      uint8_t max_format, uint8_t* format, absl::string_view* body) {
  if (data.size() < 4 + 1 + 8) return "too short";
  if (!VerifyChecksumTrailer(data, body)) return "checksum mismatch";
  if (DecodeFixed32(body->data()) != magic) return "bad magic";
  *format = static_cast<uint8_t>((*body)[4]);
  if (*format < min_format || *format > max_format) return "unknown format";
  body->remove_prefix(5);
  return nullptr;
}

Hasher128::Hasher128() : state_(XXH3_createState()) {
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}

Hasher128::~Hasher128() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

void Hasher128::Update(absl::string_view data) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data.data(), data.size());
}

Digest128 Hasher128::Finish() const {
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  return Digest128{h.low64, h.high64};
}

Digest128 Hash128(absl::string_view data) {
  XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  return Digest128{h.low64, h.high64};
}

std::string PrefixSuccessor(absl::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xff) s.pop_back();
  if (!s.empty()) s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;
}

}  // namespace cellindex
