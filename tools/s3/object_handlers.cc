// PutObject, CopyObject, GetObject/HeadObject, DeleteObject, DeleteObjects.
//
// Order of a write: bytes to the volumes (synced, renamed, directory synced),
// then the record, then removal of the bytes the record replaced. A crash
// after the first step leaves orphan bytes, never a record without bytes.
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_split.h"
#include "tools/command_util.h"
#include "tools/s3/crypto.h"
#include "tools/s3/handlers.h"
#include "tools/s3/xml.h"

namespace cellindex::s3 {
namespace {

constexpr int kMaxWriteAttempts = 16;
constexpr size_t kMaxDeleteObjects = 1000;
constexpr absl::string_view kMetaPrefix = "x-amz-meta-";

std::string ObjectResource(const S3Request& r) { return absl::StrCat("/", r.bucket, "/", r.key); }

// The content type and user metadata a PUT (or a copy that replaces them)
// sends.
ObjectRecord RecordFromHeaders(const S3Request& r) {
  ObjectRecord record;
  record.content_type = r.Header("content-type");
  if (record.content_type.empty()) record.content_type = "binary/octet-stream";
  record.storage_class = r.Header("x-amz-storage-class");
  if (record.storage_class == "STANDARD") record.storage_class.clear();
  for (const auto& [name, value] : r.headers) {
    if (absl::StartsWith(name, kMetaPrefix) && name.size() > kMetaPrefix.size()) {
      record.user_metadata[name.substr(kMetaPrefix.size())] = value;
    }
  }
  return record;
}

// Whether an If-Match / If-None-Match list ("a", "b" or *) names `etag`.
bool EtagListMatches(absl::string_view list, const std::string& etag) {
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    item = absl::StripAsciiWhitespace(item);
    absl::ConsumePrefix(&item, "W/");
    if (item == "*") return true;
    absl::ConsumePrefix(&item, "\"");
    absl::ConsumeSuffix(&item, "\"");
    if (item == etag) return true;
  }
  return false;
}

// A single "bytes=first-last", "bytes=first-" or "bytes=-suffix" range.
// nullopt when the header is absent or not one such range (S3 then sends the
// whole object); `unsatisfiable` when it starts past the end.
struct ByteRange {
  uint64_t begin = 0;
  uint64_t length = 0;
};
std::optional<ByteRange> ParseRange(absl::string_view header, uint64_t size, bool* unsatisfiable) {
  *unsatisfiable = false;
  if (!absl::ConsumePrefix(&header, "bytes=") || absl::StrContains(header, ',')) {
    return std::nullopt;
  }
  const size_t dash = header.find('-');
  if (dash == absl::string_view::npos) return std::nullopt;
  const absl::string_view a = header.substr(0, dash), b = header.substr(dash + 1);
  uint64_t first = 0, last = 0;
  const bool digits_a = !a.empty() && absl::SimpleAtoi(a, &first) &&
                        a.find_first_not_of("0123456789") == absl::string_view::npos;
  const bool digits_b = !b.empty() && absl::SimpleAtoi(b, &last) &&
                        b.find_first_not_of("0123456789") == absl::string_view::npos;
  if (!digits_a && !a.empty()) return std::nullopt;
  if (!digits_b && !b.empty()) return std::nullopt;
  if (a.empty()) {
    if (!digits_b || last == 0) {
      *unsatisfiable = !b.empty();
      return std::nullopt;
    }
    const uint64_t n = std::min(last, size);
    return ByteRange{size - n, n};
  }
  if (digits_b && last < first) return std::nullopt;
  if (first >= size) {
    *unsatisfiable = true;
    return std::nullopt;
  }
  const uint64_t end = digits_b ? std::min(last + 1, size) : size;
  return ByteRange{first, end - first};
}

void AddObjectHeaders(const ObjectRecord& record, S3Response* out) {
  out->headers.emplace_back("ETag", QuotedEtag(record.etag));
  out->headers.emplace_back("Last-Modified", HttpDate(record.modified));
  out->headers.emplace_back("Accept-Ranges", "bytes");
  if (!record.storage_class.empty()) {
    out->headers.emplace_back("x-amz-storage-class", record.storage_class);
  }
  for (const auto& [name, value] : record.user_metadata) {
    out->headers.emplace_back(absl::StrCat(kMetaPrefix, name), value);
  }
  out->content_type = record.content_type;
}

}  // namespace

