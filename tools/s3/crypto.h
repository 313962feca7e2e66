// The digests S3 needs, from OpenSSL's libcrypto: SHA-256 and HMAC-SHA256
// for Signature Version 4, MD5 for ETags and Content-MD5.
#ifndef CELLINDEX_TOOLS_S3_CRYPTO_H_
#define CELLINDEX_TOOLS_S3_CRYPTO_H_

#include <string>

#include "absl/strings/string_view.h"

namespace cellindex::s3 {

// Raw (binary) digests.
std::string Sha256(absl::string_view data);
std::string HmacSha256(absl::string_view key, absl::string_view data);
std::string Md5(absl::string_view data);

// Lower-case hex of `bytes`.
std::string Hex(absl::string_view bytes);
// Standard base64 (with padding) of `bytes`, as Content-MD5 carries it.
std::string Base64(absl::string_view bytes);

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_CRYPTO_H_
