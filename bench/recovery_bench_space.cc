#include "bench/recovery_bench_space.h"

#include <cstdarg>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "index/base/file_util.h"
#include "index/cell/cell_keys.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"

namespace cellindex::bench::recovery_bench {
namespace {

// An info log that drops everything: a read-only open would otherwise
// create a LOG file in the directory (and rename the old one).
class NoLog : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

void Measure(const std::string& dir, IndexSpace* space) {
  rocksdb::Options o;
  o.create_if_missing = false;
  o.info_log = std::make_shared<NoLog>();
  rocksdb::DB* raw = nullptr;
  Check(rocksdb::DB::OpenForReadOnly(o, dir, &raw), absl::StrCat("open ", dir, " read-only"));
  std::unique_ptr<rocksdb::DB> db(raw);
  uint64_t sst = 0;
  db->GetIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &sst);
  space->sst_bytes += sst;
  ++space->cells;

  // Each part is the keys starting with its prefix byte: [p, p + 1).
  const char prefixes[] = {kRecordPrefix, kVolumePrefix, kNodePrefix, 'm'};
  KeySpace* parts[] = {&space->records, &space->volumes, &space->nodes, &space->state};
  std::vector<std::string> bounds;
  for (char p : prefixes) {
    bounds.push_back(std::string(1, p));
    bounds.push_back(std::string(1, static_cast<char>(p + 1)));
  }
  std::vector<rocksdb::Range> ranges;
  for (size_t i = 0; i < bounds.size(); i += 2) ranges.emplace_back(bounds[i], bounds[i + 1]);
  std::vector<uint64_t> sizes(ranges.size());
  rocksdb::SizeApproximationOptions sao;  // files only, precise
  Check(db->GetApproximateSizes(sao, db->DefaultColumnFamily(), ranges.data(),
                                static_cast<int>(ranges.size()), sizes.data()),
        "approximate sizes");
  for (size_t i = 0; i < ranges.size(); ++i) parts[i]->file_bytes += sizes[i];

  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.empty()) continue;
    for (size_t i = 0; i < 4; ++i) {
      if (k[0] != prefixes[i]) continue;
      ++parts[i]->entries;
      parts[i]->key_bytes += k.size();
      parts[i]->value_bytes += it->value().size();
    }
  }
  Check(it->status(), "scan");
}

}  // namespace

IndexSpace MeasureIndexSpace(const std::string& hosts_dir) {
  std::vector<std::string> dirs;
  ForEachFile(hosts_dir, [&](const std::string& path) {
    if (absl::EndsWith(path, "/CURRENT")) dirs.push_back(ParentDir(path));
  });
  IndexSpace space;
  for (const std::string& dir : dirs) Measure(dir, &space);
  if (space.cells == 0) Die("measure space", absl::NotFoundError(hosts_dir));
  return space;
}

}  // namespace cellindex::bench::recovery_bench