std::optional<S3Error> S3Service::CheckKey(const std::string& key) {
  if (key.size() > kMaxKeyBytes) {
    return S3Error{400, "KeyTooLongError", "Your key is too long"};
  }
  if (absl::Status s = ValidateObjectKeyName(key); !s.ok()) {
    return S3Error{400, "InvalidArgument", std::string(s.message())};
  }
  return std::nullopt;
}

absl::StatusOr<ObjectRecord> S3Service::StoreObject(
    const ObjectKey& key, ObjectRecord record, const std::string& bytes,
    std::optional<Precondition> client_precondition) {
  record.size = bytes.size();
  record.etag = Hex(Md5(bytes));
  record.locations.clear();
  if (absl::Status s = ValidateObjectRecord(record); !s.ok()) return s;
  absl::StatusOr<std::vector<Extent>> extents =
      volumes_->Write(absl::StrCat(key.bucket, "/", key.key), bytes);
  if (!extents.ok()) return extents.status();
  if (hooks_.crash_before_record) _exit(86);
  record.locations = *extents;
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    // Without a client precondition the put replaces exactly the record read
    // here, so its bytes can be removed once the put is done.
    std::optional<ObjectRecord> replaced;
    Precondition precondition;
    if (client_precondition) {
      precondition = *client_precondition;
    } else {
      absl::StatusOr<ObjectRecord> old = index_->Get(key);
      if (old.ok()) {
        replaced = *std::move(old);
        precondition.if_version_match = replaced->version;
      } else if (absl::IsNotFound(old.status())) {
        precondition.if_none_match = true;
      } else {
        return old.status();  // bytes stay for the scrub: nothing names them
      }
    }
    absl::StatusOr<uint64_t> version = index_->Put(key, record, precondition);
    if (version.ok()) {
      if (replaced) volumes_->Remove(replaced->locations);
      absl::StatusOr<ObjectRecord> stored = index_->Get(key);
      if (stored.ok() && stored->version == *version) return *std::move(stored);
      record.version = *version;
      return record;
    }
    // Refused without being applied: the new bytes are nobody's.
    if (absl::IsFailedPrecondition(version.status()) ||
        absl::IsInvalidArgument(version.status())) {
      if (client_precondition || absl::IsInvalidArgument(version.status())) {
        volumes_->Remove(record.locations);
        return version.status();
      }
      continue;  // another writer got in between: read again
    }
    return version.status();  // the outcome is unknown: the scrub decides
  }
  volumes_->Remove(record.locations);
  return absl::UnavailableError("too many concurrent writes to the key");
}

S3Response S3Service::PutObject(const S3Request& r) {
  const std::string resource = ObjectResource(r);
  if (auto e = CheckBucket(r.bucket)) return ErrorResponse(*e, resource);
  if (auto e = CheckKey(r.key)) return ErrorResponse(*e, resource);
  const ObjectKey key{r.bucket, r.key};

  std::optional<Precondition> precondition;
  std::vector<Extent> replaced_by_client_match;
  const bool if_match = r.HasHeader("if-match"), if_none = r.HasHeader("if-none-match");
  if (if_match && if_none) {
    return ErrorResponse({501, "NotImplemented",
                          "If-Match and If-None-Match together are not implemented"},
                         resource);
  }
  if (if_none) {
    if (absl::StripAsciiWhitespace(r.Header("if-none-match")) != "*") {
      return ErrorResponse({501, "NotImplemented", "If-None-Match on PUT must be *"}, resource);
    }
    precondition = Precondition{};
    precondition->if_none_match = true;
  } else if (if_match) {
    // The ETag is checked against the record read here, and the put carries
    // that record's version: it applies only if nothing wrote in between.
    absl::StatusOr<ObjectRecord> current = index_->Get(key);
    if (absl::IsNotFound(current.status())) {
      return ErrorResponse(ErrorFor(current.status()), resource);
    }
    if (!current.ok()) return ErrorResponse(ErrorFor(current.status()), resource);
    if (!EtagListMatches(r.Header("if-match"), current->etag)) {
      return ErrorResponse(ErrorFor(absl::FailedPreconditionError("If-Match")), resource);
    }
    precondition = Precondition{};
    precondition->if_version_match = current->version;
    replaced_by_client_match = current->locations;
  }
  absl::StatusOr<ObjectRecord> stored =
      StoreObject(key, RecordFromHeaders(r), r.body, precondition);
  if (!stored.ok()) {
    const std::string field(stored.status().message());
    if (absl::IsInvalidArgument(stored.status()) && absl::StrContains(field, "metadata")) {
      return ErrorResponse({400, "MetadataTooLarge", field}, resource);
    }
    return ErrorResponse(ErrorFor(stored.status()), resource);
  }
  volumes_->Remove(replaced_by_client_match);
  S3Response out;
  out.headers.emplace_back("ETag", QuotedEtag(stored->etag));
  return out;
}

