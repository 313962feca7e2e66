// The S3 operations, on an embedded Index (metadata, locations, the bucket
// list) and the node's Volumes (bytes). Requests reach Handle already
// authenticated (tools/s3/auth.h), their target parsed.
#ifndef CELLINDEX_TOOLS_S3_HANDLERS_H_
#define CELLINDEX_TOOLS_S3_HANDLERS_H_

#include <optional>
#include <string>

#include "index/index.h"
#include "tools/s3/buckets.h"
#include "tools/s3/s3_types.h"
#include "tools/s3/volumes.h"

namespace cellindex::s3 {

// Hooks for tests of crash safety; never set in production.
struct HandlerTestHooks {
  // Exit the process (as a crash) after an object's bytes are written and
  // before its record is put.
  bool crash_before_record = false;
};

class S3Service {
 public:
  S3Service(Index* index, Volumes* volumes, std::string region, HandlerTestHooks hooks = {})
      : index_(index), volumes_(volumes), buckets_(index), region_(std::move(region)),
        hooks_(hooks) {}

  S3Response Handle(S3Request& request);

 private:
  // Service and buckets (bucket_handlers.cc).
  S3Response ListBuckets();
  S3Response CreateBucket(const S3Request& r);
  S3Response DeleteBucket(const S3Request& r);
  S3Response HeadBucket(const S3Request& r);
  S3Response BucketLocation(const S3Request& r);
  // Listings (list_handlers.cc).
  S3Response ListObjectsV2(const S3Request& r);
  S3Response ListObjectsV1(const S3Request& r);
  // Objects (object_handlers.cc).
  S3Response PutObject(const S3Request& r);
  S3Response CopyObject(const S3Request& r);
  S3Response GetObject(const S3Request& r, bool head);
  S3Response DeleteObject(const S3Request& r);
  S3Response DeleteObjects(const S3Request& r);

  // An error unless the bucket name is valid and the bucket exists.
  std::optional<S3Error> CheckBucket(const std::string& bucket);
  // An error unless the key is a valid object key (KeyTooLongError past 1024
  // bytes).
  static std::optional<S3Error> CheckKey(const std::string& key);
  // Writes `bytes`, then puts `record` (its size, etag and locations filled
  // here) under `key` with the client's `client_precondition` (or, without
  // one, replacing whatever is there), then removes the replaced bytes.
  absl::StatusOr<ObjectRecord> StoreObject(const ObjectKey& key, ObjectRecord record,
                                           const std::string& bytes,
                                           std::optional<Precondition> client_precondition);
  // Deletes the record, then its bytes. NotFound when absent.
  absl::Status RemoveObject(const ObjectKey& key);

  Index* index_;
  Volumes* volumes_;
  BucketCatalog buckets_;
  std::string region_;
  HandlerTestHooks hooks_;
};

// The owner every bucket and object shows (one tenant per server).
inline constexpr char kOwner[] = "cellindex-s3";

// Formats shared by the handlers.
std::string HttpDate(absl::Time t);
std::string QuotedEtag(const std::string& etag);

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_HANDLERS_H_
