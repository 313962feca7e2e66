// URL encoding as S3 and Signature Version 4 use it.
#ifndef CELLINDEX_TOOLS_S3_URL_H_
#define CELLINDEX_TOOLS_S3_URL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellindex::s3 {

// SigV4's UriEncode: every byte but A-Z a-z 0-9 - _ . ~ becomes %XX (upper
// case hex); '/' too unless `keep_slash`. Also what encoding-type=url uses in
// listings (with '/' kept).
std::string UriEncode(absl::string_view s, bool keep_slash);
// Decodes %XX escapes ('+' stays '+'). InvalidArgument for a '%' not
// followed by two hex digits.
absl::StatusOr<std::string> UriDecode(absl::string_view s);

// A query string split at '&' and '=', names and values decoded, in the order
// given. A parameter without '=' has an empty value.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
absl::StatusOr<QueryParams> ParseQuery(absl::string_view raw_query);

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_URL_H_