S3Response S3Service::CopyObject(const S3Request& r) {
  const std::string resource = ObjectResource(r);
  if (auto e = CheckBucket(r.bucket)) return ErrorResponse(*e, resource);
  if (auto e = CheckKey(r.key)) return ErrorResponse(*e, resource);
  absl::StatusOr<std::string> source = UriDecode(r.Header("x-amz-copy-source"));
  absl::string_view src = source.ok() ? absl::string_view(*source) : absl::string_view();
  absl::ConsumePrefix(&src, "/");
  const size_t slash = src.find('/');
  if (!source.ok() || slash == absl::string_view::npos || absl::StrContains(src, "?")) {
    return ErrorResponse({400, "InvalidArgument",
                          "x-amz-copy-source must be BUCKET/KEY (without a version)"},
                         resource);
  }
  const ObjectKey from{std::string(src.substr(0, slash)), std::string(src.substr(slash + 1))};
  if (auto e = CheckBucket(from.bucket)) return ErrorResponse(*e, resource);
  if (auto e = CheckKey(from.key)) return ErrorResponse(*e, resource);
  const std::string directive = r.Header("x-amz-metadata-directive");
  if (!directive.empty() && directive != "COPY" && directive != "REPLACE") {
    return ErrorResponse({400, "InvalidArgument", "Unknown metadata directive."}, resource);
  }
  const bool replace = directive == "REPLACE";
  if (!replace && from.bucket == r.bucket && from.key == r.key) {
    return ErrorResponse({400, "InvalidRequest",
                          "This copy request is illegal because it is trying to copy an object "
                          "to itself without changing the object's metadata."},
                         resource);
  }
  absl::StatusOr<ObjectRecord> original = index_->Get(from);
  if (!original.ok()) return ErrorResponse(ErrorFor(original.status()), resource);
  absl::StatusOr<std::string> bytes = volumes_->Read(original->locations, 0, original->size);
  if (!bytes.ok()) return ErrorResponse(ErrorFor(bytes.status()), resource);
  ObjectRecord record = replace ? RecordFromHeaders(r) : *original;
  record.created = record.modified = absl::InfinitePast();
  record.version = 0;
  absl::StatusOr<ObjectRecord> stored =
      StoreObject({r.bucket, r.key}, std::move(record), *bytes, std::nullopt);
  if (!stored.ok()) return ErrorResponse(ErrorFor(stored.status()), resource);
  S3Response out;
  out.body = XmlWriter()
                 .Root("CopyObjectResult")
                 .Leaf("LastModified", tools::Iso8601(stored->modified))
                 .Leaf("ETag", QuotedEtag(stored->etag))
                 .Finish();
  return out;
}

