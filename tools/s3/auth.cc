#include "tools/s3/auth.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "tools/s3/crypto.h"
#include "tools/s3/sigv4.h"

namespace cellindex::s3 {
namespace {

constexpr absl::Duration kMaxSkew = absl::Minutes(15);

bool IsHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::optional<S3Error> Authenticator::Verify(S3Request* r, absl::Time now) const {
  const std::string header = r->Header("authorization");
  if (header.empty()) {
    return S3Error{403, "AccessDenied",
                   r->HasParam("X-Amz-Signature")
                       ? "Presigned URLs are not supported; sign the Authorization header"
                       : "Anonymous access is not allowed; sign the request (SigV4)"};
  }
  absl::StatusOr<Credential> credential = ParseAuthorization(header);
  if (!credential.ok()) {
    return S3Error{400, "AuthorizationHeaderMalformed", std::string(credential.status().message())};
  }
  auto key = keys_.find(credential->access_key);
  if (key == keys_.end()) {
    return S3Error{403, "InvalidAccessKeyId",
                   "The AWS Access Key Id you provided does not exist in our records."};
  }
  if (credential->service != "s3" || credential->region != region_) {
    return S3Error{400, "AuthorizationHeaderMalformed",
                   absl::StrCat("the credential scope must be for service 's3' in region '",
                                region_, "', not '", credential->service, "' in '",
                                credential->region, "'")};
  }
  const std::string amz_date = r->Header("x-amz-date");
  absl::Time signed_at;
  std::string err;
  // YYYYMMDDTHHMMSSZ; absl's %Y would read every digit as the year.
  const bool well_formed =
      amz_date.size() == 16 && amz_date[8] == 'T' && amz_date[15] == 'Z' &&
      absl::ParseTime("%Y-%m-%dT%H:%M:%S",
                      absl::StrCat(amz_date.substr(0, 4), "-", amz_date.substr(4, 2), "-",
                                   amz_date.substr(6, 2), "T", amz_date.substr(9, 2), ":",
                                   amz_date.substr(11, 2), ":", amz_date.substr(13, 2)),
                      &signed_at, &err);
  if (!well_formed || amz_date.substr(0, 8) != credential->date) {
    return S3Error{403, "AccessDenied",
                   "x-amz-date is missing, malformed, or not the date of the credential scope"};
  }
  if (absl::AbsDuration(now - signed_at) > kMaxSkew) {
    return S3Error{403, "RequestTimeTooSkewed",
                   "The difference between the request time and the current time is too large."};
  }
  const std::string payload_hash = r->Header("x-amz-content-sha256");
  if (payload_hash.empty()) {
    return S3Error{400, "InvalidRequest",
                   "Missing required header for this request: x-amz-content-sha256"};
  }
  SignedRequest signed_request{r->method, r->raw_path, r->raw_query, r->headers};
  absl::StatusOr<std::string> canonical =
      CanonicalRequest(signed_request, credential->signed_headers, payload_hash);
  if (!canonical.ok()) {
    return S3Error{403, "SignatureDoesNotMatch", std::string(canonical.status().message())};
  }
  const std::string scope = credential->Scope();
  const std::string signing_key = SigningKey(key->second, *credential);
  const std::string expected = Signature(signing_key, StringToSign(amz_date, scope, *canonical));
  if (!SignaturesEqual(expected, credential->signature)) {
    return S3Error{403, "SignatureDoesNotMatch",
                   "The request signature we calculated does not match the signature you "
                   "provided. Check your key and signing method."};
  }
  return VerifyPayload(r, signing_key, amz_date, scope, credential->signature);
}

std::optional<S3Error> Authenticator::VerifyPayload(S3Request* r, const std::string& signing_key,
                                                    const std::string& amz_date,
                                                    const std::string& scope,
                                                    const std::string& signature) const {
  const std::string payload_hash = r->Header("x-amz-content-sha256");
  if (IsHex64(payload_hash)) {
    if (Hex(Sha256(r->body)) != payload_hash) {
      return S3Error{400, "XAmzContentSHA256Mismatch",
                     "The provided 'x-amz-content-sha256' header does not match what was "
                     "computed."};
    }
  } else if (payload_hash == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" ||
             payload_hash == "STREAMING-UNSIGNED-PAYLOAD-TRAILER") {
    const bool signed_chunks = payload_hash == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    absl::StatusOr<std::string> body =
        DecodeChunks(r->body, signed_chunks, signing_key, amz_date, scope, signature);
    if (!body.ok()) {
      return body.status().code() == absl::StatusCode::kPermissionDenied
                 ? S3Error{403, "SignatureDoesNotMatch", std::string(body.status().message())}
                 : S3Error{400, "IncompleteBody", std::string(body.status().message())};
    }
    const std::string decoded_length = r->Header("x-amz-decoded-content-length");
    if (!decoded_length.empty() && decoded_length != std::to_string(body->size())) {
      return S3Error{400, "IncompleteBody",
                     "x-amz-decoded-content-length does not match the decoded body"};
    }
    r->body = *std::move(body);
  } else if (payload_hash != "UNSIGNED-PAYLOAD") {
    return S3Error{400, "InvalidArgument",
                   absl::StrCat("x-amz-content-sha256 must be a SHA-256 in hex, "
                                "UNSIGNED-PAYLOAD or a STREAMING- value, not '",
                                payload_hash, "'")};
  }
  if (r->HasHeader("content-md5")) {
    std::string md5;
    if (!absl::Base64Unescape(r->Header("content-md5"), &md5) || md5.size() != 16) {
      return S3Error{400, "InvalidDigest", "The Content-MD5 you specified was invalid."};
    }
    if (md5 != Md5(r->body)) {
      return S3Error{400, "BadDigest",
                     "The Content-MD5 you specified did not match what we received."};
    }
  }
  return std::nullopt;
}

}  // namespace cellindex::s3
