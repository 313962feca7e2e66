// Counters and timings an Index reports about itself.
#ifndef CELLINDEX_INDEX_BASE_STATS_H_
#define CELLINDEX_INDEX_BASE_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cellindex {

// The deep validation of a cell's state after it was recovered.
enum class ValidationState {
  kOff,      // validation is off (Options::validate_after_recovery)
  kPending,  // queued: the cell serves, but is not checkpointed yet
  kRunning,
  kOk,
  kFailed,   // the cell is out of service and being restored
};
const char* ValidationStateName(ValidationState v);

// Where a cell is in its life: recovering (one of the recovery phases),
// serving, or failed.
enum class CellPhase {
  kQueued,    // waiting for its recovery to start
  kFetch,     // restoring: copying a checkpoint's files from the store
  kVerify,    // restoring: checking the copies against the manifest
  kOpen,      // opening its RocksDB
  kReplay,    // replaying the journal tail
  kValidate,  // the deep validation, before serving (paranoid)
  kServing,
  kFailed,    // see the error
};
const char* CellPhaseName(CellPhase phase);

// What a recovered cell's state came from.
enum class RecoverySource {
  kNone,        // not recovered yet
  kLocal,       // the host kept it: reopened
  kCheckpoint,  // restored from a checkpoint in the durable store
  kJournal,     // no checkpoint: the whole journal replayed
  kParent,      // a split's child without a checkpoint of its own: its
                // parent's state at the split, trimmed, then its journal
};
const char* RecoverySourceName(RecoverySource source);

// How a cell came back the last time it was opened or restored.
struct RecoveryReport {
  RecoverySource source = RecoverySource::kNone;
  uint64_t checkpoint_seq = 0;  // the checkpoint restored, if any
  uint64_t files_fetched = 0;
  uint64_t bytes_fetched = 0;
  // An in-place restore: the checkpoint's table files it serves from where
  // they lie in the store (copied to the host in the background).
  bool in_place = false;
  uint64_t files_in_store = 0;
  uint64_t bytes_in_store = 0;
  uint64_t records_replayed = 0;
  uint64_t records_validated = 0;
  // Phase times: fetch (copy from the store, hashing), verify (compare with
  // the manifest), open (RocksDB), replay (journal tail), validate (deep
  // check: inline when paranoid, else in the background after serving).
  absl::Duration fetch_time;
  absl::Duration verify_time;
  absl::Duration open_time;
  absl::Duration replay_time;
  absl::Duration validate_time;
  // From the start of recovery (or Index::Open) until the cell served.
  absl::Duration time_to_serve;
  // Why each newer source was passed over (damaged checkpoint, ...).
  std::vector<std::string> fallbacks;
  // What the journal's open found: the last seq it holds, whether its newest
  // segment was sealed (closed cleanly), and the bytes of a write torn by a
  // crash that were ignored at its end (where and why in journal_torn_tail).
  // A crash can tear only the last write; the store cannot prove whether a
  // torn write had been acknowledged, so it is reported here.
  uint64_t journal_last_seq = 0;
  bool journal_sealed = false;
  uint64_t journal_torn_bytes = 0;
  std::string journal_torn_tail;
  // The highest seq the journal declared missing (records the state held but
  // the journal had lost); 0: none.
  uint64_t journal_gap_end = 0;
  // Why a checkpoint was taken before the cell served, if one was.
  std::string reprotected;
};

// One checkpoint of one cell.
struct CheckpointReport {
  uint32_t cell = 0;
  bool taken = false;  // false: the newest checkpoint already held this state
  uint64_t applied_seq = 0;
  uint64_t key_count = 0;
  uint64_t files = 0;
  uint64_t files_copied = 0;  // only files the store did not hold yet
  uint64_t bytes_copied = 0;
  uint64_t total_bytes = 0;
  uint64_t checkpoints_deleted = 0;
  // Manifests found damaged (not counted as kept; kept as evidence).
  uint64_t checkpoints_damaged = 0;
  uint64_t files_deleted = 0;
  absl::Duration capture_time;  // flush (writes stall only for this) + listing
  absl::Duration copy_time;
  absl::Duration publish_time;  // manifest, retention, journal trim
};

struct CellStats {
  uint32_t id = 0;
  std::string range;  // "[lo, hi)", escaped
  std::string host;
  // How the cell came to be (CellOriginName: none, split, merge), from
  // which retired cells, and when (the Unix epoch for origin none).
  std::string origin = "none";
  std::vector<uint32_t> parents;
  absl::Time born = absl::UnixEpoch();
  CellPhase state = CellPhase::kQueued;
  std::string error;  // why, when failed
  uint64_t applied_seq = 0;  // last journal record applied to RocksDB
  uint64_t keys = 0;         // objects in the cell, exact
  uint64_t sst_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t journal_bytes = 0;                   // all segments in the store
  uint64_t journal_bytes_since_checkpoint = 0;  // what a restore would replay
  // At open: time to open RocksDB, time to replay the journal tail, and the
  // records replayed.
  absl::Duration open_time;
  absl::Duration replay_time;
  uint64_t records_replayed = 0;
  // Keys the replay looked up (in its batch or by a point read): only ops of
  // the journal's older body kinds need it (index/cell/cell_ops.h); 0 for a
  // journal written by this version.
  uint64_t replay_reads = 0;
  // Checkpoint files the cell still reads from the durable store (an
  // in-place restore whose background copy has not landed them yet), and
  // what the copy has done and found since the cell opened.
  uint64_t store_files = 0;
  uint64_t store_bytes = 0;
  uint64_t files_landed = 0;
  uint64_t bytes_landed = 0;
  std::string copy_error;  // why the background copy stopped early, if it did
  // A torn journal tail cut at open: bytes cut (0: none).
  uint64_t journal_tail_cut_bytes = 0;
  RecoveryReport recovery;
  // The deep validation of the state since it was recovered.
  ValidationState validation = ValidationState::kOff;
  uint64_t checkpoints_taken = 0;  // since open
  uint64_t last_checkpoint_seq = 0;
  // Operations served since open.
  uint64_t puts = 0;
  uint64_t deletes = 0;
  uint64_t gets = 0;
  uint64_t precondition_failures = 0;
  uint64_t journal_syncs = 0;  // group commits in sync mode share one
  // The last journal record known durable (fdatasync'ed): in buffered
  // durability it trails applied_seq by up to one sync interval.
  uint64_t journal_synced_seq = 0;
};

struct IndexStats {
  uint64_t epoch = 0;
  absl::Duration open_time;  // Index::Open until it returned
  // Since Index::Open started: the first cell serving, and all serving
  // (zero until it happens).
  absl::Duration time_to_first_cell;
  absl::Duration time_to_all_cells;
  // Passes of the background checkpoint loop over the cells since open.
  uint64_t checkpoint_loop_passes = 0;
  std::vector<CellStats> cells;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_BASE_STATS_H_
