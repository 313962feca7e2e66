// A request and a response as the S3 handlers see them, free of the HTTP
// library, and S3's errors.
#ifndef CELLINDEX_TOOLS_S3_S3_TYPES_H_
#define CELLINDEX_TOOLS_S3_S3_TYPES_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tools/s3/url.h"

namespace cellindex::s3 {

struct S3Request {
  std::string method;
  std::string raw_path;   // as sent, %-encoded
  std::string raw_query;  // after '?', as sent
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;       // the payload (aws-chunked already decoded)
  // Filled by ParseTarget from raw_path and raw_query.
  QueryParams query;
  std::string bucket;  // empty for the service ("/")
  std::string key;     // empty for a bucket

  // The first value of a header (lower-case name), or "".
  std::string Header(absl::string_view name) const;
  bool HasHeader(absl::string_view name) const;
  // The value of a query parameter, or nullopt when absent.
  std::optional<std::string> Param(absl::string_view name) const;
  bool HasParam(absl::string_view name) const { return Param(name).has_value(); }
};

struct S3Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/xml";
};

// An S3 error: HTTP status, S3's code ("NoSuchKey") and a message.
struct S3Error {
  int status = 500;
  std::string code;
  std::string message;
};

// Decodes the bucket and key from raw_path and the parameters from raw_query.
// An S3Error (400 InvalidURI) for a bad escape.
std::optional<S3Error> ParseTarget(S3Request* request);

// S3's error body for `error` on `resource`, with Retry-After for SlowDown.
S3Response ErrorResponse(const S3Error& error, absl::string_view resource);

// The S3 error for a status the index returned: InvalidArgument is 400
// InvalidArgument, NotFound `not_found_code` (404), FailedPrecondition 412
// PreconditionFailed, Unavailable 503 SlowDown (the key's cell is
// recovering: retry), anything else 500 InternalError.
S3Error ErrorFor(const absl::Status& status, absl::string_view not_found_code = "NoSuchKey");

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_S3_TYPES_H_
