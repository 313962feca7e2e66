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
#include "index/cell/cell_resources.h"
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
  // Both column families (cell_keys.h): records and state in the default
  // one, the reverse index in the locations one.
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(o)},
      {kLocationsColumnFamily, rocksdb::ColumnFamilyOptions(o)}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  Check(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(o), dir, families, &handles, &raw),
        absl::StrCat("open ", dir, " read-only"));
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>> owned(handles.begin(), handles.end());
  uint64_t sst = 0;
  db->GetAggregatedIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &sst);
  space->sst_bytes += sst;
  ++space->cells;

  // Each part is the keys starting with its prefix byte, [p, p + 1), in
  // its family.
  struct Part {
    char prefix;
    rocksdb::ColumnFamilyHandle* family;
    KeySpace* space;
  };
  const Part parts[] = {{kRecordPrefix, handles[0], &space->records},
                        {'m', handles[0], &space->state},
                        {kVolumePrefix, handles[1], &space->volumes},
                        {kNodePrefix, handles[1], &space->nodes}};
  rocksdb::SizeApproximationOptions sao;  // files only, precise
  for (const Part& p : parts) {
    const std::string lo(1, p.prefix), hi(1, static_cast<char>(p.prefix + 1));
    rocksdb::Range range(lo, hi);
    uint64_t size = 0;
    Check(db->GetApproximateSizes(sao, p.family, &range, 1, &size), "approximate sizes");
    p.space->file_bytes += size;
  }

  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  for (rocksdb::ColumnFamilyHandle* family : handles) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, family));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice k = it->key();
      if (k.empty()) continue;
      for (const Part& p : parts) {
        if (p.family != family || k[0] != p.prefix) continue;
        ++p.space->entries;
        p.space->key_bytes += k.size();
        p.space->value_bytes += it->value().size();
      }
    }
    Check(it->status(), "scan");
  }
  owned.clear();  // before the DB
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
