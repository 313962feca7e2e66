#include "tools/s3/sigv4.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/s3/crypto.h"
#include "tools/s3/url.h"

namespace cellindex::s3 {
namespace {

constexpr absl::string_view kAlgorithm = "AWS4-HMAC-SHA256";
const std::string kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

bool IsLowerHex(absl::string_view s, size_t size) {
  if (s.size() != size) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && !(c >= 'a' && c <= 'f')) {
      return false;
    }
  }
  return true;
}

// Trims and collapses runs of spaces, as the canonical header value wants.
std::string CanonicalHeaderValue(absl::string_view v) {
  v = absl::StripAsciiWhitespace(v);
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string Credential::Scope() const {
  return absl::StrCat(date, "/", region, "/", service, "/aws4_request");
}

absl::StatusOr<Credential> ParseAuthorization(absl::string_view header) {
  header = absl::StripAsciiWhitespace(header);
  if (!absl::ConsumePrefix(&header, kAlgorithm) || header.empty() ||
      !absl::ascii_isspace(static_cast<unsigned char>(header[0]))) {
    return absl::InvalidArgumentError("the Authorization header is not AWS4-HMAC-SHA256");
  }
  Credential c;
  bool have_credential = false, have_headers = false, have_signature = false;
  for (absl::string_view part : absl::StrSplit(header, ',')) {
    part = absl::StripAsciiWhitespace(part);
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("Authorization component '", part,
                                                     "' has no '='"));
    }
    const absl::string_view name = part.substr(0, eq);
    const absl::string_view value = part.substr(eq + 1);
    if (name == "Credential") {
      std::vector<std::string> fields = absl::StrSplit(value, '/');
      if (fields.size() != 5 || fields[4] != "aws4_request" || fields[0].empty() ||
          fields[1].size() != 8) {
        return absl::InvalidArgumentError(
            "Credential must be ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request");
      }
      c.access_key = fields[0];
      c.date = fields[1];
      c.region = fields[2];
      c.service = fields[3];
      have_credential = true;
    } else if (name == "SignedHeaders") {
      c.signed_headers = absl::StrSplit(value, ';');
      have_headers = !value.empty();
    } else if (name == "Signature") {
      if (!IsLowerHex(value, 64)) {
        return absl::InvalidArgumentError("Signature must be 64 lower-case hex digits");
      }
      c.signature = std::string(value);
      have_signature = true;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown Authorization component '", name,
                                                     "'"));
    }
  }
  if (!have_credential || !have_headers || !have_signature) {
    return absl::InvalidArgumentError(
        "the Authorization header needs Credential, SignedHeaders and Signature");
  }
  return c;
}

absl::StatusOr<std::string> CanonicalRequest(const SignedRequest& request,
                                             const std::vector<std::string>& signed_headers,
                                             absl::string_view payload_hash) {
  std::string uri;
  for (absl::string_view segment : absl::StrSplit(request.raw_path, '/')) {
    absl::StatusOr<std::string> decoded = UriDecode(segment);
    if (!decoded.ok()) return decoded.status();
    if (!uri.empty() || !segment.empty()) {
      absl::StrAppend(&uri, UriEncode(*decoded, false));
    }
    uri.push_back('/');
  }
  uri.pop_back();
  if (uri.empty()) uri = "/";

  absl::StatusOr<QueryParams> params = ParseQuery(request.raw_query);
  if (!params.ok()) return params.status();
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [name, value] : *params) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::vector<std::string> query;
  for (const auto& [name, value] : encoded) query.push_back(absl::StrCat(name, "=", value));

  std::string headers;
  for (const std::string& name : signed_headers) {
    auto [begin, end] = request.headers.equal_range(name);
    if (begin == end) {
      return absl::InvalidArgumentError(absl::StrCat("signed header '", name, "' is missing"));
    }
    std::vector<std::string> values;
    for (auto it = begin; it != end; ++it) values.push_back(CanonicalHeaderValue(it->second));
    absl::StrAppend(&headers, name, ":", absl::StrJoin(values, ","), "\n");
  }
  return absl::StrCat(request.method, "\n", uri, "\n", absl::StrJoin(query, "&"), "\n",
                      headers, "\n", absl::StrJoin(signed_headers, ";"), "\n", payload_hash);
}

std::string StringToSign(absl::string_view amz_date, absl::string_view scope,
                         absl::string_view canonical_request) {
  return absl::StrCat(kAlgorithm, "\n", amz_date, "\n", scope, "\n",
                      Hex(Sha256(canonical_request)));
}

std::string SigningKey(absl::string_view secret, const Credential& credential) {
  std::string key = HmacSha256(absl::StrCat("AWS4", secret), credential.date);
  key = HmacSha256(key, credential.region);
  key = HmacSha256(key, credential.service);
  return HmacSha256(key, "aws4_request");
}

std::string Signature(absl::string_view signing_key, absl::string_view string_to_sign) {
  return Hex(HmacSha256(signing_key, string_to_sign));
}

bool SignaturesEqual(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

absl::StatusOr<std::string> DecodeChunks(absl::string_view body, bool signed_chunks,
                                         absl::string_view signing_key,
                                         absl::string_view amz_date, absl::string_view scope,
                                         absl::string_view seed_signature) {
  std::string out;
  std::string previous(seed_signature);
  for (;;) {
    const size_t eol = body.find("\r\n");
    if (eol == absl::string_view::npos) {
      return absl::InvalidArgumentError("aws-chunked body: chunk header without CRLF");
    }
    const absl::string_view line = body.substr(0, eol);
    const size_t semi = line.find(';');
    uint64_t size = 0;
    if (!absl::SimpleHexAtoi(line.substr(0, semi), &size) || size > body.size()) {
      return absl::InvalidArgumentError("aws-chunked body: bad chunk size");
    }
    body.remove_prefix(eol + 2);
    if (body.size() < size) return absl::InvalidArgumentError("aws-chunked body: short chunk");
    const absl::string_view data = body.substr(0, size);
    if (signed_chunks) {
      absl::string_view ext =
          semi == absl::string_view::npos ? absl::string_view() : line.substr(semi + 1);
      if (!absl::ConsumePrefix(&ext, "chunk-signature=") || !IsLowerHex(ext, 64)) {
        return absl::InvalidArgumentError("aws-chunked body: chunk without chunk-signature");
      }
      const std::string to_sign =
          absl::StrCat("AWS4-HMAC-SHA256-PAYLOAD\n", amz_date, "\n", scope, "\n", previous, "\n",
                       kEmptySha256, "\n", Hex(Sha256(data)));
      const std::string expected = Signature(signing_key, to_sign);
      if (!SignaturesEqual(expected, ext)) {
        return absl::PermissionDeniedError("aws-chunked body: a chunk signature does not match");
      }
      previous = expected;
    }
    absl::StrAppend(&out, data);
    body.remove_prefix(size);
    if (size == 0) return out;  // a trailer, if any, follows; it is not part of the object
    if (!absl::ConsumePrefix(&body, "\r\n")) {
      return absl::InvalidArgumentError("aws-chunked body: chunk not followed by CRLF");
    }
  }
}

}  // namespace cellindex::s3
