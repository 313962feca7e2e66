// Scenario (a) of recovery_bench: one RocksDB with one cell's options, WAL
// on, backed up with BackupEngine, restored after its directory is lost
// (see recovery_bench.cc).
#ifndef CELLINDEX_BENCH_RECOVERY_BENCH_ROCKSDB_H_
#define CELLINDEX_BENCH_RECOVERY_BENCH_ROCKSDB_H_

#include <cstdint>

#include "bench/recovery_bench_flags.h"
#include "bench/recovery_bench_layout.h"

namespace cellindex::bench::recovery_bench {

struct RawBuild {
  double load_s = 0, backup_s = 0, tail_s = 0;
  uint64_t backup_bytes = 0, wal_bytes = 0, db_bytes = 0;
  uint64_t record_bytes = 0;  // encoded records, all objects
};

struct RawRun {
  double restore_s = 0;  // BackupEngine open + RestoreDBFromLatestBackup
  double open_s = 0;     // DB::Open, replaying the WAL
  double verify_s = 0;   // VerifyChecksum
  double first_s = 0, full_s = 0;
  double open_ready_s = 0;  // had it served before VerifyChecksum
  uint64_t bytes = 0;       // backup files + WAL
};

// Loads every object, backs the DB up, writes the tail into the WAL and
// closes it; keeps a copy of the WAL for the repetitions.
RawBuild BuildRaw(const Flags& f, const Layout& l);

// One repetition: the DB directory lost, restored from the backup and the
// WAL as they were at the loss, opened and verified.
RawRun RunRaw(const Flags& f, const Layout& l, const RawBuild& build);

}  // namespace cellindex::bench::recovery_bench

#endif  // CELLINDEX_BENCH_RECOVERY_BENCH_ROCKSDB_H_
