// What recovery_bench measured, printed as a table or as JSON.
#ifndef CELLINDEX_BENCH_RECOVERY_BENCH_REPORT_H_
#define CELLINDEX_BENCH_RECOVERY_BENCH_REPORT_H_

#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/recovery_bench_flags.h"
#include "bench/recovery_bench_index.h"
#include "bench/recovery_bench_rocksdb.h"
#include "bench/recovery_bench_space.h"

namespace cellindex::bench::recovery_bench {

struct Results {
  Flags flags;
  std::string disk, load_before, load_after;
  unsigned cores = 0;
  size_t lost_cells = 0;
  double record_bytes_avg = 0;
  DiskRates disk_start, disk_end;
  RawBuild raw_build;
  IndexBuild index_build;
  std::vector<RawRun> a, a2;
  std::vector<IndexRun> b, c;
  Phases b_phases, c_phases;
  std::vector<std::pair<std::string, IndexRun>> extra;  // --validate and --sweep runs
  // --sweep: one (b) and one (c) run per recovery_parallelism value.
  struct SweepRun {
    int recovery_parallelism = 0;
    IndexRun b, c;
  };
  std::vector<SweepRun> sweep;
  IndexSpace index_space;
  double total_s = 0;
};

// The table: the set-up, the disk's rates, each scenario's medians, the
// per-cell phases, what each restore did (CPU, file-system operations), the
// bytes per object, the sweep and the ratios against (a) and (a2).
void PrintTable(const Results& res, FILE* out);
// Every repetition as one JSON object, to stdout.
void PrintJson(const Results& res);

}  // namespace cellindex::bench::recovery_bench

#endif  // CELLINDEX_BENCH_RECOVERY_BENCH_REPORT_H_
