// A cell: one contiguous range of encoded keys, served by one RocksDB instance
// (WAL off) and one journal in the durable store.
//
// Write path: writers queue; the writer at the front becomes the leader, takes
// every queued writer as one group, checks preconditions in queue order,
// assigns each writer the next sequence number, appends their records to the
// journal with one write (and one fdatasync in sync mode), applies one RocksDB
// WriteBatch holding the records, their reverse-location entries and the
// cell's state (applied_seq and count), and wakes the group. Journal order is apply order.
//
// Journal record body (after the seq, see recovery/journal_format.h):
//
//     op count   : varint64, then per op:
//     kind       : 1 byte, 1 = put, 2 = delete
//     key        : encoded key, length-prefixed
//     record     : encoded ObjectRecord, length-prefixed (put only), with the
//                  version and times already assigned, so replay is exact
//
// RocksDB key space of a cell:
//
//     'r' encoded_key                 -> encoded ObjectRecord
//     'v' volume 0x00 encoded_key     -> ""   (reverse index by volume)
//     'n' node 0x00 encoded_key       -> ""   (reverse index by node)
//     'm' "state"                     -> fixed64 applied_seq (last journal seq
//                                        applied), fixed64 count (records)
//
// Every WriteBatch carries the new state, so whatever RocksDB has persisted
// is a consistent prefix of the journal. (One key, not two: it is rewritten
// by every batch, and each rewrite is another memtable entry.)
#ifndef CELLINDEX_INDEX_CELL_H_
#define CELLINDEX_INDEX_CELL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/cell_map.h"
#include "index/object_record.h"
#include "index/options.h"
#include "index/rocksdb_util.h"
#include "index/serving_cell.h"
#include "index/stats.h"
#include "index/write_batch.h"
#include "recovery/journal.h"
#include "rocksdb/db.h"
#include "rocksdb/metadata.h"

namespace cellindex {

// Prefixes of the cell's RocksDB key space (see above).
inline constexpr char kRecordPrefix = 'r';
inline constexpr char kVolumePrefix = 'v';
inline constexpr char kNodePrefix = 'n';

// One operation inside a cell, its key already encoded and validated.
struct CellOp {
  WriteOp::Kind kind = WriteOp::Kind::kPut;
  std::string encoded_key;
  ObjectRecord record;  // put only; the version is assigned by the cell
  Precondition precondition;
};

// What the opener knows about the state it hands over, and who to tell
// about progress.
struct CellOpenHooks {
  // Called as each phase starts: "open", "replay".
  std::function<void(const char* phase)> on_phase;
  // The state came from a checkpoint taken at this applied_seq holding
  // this many keys: a state that disagrees is DataLoss.
  std::optional<uint64_t> checkpoint_seq;
  uint64_t checkpoint_keys = 0;
};

class Cell {
 public:
  enum class State { kOpening, kReplaying, kServing, kFailed };

  struct Paths {
    std::string db_dir;       // host-local RocksDB directory
    std::string journal_dir;  // in the durable store
  };

  // Opens (creating if missing) the cell's RocksDB, reads its applied_seq and
  // replays the journal above it. Returns DataLoss when the journal cannot
  // bring the state up to date.
  static absl::StatusOr<std::unique_ptr<Cell>> Open(const CellRange& range, const Paths& paths,
                                                    const Options& options,
                                                    const CellResources& resources,
                                                    const CellOpenHooks& hooks = {});
  ~Cell();

  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;

  // Applies `ops` atomically, after every write queued before it. Returns the
  // version assigned to each op (the write's sequence number for puts, 0 for
  // deletes). FailedPrecondition when a precondition fails or a key is outside
  // the cell's range; NotFound when a delete names a missing key; nothing is
  // applied then.
  absl::StatusOr<std::vector<uint64_t>> Write(std::vector<CellOp> ops);
  // NotFound when absent; DataLoss when the stored record is damaged.
  absl::StatusOr<ObjectRecord> Get(absl::string_view encoded_key);
  // fdatasyncs the journal (the buffered-durability timer calls this).
  absl::Status SyncJournal();

