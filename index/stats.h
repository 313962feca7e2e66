// Counters and timings an Index reports about itself.
#ifndef CELLINDEX_INDEX_STATS_H_
#define CELLINDEX_INDEX_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cellindex {

struct CellStats {
  uint32_t id = 0;
  std::string range;  // "[lo, hi)", escaped
  std::string host;
  std::string state;  // "opening", "replaying", "serving", "failed"
  std::string error;  // why, when failed
  uint64_t applied_seq = 0;  // last journal record applied to RocksDB
  uint64_t keys = 0;         // objects in the cell, exact
  uint64_t sst_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t journal_bytes = 0;  // all segments in the store
  // Local restart: time to open RocksDB, time to replay the journal tail,
  // and the records replayed.
  absl::Duration open_time;
  absl::Duration replay_time;
  uint64_t records_replayed = 0;
  // A torn journal tail cut at open: bytes cut (0: none).
  uint64_t journal_tail_cut_bytes = 0;
  // Operations served since open.
  uint64_t puts = 0;
  uint64_t deletes = 0;
  uint64_t gets = 0;
  uint64_t precondition_failures = 0;
  uint64_t journal_syncs = 0;  // group commits in sync mode share one
};

struct IndexStats {
  uint64_t epoch = 0;
  absl::Duration open_time;  // whole Index::Open
  std::vector<CellStats> cells;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_STATS_H_
