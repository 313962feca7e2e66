#include "tools/s3/s3_types.h"

#include "absl/strings/str_cat.h"
#include "tools/s3/xml.h"

namespace cellindex::s3 {

std::string S3Request::Header(absl::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

bool S3Request::HasHeader(absl::string_view name) const {
  return headers.count(std::string(name)) > 0;
}

std::optional<std::string> S3Request::Param(absl::string_view name) const {
  for (const auto& [n, v] : query) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::optional<S3Error> ParseTarget(S3Request* r) {
  absl::StatusOr<QueryParams> query = ParseQuery(r->raw_query);
  absl::string_view path = r->raw_path;
  if (!query.ok() || path.empty() || path[0] != '/') {
    return S3Error{400, "InvalidURI", "Couldn't parse the specified URI."};
  }
  r->query = *std::move(query);
  path.remove_prefix(1);
  const size_t slash = path.find('/');
  absl::StatusOr<std::string> bucket = UriDecode(path.substr(0, slash));
  absl::StatusOr<std::string> key =
      UriDecode(slash == absl::string_view::npos ? absl::string_view() : path.substr(slash + 1));
  if (!bucket.ok() || !key.ok()) {
    return S3Error{400, "InvalidURI", "Couldn't parse the specified URI."};
  }
  r->bucket = *std::move(bucket);
  r->key = *std::move(key);
  return std::nullopt;
}

S3Response ErrorResponse(const S3Error& error, absl::string_view resource) {
  S3Response r;
  r.status = error.status;
  r.body = XmlWriter()
               .Open("Error")
               .Leaf("Code", error.code)
               .Leaf("Message", error.message)
               .Leaf("Resource", resource)
               .Finish();
  if (error.code == "SlowDown") r.headers.emplace_back("Retry-After", "1");
  return r;
}

S3Error ErrorFor(const absl::Status& status, absl::string_view not_found_code) {
  const std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return {400, "InvalidArgument", message};
    case absl::StatusCode::kNotFound:
      return {404, std::string(not_found_code), message};
    case absl::StatusCode::kFailedPrecondition:
      return {412, "PreconditionFailed",
              absl::StrCat("At least one of the pre-conditions you specified did not hold (",
                           message, ")")};
    case absl::StatusCode::kUnavailable:
      return {503, "SlowDown", absl::StrCat("Please reduce your request rate (", message, ")")};
    default:
      return {500, "InternalError", message};
  }
}

}  // namespace cellindex::s3
