// Scenarios (a) and (a2) of recovery_bench: one RocksDB with one cell's
// options, WAL on and kept in the durable store, restored after its
// directory is lost: (a) from a BackupEngine backup, (a2) from a
// rocksdb::Checkpoint in the store, opened in place (see recovery_bench.cc).
#ifndef CELLINDEX_BENCH_RECOVERY_BENCH_ROCKSDB_H_
#define CELLINDEX_BENCH_RECOVERY_BENCH_ROCKSDB_H_

#include <cstdint>

#include "bench/recovery_bench_flags.h"
#include "bench/recovery_bench_fs.h"
#include "bench/recovery_bench_layout.h"

namespace cellindex::bench::recovery_bench {

// What (a) or (a2) restores from.
enum class RawSource {
  kBackup,      // (a): BackupEngine::RestoreDBFromLatestBackup copies the backup
  kCheckpoint,  // (a2): the checkpoint's SST files hard-linked, the rest copied
};
const char* RawSourceName(RawSource source);

struct RawBuild {
  double load_s = 0, backup_s = 0, checkpoint_s = 0, tail_s = 0;
  uint64_t backup_bytes = 0, checkpoint_bytes = 0;
  // The WALs a restore replays: every WAL from the one the backup (and the
  // checkpoint) started, live or archived. Older archived WALs are deleted
  // once the backup holds their data (wals_pruned of them).
  uint64_t wal_bytes = 0;
  uint64_t archived_wal_bytes = 0;  // of wal_bytes: WALs flushed since the backup
  uint64_t wals_pruned = 0;
  uint64_t backup_log_number = 0;  // the oldest WAL the backup needs
  // The DB at the loss: its live SST files, its live WALs (not archived),
  // and its whole directory.
  uint64_t sst_bytes = 0, live_wal_bytes = 0, db_bytes = 0;
  uint64_t record_bytes = 0;  // encoded records, all objects
};

struct RawRun {
  // (a): BackupEngine open + RestoreDBFromLatestBackup (which moves the
  // archived WALs back, RestoreOptions::keep_log_files); (a2): the
  // checkpoint linked and copied into a new DB directory, the archived WALs
  // moved back.
  double restore_s = 0;
  double open_s = 0;    // DB::Open, replaying the WALs
  double verify_s = 0;  // VerifyChecksum
  double first_s = 0, full_s = 0;
  double open_ready_s = 0;  // had it served before VerifyChecksum
  double cpu_s = 0;         // CPU seconds (all threads) until full_s
  uint64_t bytes = 0;       // backup or checkpoint files + WALs
  uint64_t files_linked = 0, files_copied = 0;  // (a2)
  FsCounts fs;  // until full_s
};

// Loads every object, backs the DB up and checkpoints it into the store,
// writes the tail and closes it; keeps a copy of the WAL directory (live and
// archived WALs) for the repetitions.
RawBuild BuildRaw(const Flags& f, const Layout& l);

// One repetition: the DB directory lost, restored from `source` and the
// WALs as they were at the loss, opened and verified; every tail write is
// checked (untimed).
RawRun RunRaw(const Flags& f, const Layout& l, const RawBuild& build, RawSource source);

}  // namespace cellindex::bench::recovery_bench

#endif  // CELLINDEX_BENCH_RECOVERY_BENCH_ROCKSDB_H_
