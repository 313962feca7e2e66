// Checks that a request is signed (SigV4, header form) by a known access key
// and that its payload is what was signed.
#ifndef CELLINDEX_TOOLS_S3_AUTH_H_
#define CELLINDEX_TOOLS_S3_AUTH_H_

#include <map>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "tools/s3/s3_types.h"

namespace cellindex::s3 {

class Authenticator {
 public:
  // `keys`: access key -> secret. `region`: the one region clients sign for.
  Authenticator(std::map<std::string, std::string> keys, std::string region)
      : keys_(std::move(keys)), region_(std::move(region)) {}

  // nullopt when `request` is signed by a known key within 15 minutes of
  // `now` and its payload matches x-amz-content-sha256 (a hex hash,
  // UNSIGNED-PAYLOAD, or an aws-chunked body whose chunks are decoded into
  // request->body, their signatures checked) and Content-MD5 when sent.
  // Otherwise S3's error: 403 AccessDenied (no signature), 400
  // AuthorizationHeaderMalformed, 403 InvalidAccessKeyId, 403
  // SignatureDoesNotMatch, 403 RequestTimeTooSkewed, 400
  // XAmzContentSHA256Mismatch, 400 BadDigest / InvalidDigest.
  std::optional<S3Error> Verify(S3Request* request, absl::Time now) const;

 private:
  std::optional<S3Error> VerifyPayload(S3Request* request, const std::string& signing_key,
                                       const std::string& amz_date, const std::string& scope,
                                       const std::string& signature) const;

  std::map<std::string, std::string> keys_;
  std::string region_;
};

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_AUTH_H_
