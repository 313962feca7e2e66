// Helpers shared by the libFuzzer harnesses in tests/fuzz.
//
// Every harness follows one pattern: it turns the fuzz input into bytes the
// decoder accepts past its checksum (the checksum is recomputed, so the fuzzer
// explores the fields rather than the hash), decodes, and for every accepted
// input checks that decode -> encode -> decode gives the same value and that
// the second encoding equals the first. A violated check aborts, which
// libFuzzer reports as a crash with the input that caused it.
//
// The harnesses use only the Encode/Decode APIs and the checksum-trailer
// helpers of index/coding.h, not the byte layouts, so they keep working when a
// format gains a field.
#ifndef CELLINDEX_TESTS_FUZZ_FUZZ_UTIL_H_
#define CELLINDEX_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "index/base/coding.h"

// Aborts with the failed condition and a note when `cond` is false.
#define FUZZ_CHECK(cond, note)                                                      \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   std::string(note).c_str());                                      \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace cellindex::fuzz {

// A heap copy of exactly `data.size()` bytes, so that AddressSanitizer reports
// any read past the end (a std::string's spare capacity would hide one).
class ExactBuffer {
 public:
  explicit ExactBuffer(absl::string_view data)
      : size_(data.size()), bytes_(new char[data.size() == 0 ? 1 : data.size()]) {
    if (size_ > 0) std::memcpy(bytes_.get(), data.data(), size_);
  }
  absl::string_view view() const { return absl::string_view(bytes_.get(), size_); }

 private:
  size_t size_;
  std::unique_ptr<char[]> bytes_;
};

// `body` followed by the checksum trailer every checksummed format ends with.
inline std::string WithChecksumTrailer(absl::string_view body) {
  std::string out(body);
  PutChecksumTrailer(&out);
  return out;
}

// The bytes before the checksum trailer of `encoded` (which must verify).
inline std::string BodyOf(absl::string_view encoded) {
  absl::string_view body;
  FUZZ_CHECK(VerifyChecksumTrailer(encoded, &body), "an encoder wrote a bad checksum trailer");
  return std::string(body);
}

// The round trip every accepted value must survive: `encode` it, decode the
// bytes again (from an exact-size buffer), and the second value must be
// `same` as the first and encode to the same bytes. `what` names the value
// in the failure.
template <typename T, typename Encode, typename Decode, typename Same>
void CheckReencodes(const T& value, Encode encode, Decode decode, Same same, const char* what) {
  const std::string again = encode(value);
  const ExactBuffer again_bytes(again);
  auto second = decode(again_bytes.view());
  FUZZ_CHECK(second.ok(), std::string("a re-encoded ") + what + " does not decode: " +
                              second.status().ToString());
  FUZZ_CHECK(same(*second, value), std::string("a ") + what + " changed in decode -> encode -> decode");
  FUZZ_CHECK(encode(*second) == again,
             std::string("a ") + what + "'s second encoding differs from its first");
}

// Runs `check` on the input as it is, and with a valid checksum trailer
// appended (so that inputs get past the checksum to the fields).
template <typename Check>
void CheckAsIsAndWithTrailer(const uint8_t* data, size_t size, Check check) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  check(input);
  const ExactBuffer with_trailer(WithChecksumTrailer(input));
  check(with_trailer.view());
}

}  // namespace cellindex::fuzz

#endif  // CELLINDEX_TESTS_FUZZ_FUZZ_UTIL_H_
