// The bucket list, kept in the index itself: one record per bucket under the
// reserved bucket "cellindex-s3.buckets", keyed by the bucket's name, its
// `created` time the bucket's creation date. So ListBuckets is a listing of
// that bucket, and CreateBucket a put with if-none-match (two creators race in
// the cell's write order; one wins).
//
// Buckets known to exist are cached: the server is the only writer of its
// index (the index's store is locked to one process), so the cache never
// holds a bucket that was deleted, and an object request needs no read of the
// cell that holds the bucket list once its bucket has been seen.
#ifndef CELLINDEX_TOOLS_S3_BUCKETS_H_
#define CELLINDEX_TOOLS_S3_BUCKETS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "index/index.h"

namespace cellindex::s3 {

inline constexpr char kBucketListBucket[] = "cellindex-s3.buckets";

class BucketCatalog {
 public:
  explicit BucketCatalog(Index* index) : index_(index) {}

  // FailedPrecondition when the bucket exists; index errors otherwise.
  absl::Status Create(const std::string& bucket);
  // Whether the bucket exists (Unavailable while the bucket list's cell is
  // recovering and the bucket is not cached).
  absl::StatusOr<bool> Exists(const std::string& bucket);
  // NotFound when absent. The caller has checked that it is empty.
  absl::Status Delete(const std::string& bucket);
  // Every bucket, by name, with its creation time.
  absl::StatusOr<std::vector<std::pair<std::string, absl::Time>>> List();

 private:
  Index* index_;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> known_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_BUCKETS_H_
