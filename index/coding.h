// Byte encodings shared by every on-disk format in cellindex: little-endian
// fixed-width integers, LEB128 varints and length-prefixed strings, and the
// xxh3 checksums that guard them. No other file hand-rolls byte shifts.
#ifndef CELLINDEX_INDEX_CODING_H_
#define CELLINDEX_INDEX_CODING_H_

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

uint16_t DecodeFixed16(const char* p);
uint32_t DecodeFixed32(const char* p);
uint64_t DecodeFixed64(const char* p);

// The Get* functions consume from the front of `*input`. They return false,
// leaving `*input` unspecified, when the input is too short or malformed.
bool GetFixed64(absl::string_view* input, uint64_t* value);
bool GetVarint64(absl::string_view* input, uint64_t* value);
bool GetVarint32(absl::string_view* input, uint32_t* value);
bool GetLengthPrefixed(absl::string_view* input, absl::string_view* value);
bool GetByte(absl::string_view* input, uint8_t* value);

// xxh3 64-bit hash, the checksum used by every format.
uint64_t Checksum64(absl::string_view data);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CODING_H_
