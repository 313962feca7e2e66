// Fuzzes DecodePageToken (index/page_token.h).
//
// A token is valid only for the kind and scope it was made for, so the input
// carries both ahead of the token's body (this framing is the harness's own):
//
//     kind         : 1 byte, taken modulo the number of kinds
//     scope count  : 1 byte, taken modulo 4
//     scope values : per value, 1 byte length, then the bytes
//     body         : the rest, a token's bytes before its checksum trailer
//
// The harness appends the trailer and base64-encodes, as EncodePageToken does.
// (The whole input is also tried as a token text, to exercise the refusals.)
// Every accepted token must have the kind and scope asked for, be refused for
// another kind or scope, and survive EncodePageToken -> DecodePageToken.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "index/model/page_token.h"
#include "tests/fuzz/fuzz_util.h"

namespace cellindex::fuzz {
namespace {

constexpr PageToken::Kind kKinds[] = {PageToken::Kind::kList, PageToken::Kind::kLocateVolume,
                                      PageToken::Kind::kLocateNode};

// DecodePageToken takes its scope as an initializer list.
absl::StatusOr<PageToken> Decode(absl::string_view token, PageToken::Kind kind,
                                 const std::vector<std::string>& s) {
  switch (s.size()) {
    case 0:
      return DecodePageToken(token, kind, {});
    case 1:
      return DecodePageToken(token, kind, {{"scope 0", s[0]}});
    case 2:
      return DecodePageToken(token, kind, {{"scope 0", s[0]}, {"scope 1", s[1]}});
    default:
      return DecodePageToken(token, kind,
                             {{"scope 0", s[0]}, {"scope 1", s[1]}, {"scope 2", s[2]}});
  }
}

bool Equal(const PageToken& a, const PageToken& b) {
  return a.kind == b.kind && a.scope == b.scope && a.position == b.position &&
         a.position_is_prefix == b.position_is_prefix;
}

void CheckDecode(absl::string_view token, PageToken::Kind kind,
                 const std::vector<std::string>& scope) {
  const ExactBuffer bytes(token);
  absl::StatusOr<PageToken> decoded = Decode(bytes.view(), kind, scope);
  if (!decoded.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(decoded.status()), decoded.status().ToString());
    return;
  }
  FUZZ_CHECK(decoded->kind == kind, "a token was accepted for another kind");
  FUZZ_CHECK(decoded->scope == scope, "a token was accepted for another scope");
  for (PageToken::Kind other : kKinds) {
    if (other == kind) continue;
    FUZZ_CHECK(!Decode(bytes.view(), other, scope).ok(), "a token was accepted for another kind");
  }
  if (!scope.empty()) {
    std::vector<std::string> other = scope;
    other.back().push_back('x');
    FUZZ_CHECK(!Decode(bytes.view(), kind, other).ok(), "a token was accepted for another scope");
  }

  CheckReencodes(
      *decoded, [](const PageToken& t) { return EncodePageToken(t); },
      [&](absl::string_view bytes) { return Decode(bytes, kind, scope); }, Equal, "token");
}

}  // namespace
}  // namespace cellindex::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellindex::fuzz;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  auto next_byte = [&input]() -> uint8_t {
    if (input.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(input.front());
    input.remove_prefix(1);
    return b;
  };
  const cellindex::PageToken::Kind kind = kKinds[next_byte() % 3];
  std::vector<std::string> scope(next_byte() % 4);
  for (std::string& value : scope) {
    const size_t n = std::min<size_t>(next_byte(), input.size());
    value = std::string(input.substr(0, n));
    input.remove_prefix(n);
  }
  CheckDecode(absl::string_view(reinterpret_cast<const char*>(data), size), kind, scope);
  CheckDecode(absl::WebSafeBase64Escape(WithChecksumTrailer(input)), kind, scope);
  return 0;
}
