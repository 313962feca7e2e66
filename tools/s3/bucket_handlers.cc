#include "absl/strings/str_cat.h"
#include "tools/command_util.h"
#include "tools/s3/handlers.h"
#include "tools/s3/xml.h"

namespace cellindex::s3 {
std::string HttpDate(absl::Time t) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", t, absl::UTCTimeZone());
}

std::string QuotedEtag(const std::string& etag) { return absl::StrCat("\"", etag, "\""); }

S3Response S3Service::Handle(S3Request& r) {
  const std::string resource = r.raw_path;
  if (r.bucket.empty()) {
    if (r.method == "GET") return ListBuckets();
    return ErrorResponse({405, "MethodNotAllowed", "The specified method is not allowed."},
                         resource);
  }
  if (r.key.empty()) {
    static const char* const kUnsupported[] = {
        "acl", "cors", "encryption", "lifecycle", "logging", "notification", "policy",
        "replication", "tagging", "uploads", "versioning", "versions", "website",
        "object-lock", "accelerate", "requestPayment", "ownershipControls"};
    for (const char* sub : kUnsupported) {
      if (r.HasParam(sub)) {
        return ErrorResponse({501, "NotImplemented",
                              absl::StrCat("bucket subresource '", sub, "' is not implemented")},
                             resource);
      }
    }
    if (r.method == "PUT") return CreateBucket(r);
    if (r.method == "DELETE") return DeleteBucket(r);
    if (r.method == "HEAD") return HeadBucket(r);
    if (r.method == "POST" && r.HasParam("delete")) return DeleteObjects(r);
    if (r.method == "GET") {
      if (r.HasParam("location")) return BucketLocation(r);
      if (r.Param("list-type") == std::optional<std::string>("2")) return ListObjectsV2(r);
      return ListObjectsV1(r);
    }
  } else {
    static const char* const kUnsupported[] = {"acl", "tagging", "uploads", "uploadId",
                                               "retention", "legal-hold", "torrent",
                                               "restore", "attributes"};
    for (const char* sub : kUnsupported) {
      if (r.HasParam(sub)) {
        return ErrorResponse({501, "NotImplemented",
                              absl::StrCat("object subresource '", sub, "' is not implemented")},
                             resource);
      }
    }
    if (r.method == "PUT") {
      return r.HasHeader("x-amz-copy-source") ? CopyObject(r) : PutObject(r);
    }
    if (r.method == "GET" || r.method == "HEAD") return GetObject(r, r.method == "HEAD");
    if (r.method == "DELETE") return DeleteObject(r);
  }
  return ErrorResponse({405, "MethodNotAllowed", "The specified method is not allowed."},
                       resource);
}

std::optional<S3Error> S3Service::CheckBucket(const std::string& bucket) {
  if (bucket == kBucketListBucket || !ValidateBucketName(bucket).ok()) {
    return S3Error{400, "InvalidBucketName", "The specified bucket is not valid."};
  }
  absl::StatusOr<bool> exists = buckets_.Exists(bucket);
  if (!exists.ok()) return ErrorFor(exists.status());
  if (!*exists) return S3Error{404, "NoSuchBucket", "The specified bucket does not exist"};
  return std::nullopt;
}

S3Response S3Service::ListBuckets() {
  auto buckets = buckets_.List();
  if (!buckets.ok()) return ErrorResponse(ErrorFor(buckets.status()), "/");
  XmlWriter xml;
  xml.Root("ListAllMyBucketsResult");
  xml.Open("Owner").Leaf("ID", kOwner).Leaf("DisplayName", kOwner).Close();
  xml.Open("Buckets");
  for (const auto& [name, created] : *buckets) {
    xml.Open("Bucket").Leaf("Name", name).Leaf("CreationDate", tools::Iso8601(created)).Close();
  }
  S3Response out;
  out.body = xml.Finish();
  return out;
}

S3Response S3Service::CreateBucket(const S3Request& r) {
  const std::string resource = absl::StrCat("/", r.bucket);
  if (absl::Status s = ValidateBucketName(r.bucket); !s.ok() || r.bucket == kBucketListBucket) {
    return ErrorResponse(
        {400, "InvalidBucketName",
         s.ok() ? "The bucket name is reserved by cellindex-s3" : std::string(s.message())},
        resource);
  }
  if (!r.body.empty()) {
    absl::StatusOr<XmlElement> config = ParseXml(r.body);
    if (!config.ok() || config->name != "CreateBucketConfiguration") {
      return ErrorResponse({400, "MalformedXML",
                            "The XML you provided was not well-formed or did not validate "
                            "against our published schema"},
                           resource);
    }
    const XmlElement* location = config->Child("LocationConstraint");
    if (location != nullptr && location->text != region_ &&
        !(location->text.empty() && region_ == "us-east-1")) {
      return ErrorResponse({400, "InvalidLocationConstraint",
                            absl::StrCat("The specified location-constraint is not valid: this "
                                         "server's region is ",
                                         region_)},
                           resource);
    }
  }
  absl::Status s = buckets_.Create(r.bucket);
  if (absl::IsFailedPrecondition(s)) {
    return ErrorResponse({409, "BucketAlreadyOwnedByYou",
                          "Your previous request to create the named bucket succeeded and you "
                          "already own it."},
                         resource);
  }
  if (!s.ok()) return ErrorResponse(ErrorFor(s), resource);
  S3Response out;
  out.headers.emplace_back("Location", resource);
  return out;
}

S3Response S3Service::DeleteBucket(const S3Request& r) {
  const std::string resource = absl::StrCat("/", r.bucket);
  if (auto e = CheckBucket(r.bucket)) return ErrorResponse(*e, resource);
  ListOptions one;
  one.max_keys = 1;
  absl::StatusOr<ListResult> page = index_->List(r.bucket, one);
  if (!page.ok()) return ErrorResponse(ErrorFor(page.status()), resource);
  if (!page->contents.empty()) {
    return ErrorResponse({409, "BucketNotEmpty", "The bucket you tried to delete is not empty"},
                         resource);
  }
  absl::Status s = buckets_.Delete(r.bucket);
  if (!s.ok()) return ErrorResponse(ErrorFor(s, "NoSuchBucket"), resource);
  S3Response out;
  out.status = 204;
  return out;
}

S3Response S3Service::HeadBucket(const S3Request& r) {
  if (auto e = CheckBucket(r.bucket)) {
    S3Response out = ErrorResponse(*e, absl::StrCat("/", r.bucket));
    out.body.clear();
    return out;
  }
  S3Response out;
  out.headers.emplace_back("x-amz-bucket-region", region_);
  return out;
}

S3Response S3Service::BucketLocation(const S3Request& r) {
  if (auto e = CheckBucket(r.bucket)) return ErrorResponse(*e, absl::StrCat("/", r.bucket));
  S3Response out;
  // S3 answers an empty constraint for us-east-1.
  out.body = XmlWriter()
                 .Root("LocationConstraint")
                 .Text(region_ == "us-east-1" ? "" : region_)
                 .Finish();
  return out;
}

}  // namespace cellindex::s3
