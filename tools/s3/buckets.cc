#include "tools/s3/buckets.h"

namespace cellindex::s3 {

absl::Status BucketCatalog::Create(const std::string& bucket) {
  Precondition absent;
  absent.if_none_match = true;
  absl::StatusOr<uint64_t> v = index_->Put({kBucketListBucket, bucket}, ObjectRecord{}, absent);
  if (!v.ok()) return v.status();
  absl::MutexLock lock(&mu_);
  known_.insert(bucket);
  return absl::OkStatus();
}

absl::StatusOr<bool> BucketCatalog::Exists(const std::string& bucket) {
  {
    absl::MutexLock lock(&mu_);
    if (known_.contains(bucket)) return true;
  }
  absl::StatusOr<ObjectRecord> r = index_->Get({kBucketListBucket, bucket});
  if (absl::IsNotFound(r.status())) return false;
  if (!r.ok()) return r.status();
  absl::MutexLock lock(&mu_);
  known_.insert(bucket);
  return true;
}

absl::Status BucketCatalog::Delete(const std::string& bucket) {
  {
    absl::MutexLock lock(&mu_);
    known_.erase(bucket);
  }
  return index_->Delete({kBucketListBucket, bucket});
}

absl::StatusOr<std::vector<std::pair<std::string, absl::Time>>> BucketCatalog::List() {
  std::vector<std::pair<std::string, absl::Time>> out;
  ListOptions options;
  for (;;) {
    absl::StatusOr<ListResult> page = index_->List(kBucketListBucket, options);
    if (!page.ok()) return page.status();
    for (const ListedObject& o : page->contents) out.emplace_back(o.key, o.last_modified);
    if (!page->is_truncated) return out;
    options.continuation_token = page->next_continuation_token;
  }
}

}  // namespace cellindex::s3
