// ListObjectsV2 and ListObjects (V1), both one call of Index::List per page.
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tools/command_util.h"
#include "tools/s3/handlers.h"
#include "tools/s3/xml.h"

namespace cellindex::s3 {
namespace {

// The parameters both versions share.
struct ListParams {
  ListOptions options;
  bool url_encoding = false;
};

std::optional<S3Error> ParseListParams(const S3Request& r, ListParams* p) {
  p->options.prefix = r.Param("prefix").value_or("");
  p->options.delimiter = r.Param("delimiter").value_or("");
  if (std::optional<std::string> max = r.Param("max-keys")) {
    absl::StatusOr<uint64_t> n = tools::ParseDecimal("max-keys", *max, 0, 1u << 30);
    if (!n.ok()) {
      return S3Error{400, "InvalidArgument", "max-keys must be a non-negative integer"};
    }
    p->options.max_keys = static_cast<int>(std::min<uint64_t>(*n, kMaxListKeys));
  }
  if (std::optional<std::string> enc = r.Param("encoding-type")) {
    if (*enc != "url") return S3Error{400, "InvalidArgument", "Invalid Encoding Method specified"};
    p->url_encoding = true;
  }
  return std::nullopt;
}

// A key or prefix as the response shows it: %-encoded with encoding-type=url.
std::string Shown(const ListParams& p, absl::string_view s) {
  return p.url_encoding ? UriEncode(s, true) : std::string(s);
}

void WriteEntries(const ListParams& p, const ListResult& page, bool owner, XmlWriter* xml) {
  for (const ListedObject& o : page.contents) {
    xml->Open("Contents")
        .Leaf("Key", Shown(p, o.key))
        .Leaf("LastModified", tools::Iso8601(o.last_modified))
        .Leaf("ETag", QuotedEtag(o.etag))
        .Leaf("Size", absl::StrCat(o.size))
        .Leaf("StorageClass", o.storage_class.empty() ? "STANDARD" : o.storage_class);
    if (owner) xml->Open("Owner").Leaf("ID", kOwner).Leaf("DisplayName", kOwner).Close();
    xml->Close();
  }
  for (const std::string& prefix : page.common_prefixes) {
    xml->Open("CommonPrefixes").Leaf("Prefix", Shown(p, prefix)).Close();
  }
}

void WriteHead(const S3Request& r, const ListParams& p, XmlWriter* xml) {
  xml->Leaf("Name", r.bucket).Leaf("Prefix", Shown(p, p.options.prefix));
  if (!p.options.delimiter.empty()) xml->Leaf("Delimiter", Shown(p, p.options.delimiter));
  xml->Leaf("MaxKeys", absl::StrCat(p.options.max_keys));
  if (p.url_encoding) xml->Leaf("EncodingType", "url");
}

}  // namespace

S3Response S3Service::ListObjectsV2(const S3Request& r) {
  const std::string resource = absl::StrCat("/", r.bucket);
  if (auto e = CheckBucket(r.bucket)) return ErrorResponse(*e, resource);
  ListParams p;
  if (auto e = ParseListParams(r, &p)) return ErrorResponse(*e, resource);
  p.options.start_after = r.Param("start-after").value_or("");
  p.options.continuation_token = r.Param("continuation-token").value_or("");
  if (r.HasParam("continuation-token") && p.options.continuation_token.empty()) {
    return ErrorResponse(
        {400, "InvalidArgument", "The continuation token provided is incorrect"}, resource);
  }
  absl::StatusOr<ListResult> page = index_->List(r.bucket, p.options);
  if (!page.ok()) return ErrorResponse(ErrorFor(page.status()), resource);

  XmlWriter xml;
  xml.Root("ListBucketResult");
  WriteHead(r, p, &xml);
  xml.Leaf("KeyCount", absl::StrCat(page->key_count))
      .Leaf("IsTruncated", page->is_truncated ? "true" : "false");
  if (r.HasParam("continuation-token")) {
    xml.Leaf("ContinuationToken", p.options.continuation_token);
  }
  if (page->is_truncated) xml.Leaf("NextContinuationToken", page->next_continuation_token);
  if (r.HasParam("start-after")) xml.Leaf("StartAfter", Shown(p, p.options.start_after));
  WriteEntries(p, *page, r.Param("fetch-owner") == std::optional<std::string>("true"), &xml);
  S3Response out;
  out.body = xml.Finish();
  return out;
}

S3Response S3Service::ListObjectsV1(const S3Request& r) {
  const std::string resource = absl::StrCat("/", r.bucket);
  if (auto e = CheckBucket(r.bucket)) return ErrorResponse(*e, resource);
  ListParams p;
  if (auto e = ParseListParams(r, &p)) return ErrorResponse(*e, resource);
  const std::string marker = r.Param("marker").value_or("");
  p.options.start_after = marker;
  // A marker that is a common prefix (the NextMarker of a page that ended on
  // one) skips every key under it, which start-after alone would roll up into
  // the same prefix again: start after the greatest key with that prefix.
  if (!p.options.delimiter.empty() && absl::StartsWith(marker, p.options.prefix) &&
      absl::EndsWith(marker, p.options.delimiter)) {
    p.options.start_after = absl::StrCat(marker, "\xF4\x8F\xBF\xBF");
  }
  absl::StatusOr<ListResult> page = index_->List(r.bucket, p.options);
  if (!page.ok()) return ErrorResponse(ErrorFor(page.status()), resource);

  XmlWriter xml;
  xml.Root("ListBucketResult");
  WriteHead(r, p, &xml);
  xml.Leaf("Marker", Shown(p, marker))
      .Leaf("IsTruncated", page->is_truncated ? "true" : "false");
  if (page->is_truncated) {
    // The last entry of the page, key or prefix, whichever sorts last.
    std::string last;
    if (!page->contents.empty()) last = page->contents.back().key;
    if (!page->common_prefixes.empty() && page->common_prefixes.back() > last) {
      last = page->common_prefixes.back();
    }
    xml.Leaf("NextMarker", Shown(p, last));
  }
  WriteEntries(p, *page, /*owner=*/true, &xml);
  S3Response out;
  out.body = xml.Finish();
  return out;
}

}  // namespace cellindex::s3
