// Continuation tokens for paginated reads (List, Locate).
//
// A token is opaque to callers: web-safe base64 (no padding) of
//
//     kind        : 1 byte, what is paged (see PageToken::Kind)
//     scope count : varint64, then each scope value length-prefixed
//     position    : length-prefixed, the last item the page returned
//     flags       : 1 byte, bit 0: the position is a common prefix
//     checksum    : fixed64, xxh3-64 of every byte before it
//
// The scope is what the caller asked for (bucket, prefix, delimiter; or the
// volume or node): a token is valid only for the same kind and scope, so a
// token from another listing is refused, never read as a position in this one.
#ifndef CELLINDEX_INDEX_MODEL_PAGE_TOKEN_H_
#define CELLINDEX_INDEX_MODEL_PAGE_TOKEN_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellindex {

struct PageToken {
  enum class Kind : uint8_t { kList = 1, kLocateVolume = 2, kLocateNode = 3 };
  Kind kind = Kind::kList;
  std::vector<std::string> scope;
  std::string position;
  bool position_is_prefix = false;
};

// One scope value and its name, for the message when a token's differs.
struct TokenScopeField {
  absl::string_view name;  // e.g. "bucket"
  absl::string_view value;
};

std::string EncodePageToken(const PageToken& token);
// InvalidArgument naming the problem when `token` is not a token this code
// wrote (damaged, altered, truncated), is of another kind, or its scope
// differs from `scope` ("continuation token belongs to another prefix").
absl::StatusOr<PageToken> DecodePageToken(absl::string_view token, PageToken::Kind kind,
                                          std::initializer_list<TokenScopeField> scope);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_PAGE_TOKEN_H_
