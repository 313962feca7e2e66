#include "tools/s3/url.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace cellindex::s3 {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string UriEncode(absl::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

absl::StatusOr<std::string> UriDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return absl::InvalidArgumentError("truncated %-escape in URL");
    const int h = HexValue(s[i + 1]);
    const int l = HexValue(s[i + 2]);
    if (h < 0 || l < 0) return absl::InvalidArgumentError("bad %-escape in URL");
    out.push_back(static_cast<char>(h * 16 + l));
    i += 2;
  }
  return out;
}

absl::StatusOr<QueryParams> ParseQuery(absl::string_view raw_query) {
  QueryParams params;
  if (raw_query.empty()) return params;
  for (absl::string_view part : absl::StrSplit(raw_query, '&', absl::SkipEmpty())) {
    const size_t eq = part.find('=');
    absl::StatusOr<std::string> name = UriDecode(part.substr(0, eq));
    if (!name.ok()) return name.status();
    std::string value;
    if (eq != absl::string_view::npos) {
      absl::StatusOr<std::string> v = UriDecode(part.substr(eq + 1));
      if (!v.ok()) return v.status();
      value = *std::move(v);
    }
    params.emplace_back(*std::move(name), std::move(value));
  }
  return params;
}

}  // namespace cellindex::s3
