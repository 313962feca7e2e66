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

}  // namespace cellindex::fuzz

#endif  // CELLINDEX_TESTS_FUZZ_FUZZ_UTIL_H_
