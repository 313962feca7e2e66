#include "index/model/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "index/base/coding.h"

namespace cellindex {
namespace {

constexpr uint8_t kPositionIsPrefix = 1;

absl::Status BadToken(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid continuation token: ", why));
}

}  // namespace

std::string EncodePageToken(const PageToken& token) {
  std::string raw;
  raw.push_back(static_cast<char>(token.kind));
  PutVarint64(&raw, token.scope.size());
  for (const std::string& s : token.scope) PutLengthPrefixed(&raw, s);
  PutLengthPrefixed(&raw, token.position);
  raw.push_back(static_cast<char>(token.position_is_prefix ? kPositionIsPrefix : 0));
  PutChecksumTrailer(&raw);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<PageToken> DecodePageToken(absl::string_view token, PageToken::Kind kind,
                                          std::initializer_list<TokenScopeField> scope) {
  std::string raw;
  // Re-encoding must give the token back: base64 has spare bits in its last
  // character, and a token altered there must not pass.
  if (!absl::WebSafeBase64Unescape(token, &raw) || absl::WebSafeBase64Escape(raw) != token) {
    return BadToken("not a token of this index (damaged or altered)");
  }
  if (raw.size() < 9) return BadToken("too short");
  absl::string_view body;
  if (!VerifyChecksumTrailer(raw, &body)) {
    return BadToken("checksum mismatch (damaged or altered)");
  }
  PageToken t;
  uint8_t kind_byte, flags;
  uint64_t count;
  if (!GetByte(&body, &kind_byte) || !GetVarint64(&body, &count) || count > body.size()) {
    return BadToken("malformed");
  }
  for (uint64_t i = 0; i < count; ++i) {
    absl::string_view s;
    if (!GetLengthPrefixed(&body, &s)) return BadToken("malformed");
    t.scope.emplace_back(s);
  }
  absl::string_view position;
  if (!GetLengthPrefixed(&body, &position) || !GetByte(&body, &flags) || !body.empty()) {
    return BadToken("malformed");
  }
  t.kind = static_cast<PageToken::Kind>(kind_byte);
  t.position = std::string(position);
  t.position_is_prefix = (flags & kPositionIsPrefix) != 0;

  if (t.kind != kind) return BadToken("it belongs to another kind of request");
  if (t.scope.size() != scope.size()) return BadToken("malformed scope");
  size_t i = 0;
  for (const TokenScopeField& f : scope) {
    if (t.scope[i++] != f.value) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid continuation token: it belongs to another ", f.name));
    }
  }
  return t;
}

}  // namespace cellindex
