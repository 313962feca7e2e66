#include "tools/workload.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"

namespace cellindex::tools {
namespace {

// The large buckets, in order, and their shares of the large buckets' 80%.
constexpr const char* kLargeBuckets[] = {"media-prod", "logs-archive", "datalake-raw"};
constexpr uint64_t kLargeWeights[] = {4, 3, 1};
constexpr uint64_t kLargePercent = 80;

constexpr const char* kServices[] = {"api", "web", "auth", "billing", "search", "ingest"};
constexpr const char* kTables[] = {"events", "orders", "sessions", "clicks", "inventory"};
constexpr const char* kTenantFolders[] = {
    "docs",        "backups/daily", "reports/2024/q1", "reports/2024/q2",
    "images/2023", "projets/été",   "資料/2024",       "archive"};
struct FileKind {
  const char* extension;
  const char* content_type;
};
constexpr FileKind kTenantFiles[] = {{"pdf", "application/pdf"},
                                     {"docx",
                                      "application/vnd.openxmlformats-officedocument"
                                      ".wordprocessingml.document"},
                                     {"tar.zst", "application/zstd"},
                                     {"png", "image/png"}};

// Salts: one per independent choice made for an object.
// clang-format off
enum Salt : uint64_t {
  kBucket = 1, kLargeBucket, kSmallBucket, kUser, kYear, kMonth, kShape, kDay, kService, kHost,
  kTable, kPart, kFolder, kFile, kSizeExponent, kSizeFraction, kEmpty, kEtagHigh, kEtagLow,
  kStorageClass, kMetadata, kTime, kFirstNode, kVolume = 100, kOffset = 200,
};
// clang-format on

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

absl::CivilDay DayOf2024(uint64_t h) { return absl::CivilDay(2024, 1, 1) + (h % 366); }

}  // namespace

Workload::Workload(WorkloadOptions options) : options_(options) {
  const int n = std::max(1, options_.buckets);
  for (int b = 0; b < n; ++b) {
    buckets_.push_back(b < 3 ? std::string(kLargeBuckets[b]) : absl::StrFormat("tenant-%04d", b));
  }
}

uint64_t Workload::Hash(uint64_t i, uint64_t salt) const {
  return Mix(i ^ Mix(options_.seed * 0x9e3779b97f4a7c15ull + salt));
}

size_t Workload::BucketOf(uint64_t i) const {
  const size_t large = std::min<size_t>(3, buckets_.size());
  const size_t small = buckets_.size() - large;
  if (small > 0 && Hash(i, kBucket) % 100 >= kLargePercent) {
    return large + Hash(i, kSmallBucket) % small;
  }
  uint64_t total = 0;
  for (size_t b = 0; b < large; ++b) total += kLargeWeights[b];
  uint64_t r = Hash(i, kLargeBucket) % total;
  size_t b = 0;
  while (r >= kLargeWeights[b]) r -= kLargeWeights[b++];
  return b;
}

ObjectKey Workload::Key(uint64_t i) const {
  const size_t b = BucketOf(i);
  ObjectKey key{buckets_[b], ""};
  switch (b) {
    case 0: {  // photos per user, by year and month; some albums named in other scripts
      const uint64_t user = Hash(i, kUser) % 20000;
      const uint64_t shape = Hash(i, kShape) % 100;
      const uint64_t year = 2015 + Hash(i, kYear) % 10;
      if (shape < 90) {
        key.key = absl::StrFormat("users/u%05d/photos/%04d/%02d/IMG_%010d.jpg", user, year,
                                  1 + Hash(i, kMonth) % 12, i);
      } else if (shape < 95) {
        key.key = absl::StrFormat("users/u%05d/álbum-família/%010d.jpg", user, i);
      } else {
        key.key = absl::StrFormat("users/u%05d/фото/%04d/%010d.jpg", user, year, i);
      }
      break;
    }
    case 1: {  // logs by day, service and host
      const absl::CivilDay day = DayOf2024(Hash(i, kDay));
      key.key = absl::StrFormat("%04d/%02d/%02d/%s/host-%03d/%010d.log.gz", day.year(), day.month(),
                                day.day(), kServices[Hash(i, kService) % std::size(kServices)],
                                Hash(i, kHost) % 200, i);
      break;
    }
    case 2: {  // a data lake's tables, partitioned by day
      const absl::CivilDay day = DayOf2024(Hash(i, kDay));
      key.key = absl::StrFormat("warehouse/%s/dt=%04d-%02d-%02d/part-%05d-%010d.parquet",
                                kTables[Hash(i, kTable) % std::size(kTables)], day.year(),
                                day.month(), day.day(), Hash(i, kPart) % 64, i);
      break;
    }
    default:  // small tenants: documents, backups, images
      key.key = absl::StrFormat("%s/file-%010d.%s",
                                kTenantFolders[Hash(i, kFolder) % std::size(kTenantFolders)], i,
                                kTenantFiles[Hash(i, kFile) % std::size(kTenantFiles)].extension);
      break;
  }
  return key;
}

ObjectRecord Workload::Record(uint64_t i) const {
  ObjectRecord r;
  const size_t b = BucketOf(i);
  if (Hash(i, kEmpty) % 200 != 0) {
    const uint64_t exponent = 6 + Hash(i, kSizeExponent) % 25;  // 64 B .. 2 GiB
    r.size = (1ull << exponent) + Hash(i, kSizeFraction) % (1ull << exponent);
  }
  r.etag = absl::StrFormat("\"%016x%016x\"", Hash(i, kEtagHigh), Hash(i, kEtagLow));
  const char* types[] = {"image/jpeg", "application/gzip", "application/vnd.apache.parquet"};
  r.content_type =
      b < 3 ? types[b] : kTenantFiles[Hash(i, kFile) % std::size(kTenantFiles)].content_type;
  const uint64_t cls = Hash(i, kStorageClass) % 100;
  r.storage_class = cls < 85 ? "STANDARD" : cls < 95 ? "STANDARD_IA" : "GLACIER";
  if (Hash(i, kMetadata) % 4 == 0) {
    r.user_metadata = {{"uploader", absl::StrFormat("svc-%02d", Hash(i, kMetadata) % 32)}};
  }
  r.created = r.modified = absl::FromUnixSeconds(1704067200 + Hash(i, kTime) % (366 * 86400));

  if (r.size == 0) return r;
  // Three replicas, or 4+2 erasure-coded shards for large objects, each on
  // its own node (7 is coprime with kNodes, so the nodes differ).
  const bool coded = r.size >= (64ull << 20);
  const int pieces = coded ? 6 : 3;
  const uint64_t length = coded ? (r.size + 3) / 4 : r.size;
  for (int k = 0; k < pieces; ++k) {
    const uint64_t node = (Hash(i, kFirstNode) + 7 * k) % kNodes;
    r.locations.push_back(
        {absl::StrFormat("node-%02d", node),
         absl::StrFormat("vol-%02d-%02d", node, Hash(i, kVolume + k) % kVolumesPerNode),
         (Hash(i, kOffset + k) % (1ull << 40)) & ~uint64_t{4095}, length});
  }
  return r;
}

std::vector<ObjectKey> Workload::Sample(size_t n) const {
  std::vector<ObjectKey> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) keys.push_back(Key(i));
  return keys;
}

}  // namespace cellindex::tools
