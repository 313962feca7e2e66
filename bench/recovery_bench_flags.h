// recovery_bench's command line (the usage is in recovery_bench.cc's header).
#ifndef CELLINDEX_BENCH_RECOVERY_BENCH_FLAGS_H_
#define CELLINDEX_BENCH_RECOVERY_BENCH_FLAGS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "index/model/options.h"

namespace cellindex::bench::recovery_bench {

struct Flags {
  uint64_t objects = 1000000;
  size_t cells = 32;
  size_t hosts = 8;
  uint64_t tail = 0;  // 0: objects / 50
  int reps = 3;
  // A cell's restore mostly waits: on fsyncs (every fetched file, the
  // directory renames, RocksDB::Open's new MANIFEST/CURRENT/OPTIONS) more
  // than on bandwidth or CPU. Twice the cores keeps the disk and 2 cores
  // busy (measured with --sweep: 1 and 2 bring the last cell back later; 8
  // brings all of a cold start back sooner but delays the first cell).
  int recovery_parallelism = 4;
  int fetch_parallelism = 4;
  // BackupEngine copy threads for (a); the same number of concurrent file
  // copies as one cell restore uses.
  int backup_threads = 4;
  int load_threads = 2;
  uint64_t disk_test_mb = 512;
  // 0: the library's default journal_segment_bytes.
  uint64_t journal_segment_mb = 0;
  // Extra (b) and (c) runs, one each, at these recovery_parallelism values
  // (--sweep alone: 1,2,4,8,16).
  std::vector<int> sweep;
  std::string lose = "h3";
  std::string dir = "/tmp";
  bool validate = false;
  // Options::restore_mode for (b) and (c): --restore-mode=copy|in_place.
  RestoreMode restore_mode = RestoreMode::kInPlace;
  bool json = false;
  bool keep = false;
};

// Prints the usage and exits with 2 on an unknown flag or a bad value.
Flags ParseFlags(int argc, char** argv);

}  // namespace cellindex::bench::recovery_bench

#endif  // CELLINDEX_BENCH_RECOVERY_BENCH_FLAGS_H_
