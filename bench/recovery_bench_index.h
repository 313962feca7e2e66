// Scenarios (b) and (c) of recovery_bench: the Index loses a host, or every
// host (see recovery_bench.cc).
#ifndef CELLINDEX_BENCH_RECOVERY_BENCH_INDEX_H_
#define CELLINDEX_BENCH_RECOVERY_BENCH_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bench/recovery_bench_flags.h"
#include "bench/recovery_bench_fs.h"
#include "bench/recovery_bench_layout.h"
#include "index/index.h"

namespace cellindex::bench::recovery_bench {

struct IndexBuild {
  double load_s = 0, checkpoint_s = 0, tail_s = 0;
  uint64_t checkpoint_bytes = 0;  // all cells
  uint64_t host_bytes = 0;        // all cells' local RocksDB state at close
  uint64_t journal_bytes = 0;     // all cells' journals in the store
  uint64_t journal_tail_bytes = 0;  // written since the checkpoint
  std::map<CellId, ObjectKey> probe_key;  // one stored key per cell
  std::map<CellId, uint64_t> cell_journal_bytes, cell_tail_bytes, cell_checkpoint_bytes;
  std::map<CellId, std::string> cell_host;
};

// Per-cell recovery reports gathered over repetitions.
struct Phases {
  std::vector<double> fetch, verify, open, replay, validate, serve;
  std::vector<double> bytes_fetched, records_replayed;

  void Add(const RecoveryReport& r) {
    fetch.push_back(absl::ToDoubleSeconds(r.fetch_time));
    verify.push_back(absl::ToDoubleSeconds(r.verify_time));
    open.push_back(absl::ToDoubleSeconds(r.open_time));
    replay.push_back(absl::ToDoubleSeconds(r.replay_time));
    validate.push_back(absl::ToDoubleSeconds(r.validate_time));
    serve.push_back(absl::ToDoubleSeconds(r.time_to_serve));
    bytes_fetched.push_back(static_cast<double>(r.bytes_fetched));
    records_replayed.push_back(static_cast<double>(r.records_replayed));
  }
};

struct IndexRun {
  double first_s = 0, full_s = 0;  // the figures compared with (a)
  // (b): the LoseHost call (out of service, host dir removed, map saved);
  // first/last cell by the library's clock: the call plus time_to_serve.
  double lose_call_s = 0, lib_first_s = 0, lib_full_s = 0;
  // (c): Index::Open's return, and first/all by the probes.
  double open_return_s = 0, probe_first_s = 0, probe_full_s = 0;
  double wait_s = 0;            // until WaitForRecovery returned
  double validated_s = 0;       // until every recovered cell's validation was "ok"
  size_t cells = 0;             // cells recovered
  uint64_t bytes_fetched = 0;   // checkpoint files copied
  uint64_t journal_bytes = 0;   // journal segments read (whole segments)
  uint64_t records_replayed = 0;
  std::vector<std::string> sources;  // "checkpoint", ...
  // Until WaitForRecovery returned: CPU seconds of the whole process (the
  // probes' polling included), and the file-system operations, per
  // recovered cell and the rest (other cells, and paths of no cell: the
  // cell map, a host's cells/ directory).
  double cpu_s = 0;
  FsCounts fs;
  std::vector<FsCounts> fs_cells;
  FsCounts fs_other;
};

enum class Validation { kOff, kBackground, kParanoid };

const char* ValidationName(Validation v);

// Loads every object, checkpoints every cell, writes the tail and closes the
// Index; keeps its state aside (Layout::index_kept) for the repetitions.
IndexBuild BuildIndex(const Flags& f, const Layout& l);

// (b): the kept state reopened, then LoseHost(f.lose). Adds each recovered
// cell's report to `phases` unless it is null.
IndexRun RunLoseHost(const Flags& f, const Layout& l, const IndexBuild& build, Validation v,
                     Phases* phases);

// (c): only the kept durable store, every host directory gone, then
// Index::Open. Adds each cell's report to `phases` unless it is null.
IndexRun RunColdStart(const Flags& f, const Layout& l, const IndexBuild& build, Validation v,
                      Phases* phases);

}  // namespace cellindex::bench::recovery_bench

#endif  // CELLINDEX_BENCH_RECOVERY_BENCH_INDEX_H_
