// AWS Signature Version 4 for S3, header form
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):
//
//   Authorization: AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,
//                  SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=<64 hex>
//
// The server rebuilds the canonical request from what it received, signs it
// with the secret of the access key named, and compares. Payloads sent as
// aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) carry a signature per
// chunk, each chained to the previous one (DecodeSignedChunks).
#ifndef CELLINDEX_TOOLS_S3_SIGV4_H_
#define CELLINDEX_TOOLS_S3_SIGV4_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellindex::s3 {

// What the signature covers, as received: the method, the path and query as
// sent (still %-encoded), every header by lower-case name (repeated headers
// in order), and the payload hash the client declared.
struct SignedRequest {
  std::string method;
  std::string raw_path;
  std::string raw_query;
  std::multimap<std::string, std::string> headers;  // lower-case names
};

// The parts of an Authorization header.
struct Credential {
  std::string access_key;
  std::string date;     // YYYYMMDD
  std::string region;
  std::string service;  // "s3"
  std::vector<std::string> signed_headers;
  std::string signature;  // 64 lower-case hex
  // "20130524/us-east-1/s3/aws4_request"
  std::string Scope() const;
};

// InvalidArgument naming what is wrong when the header is not SigV4's form.
absl::StatusOr<Credential> ParseAuthorization(absl::string_view header);

// The canonical request: method, canonical URI (each path segment decoded and
// encoded again with UriEncode), canonical query (names and values encoded,
// sorted), the signed headers "name:value" (values trimmed, inner runs of
// spaces made one), the signed header list, and `payload_hash`.
// InvalidArgument when a signed header is missing or the URL has a bad escape.
absl::StatusOr<std::string> CanonicalRequest(const SignedRequest& request,
                                             const std::vector<std::string>& signed_headers,
                                             absl::string_view payload_hash);
// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical>".
std::string StringToSign(absl::string_view amz_date, absl::string_view scope,
                         absl::string_view canonical_request);
// The signing key of `secret` for the credential's date, region and service.
std::string SigningKey(absl::string_view secret, const Credential& credential);
// Hex HMAC-SHA256 of `string_to_sign` under `signing_key`.
std::string Signature(absl::string_view signing_key, absl::string_view string_to_sign);

// Constant-time comparison of two signatures.
bool SignaturesEqual(absl::string_view a, absl::string_view b);

// Decodes an aws-chunked body ("<hex size>;chunk-signature=<sig>\r\n<data>\r\n"
// ... ending with a 0-size chunk), checking each chunk's signature chained
// from `seed_signature` (the request's). InvalidArgument for a malformed
// body; PermissionDenied for a chunk whose signature does not match.
// With `signed_chunks` false (STREAMING-UNSIGNED-PAYLOAD-TRAILER) the chunk
// extensions are not checked and a trailer after the last chunk is ignored.
absl::StatusOr<std::string> DecodeChunks(absl::string_view body, bool signed_chunks,
                                         absl::string_view signing_key,
                                         absl::string_view amz_date, absl::string_view scope,
                                         absl::string_view seed_signature);

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_SIGV4_H_