  // ---- Checkpoint support ------------------------------------------------
  // One consistent set of the RocksDB files holding the state at applied_seq.
  struct LiveFiles {
    uint64_t applied_seq = 0;
    uint64_t key_count = 0;
    std::string db_identity;
    std::vector<rocksdb::LiveFileStorageInfo> files;
  };
  // Stalls writes only while the memtable is flushed, then lists the live
  // files of exactly that state. File deletions stay disabled until
  // ReleaseLiveFiles, so the files can be copied while writes go on.
  absl::StatusOr<LiveFiles> CaptureLiveFiles();
  void ReleaseLiveFiles();
  // Deletes journal segments whose records are all at or below `seq`.
  absl::Status TrimJournal(uint64_t seq);
  // Journal bytes written since the last NoteCheckpoint (or since open,
  // counting the tail replayed at open).
  uint64_t journal_bytes_since_checkpoint() const;
  void NoteCheckpoint();

  // Deep validation: a full scan at one snapshot. Every record decodes (its
  // checksum holds), lies inside the cell's range, and the count of records
  // equals the count the state carries. DataLoss naming the first problem.
  absl::Status Validate(uint64_t* records_checked = nullptr);

  const CellRange& range() const { return range_; }
  CellStats Stats() const;
  // The cell's RocksDB, for reads that scan (listing, location lookups).
  rocksdb::DB* db() const { return db_.get(); }
  // OK while the cell serves; otherwise Unavailable or the error that failed it.
  absl::Status CheckServing() const;
  // Tests only: puts the cell in `state`, e.g. kReplaying, to see how readers
  // treat a cell that is not serving.
  void SetStateForTesting(State state) { SetState(state); }

 private:
  struct Writer;
  struct Applied;  // one op, ready to go into a RocksDB batch
  using Overlay = absl::flat_hash_map<std::string, std::optional<ObjectRecord>>;

  Cell(const CellRange& range, bool sync);
  absl::Status Replay(absl::string_view body, Overlay* overlay, rocksdb::WriteBatch* batch,
                      int64_t* count_delta);
  // Decodes the stored record of `encoded_key` into `*record`; `*found` is
  // false when there is none. DataLoss naming the object when it is damaged.
  absl::Status ReadRecord(absl::string_view encoded_key, ObjectRecord* record, bool* found);
  // The key's record as of `overlay` (this group's earlier writes), else as
  // stored; nullopt when absent.
  absl::StatusOr<std::optional<ObjectRecord>> Lookup(const std::string& encoded_key,
                                                     const Overlay& overlay);
  // Prepares one writer's ops against `overlay` (updated on success).
  absl::Status Prepare(Writer* w, uint64_t seq, Overlay* overlay, std::vector<Applied>* out,
                       std::string* body);
  void Fail(absl::Status why) ABSL_LOCKS_EXCLUDED(mu_);
  void SetState(State state) ABSL_LOCKS_EXCLUDED(mu_);
  // The leader's work for one group of writers.
  void CommitGroup(const std::vector<Writer*>& group);
  // Runs `fn` in the write order, with no write in flight.
  absl::Status RunExclusive(const std::function<absl::Status()>& fn);

  const CellRange range_;
  const bool sync_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<Journal> journal_;
  rocksdb::WriteOptions write_options_;

  mutable absl::Mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  std::atomic<State> state_{State::kOpening};  // written under mu_
  absl::Status error_ ABSL_GUARDED_BY(mu_);

  // Owned by the current leader (one at a time, by the writer queue).
  uint64_t next_seq_ = 1;
  uint64_t count_ = 0;

  std::atomic<uint64_t> applied_seq_{0};
  std::atomic<uint64_t> keys_{0};
  std::atomic<uint64_t> puts_{0}, deletes_{0}, gets_{0}, precondition_failures_{0};
  std::atomic<uint64_t> journal_syncs_{0};
  absl::Duration open_time_;
  absl::Duration replay_time_;
  uint64_t records_replayed_ = 0;
  uint64_t replayed_bytes_ = 0;
  std::atomic<uint64_t> checkpoint_mark_{0};  // journal appended_bytes at last checkpoint
  uint64_t tail_cut_bytes_ = 0;
};

const char* CellStateName(Cell::State state);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_H_