S3Response S3Service::GetObject(const S3Request& r, bool head) {
  const std::string resource = ObjectResource(r);
  auto fail = [&](const S3Error& e) {
    S3Response out = ErrorResponse(e, resource);
    if (head) out.body.clear();
    return out;
  };
  if (auto e = CheckBucket(r.bucket)) return fail(*e);
  if (auto e = CheckKey(r.key)) return fail(*e);
  absl::StatusOr<ObjectRecord> record = index_->Get({r.bucket, r.key});
  if (!record.ok()) return fail(ErrorFor(record.status()));

  if (r.HasHeader("if-match") && !EtagListMatches(r.Header("if-match"), record->etag)) {
    return fail(ErrorFor(absl::FailedPreconditionError("If-Match")));
  }
  if (r.HasHeader("if-none-match") && EtagListMatches(r.Header("if-none-match"), record->etag)) {
    S3Response out;
    out.status = 304;
    out.headers.emplace_back("ETag", QuotedEtag(record->etag));
    out.headers.emplace_back("Last-Modified", HttpDate(record->modified));
    return out;
  }
  bool unsatisfiable = false;
  std::optional<ByteRange> range;
  if (r.HasHeader("range")) range = ParseRange(r.Header("range"), record->size, &unsatisfiable);
  if (unsatisfiable) {
    S3Error e{416, "InvalidRange", "The requested range is not satisfiable"};
    S3Response out = fail(e);
    out.headers.emplace_back("Content-Range", absl::StrCat("bytes */", record->size));
    return out;
  }
  S3Response out;
  AddObjectHeaders(*record, &out);
  const uint64_t begin = range ? range->begin : 0;
  const uint64_t length = range ? range->length : record->size;
  if (range) {
    out.status = 206;
    out.headers.emplace_back("Content-Range", absl::StrCat("bytes ", begin, "-",
                                                           begin + length - 1, "/", record->size));
  }
  if (head) {
    out.headers.emplace_back("Content-Length", absl::StrCat(length));
    return out;
  }
  absl::StatusOr<std::string> bytes = volumes_->Read(record->locations, begin, length);
  if (!bytes.ok()) return fail(ErrorFor(bytes.status()));
  out.body = *std::move(bytes);
  return out;
}

absl::Status S3Service::RemoveObject(const ObjectKey& key) {
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    absl::StatusOr<ObjectRecord> record = index_->Get(key);
    if (!record.ok()) return record.status();
    Precondition same;
    same.if_version_match = record->version;
    absl::Status s = index_->Delete(key, same);
    if (s.ok()) {
      volumes_->Remove(record->locations);
      return s;
    }
    if (!absl::IsFailedPrecondition(s)) return s;
  }
  return absl::UnavailableError("too many concurrent writes to the key");
}

S3Response S3Service::DeleteObject(const S3Request& r) {
  const std::string resource = ObjectResource(r);
  if (auto e = CheckBucket(r.bucket)) return ErrorResponse(*e, resource);
  if (auto e = CheckKey(r.key)) return ErrorResponse(*e, resource);
  absl::Status s = RemoveObject({r.bucket, r.key});
  if (!s.ok() && !absl::IsNotFound(s)) return ErrorResponse(ErrorFor(s), resource);
  S3Response out;
  out.status = 204;
  return out;
}

S3Response S3Service::DeleteObjects(const S3Request& r) {
  const std::string resource = absl::StrCat("/", r.bucket);
  if (auto e = CheckBucket(r.bucket)) return ErrorResponse(*e, resource);
  const S3Error malformed{400, "MalformedXML",
                          "The XML you provided was not well-formed or did not validate "
                          "against our published schema"};
  absl::StatusOr<XmlElement> doc = ParseXml(r.body);
  if (!doc.ok() || doc->name != "Delete") return ErrorResponse(malformed, resource);
  std::vector<std::string> keys;
  bool quiet = false;
  for (const XmlElement& child : doc->children) {
    if (child.name == "Quiet") {
      if (child.text != "true" && child.text != "false") return ErrorResponse(malformed, resource);
      quiet = child.text == "true";
    } else if (child.name == "Object") {
      const XmlElement* key = child.Child("Key");
      if (key == nullptr) return ErrorResponse(malformed, resource);
      keys.push_back(key->text);
    } else {
      return ErrorResponse(malformed, resource);
    }
  }
  if (keys.empty() || keys.size() > kMaxDeleteObjects) return ErrorResponse(malformed, resource);

  XmlWriter xml;
  xml.Root("DeleteResult");
  for (const std::string& key : keys) {
    std::optional<S3Error> error = CheckKey(key);
    if (!error) {
      absl::Status s = RemoveObject({r.bucket, key});
      if (!s.ok() && !absl::IsNotFound(s)) error = ErrorFor(s);
    }
    if (error) {
      xml.Open("Error").Leaf("Key", key).Leaf("Code", error->code)
          .Leaf("Message", error->message).Close();
    } else if (!quiet) {
      xml.Open("Deleted").Leaf("Key", key).Close();
    }
  }
  S3Response out;
  out.body = xml.Finish();
  return out;
}

}  // namespace cellindex::s3
