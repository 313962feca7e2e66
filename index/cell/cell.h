// A cell: one contiguous range of encoded keys, served by one RocksDB instance
// (WAL off) and one journal in the durable store.
//
// Write path: writers queue; the writer at the front becomes the leader, takes
// every queued writer as one group, checks preconditions in queue order,
// assigns each writer the next sequence number, appends their records to the
// journal with one write (and one fdatasync in sync mode), applies one RocksDB
// WriteBatch holding the records, their reverse-location entries and the
// cell's state (applied_seq and count), and wakes the group. Journal order is
// apply order.
//
// The journal record body is in cell_ops.h, the RocksDB key space in
// cell_keys.h. The files: cell.cc (open, replay, the write path, reads),
// cell_checkpoint.cc (what a checkpoint captures), cell_validate.cc (the deep
// validation).
#ifndef CELLINDEX_INDEX_CELL_CELL_H_
#define CELLINDEX_INDEX_CELL_CELL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/base/stats.h"
#include "index/cell/cell_keys.h"
#include "index/cell/cell_ops.h"
#include "index/cell/cell_resources.h"
#include "index/model/cell_map.h"
#include "index/model/object_record.h"
#include "index/model/write_batch.h"
#include "index/model/options.h"
#include "recovery/journal/journal.h"
#include "rocksdb/db.h"
#include "rocksdb/metadata.h"

namespace cellindex {

// One operation inside a cell, its key already encoded and validated.
struct CellOp {
  WriteOp::Kind kind = WriteOp::Kind::kPut;
  std::string encoded_key;
  ObjectRecord record;  // put only; the version is assigned by the cell
  Precondition precondition;
};

class Cell;
struct CellStats;

// Work bound to one open cell, such as the background copy of the files an
// in-place restore left in the store: started once the cell serves, stopped
// before it closes (while the cell is still whole, so it may call
// ReportDamage until Stop returns).
class CellCompanion {
 public:
  virtual ~CellCompanion() = default;
  virtual void Start(Cell* cell) = 0;
  virtual void Stop() = 0;
  // Adds what it knows to the cell's stats.
  virtual void AddStats(CellStats* stats) const = 0;
};

// What the opener knows about the state it hands over, and who to tell
// about progress.
struct CellOpenHooks {
  // Called as each phase starts: kOpen, kReplay.
  std::function<void(CellPhase phase)> on_phase;
  // The state came from a checkpoint taken at this applied_seq holding
  // this many keys: a state that disagrees is DataLoss.
  std::optional<uint64_t> checkpoint_seq;
  uint64_t checkpoint_keys = 0;
  // The state must reach at least this seq after replay (a checkpoint of it
  // exists): less is DataLoss, found before anything is written.
  uint64_t must_reach = 0;
  // Called once, from the thread that noticed, when the serving cell fails:
  // a journal write or sync failed (the cell must reopen its journal), or a
  // read found damage (DataLoss: the local state must be restored). The
  // cell serves no more requests after it.
  std::function<void(const Cell* cell, const absl::Status& why)> on_failure;
  // Tests only: write journal bodies of the older kinds (no old names), as
  // versions before them did, to test that they still replay.
  bool legacy_journal_body = false;
  // Started when the cell serves; the cell owns it.
  std::shared_ptr<CellCompanion> companion;
  // The owner epoch the journal is opened with (JournalOptions::writer_epoch;
  // 0: this process owns the cell for good).
  uint64_t writer_epoch = 0;
};

class Cell {
 public:
  enum class State { kOpening, kReplaying, kServing, kFailed };

  struct Paths {
    std::string db_dir;        // host-local RocksDB directory
    std::string journal_dir;   // in the durable store
    std::string journal_head;  // in the durable store, beside journal_dir
  };

  // Opens (creating if missing) the cell's RocksDB, checks that it is this
  // cell's state (`identity`), reads its applied_seq and replays the journal
  // above it. DataLoss when the state belongs to another cell or index, or
  // the journal cannot bring it up to date or cannot prove its own end.
  // When the journal ends below the state (its newest records were lost, as
  // a power loss can do in buffered durability), it is restarted above the
  // state with the gap declared: journal_gap_end() says so, and the caller
  // must checkpoint the state before the cell takes writes.
  static absl::StatusOr<std::unique_ptr<Cell>> Open(const CellIdentity& identity,
                                                    const Paths& paths, const Options& options,
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
  // NotFound when absent; DataLoss when the stored record is damaged (the
  // cell then fails: see CellOpenHooks::on_failure).
  absl::StatusOr<ObjectRecord> Get(absl::string_view encoded_key);
  // Reports damage found while reading the cell (a scan, a record that does
  // not decode): the cell fails with `why` and stops serving.
  void ReportDamage(const absl::Status& why);
  // fdatasyncs the journal (the buffered-durability timer calls this).
  absl::Status SyncJournal();

  // ---- Checkpoint support (cell_checkpoint.cc) ---------------------------
  // One consistent set of the RocksDB files holding the state at applied_seq.
  struct LiveFiles {
    uint64_t applied_seq = 0;
    uint64_t key_count = 0;
    std::string db_identity;
    std::string db_session_id;  // of this open of the RocksDB
    std::vector<rocksdb::LiveFileStorageInfo> files;
    // Per table file (by relative name): the RocksDB session that wrote it.
    // With the file number it names the file uniquely across restores.
    std::map<std::string, std::string> table_sessions;
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

  // Deep validation (cell_validate.cc): every file's whole-file checksum
  // (recorded by RocksDB when it wrote the file), then a full scan at one
  // snapshot: every record decodes (its checksum holds), every key lies
  // inside the cell's range, and the count of records equals the count the
  // state carries. DataLoss naming the first problem.
  // Cancelled (not DataLoss: nothing was found wrong) once StopValidation
  // was called, checked between files' checksums and scanned records.
  absl::Status Validate(uint64_t* records_checked = nullptr);
  // Ends a validation under way, and any later one, early: for a cell taken
  // out of service (its host lost), whose state no one will read again.
  void StopValidation() { stop_validation_ = true; }

  // What the journal's open found (torn tail, seal, extent).
  const JournalOpenReport& journal_report() const { return journal_report_; }
  // The highest seq the journal has declared missing (0: none): a
  // checkpoint at or above it must exist before the cell takes writes.
  uint64_t journal_gap_end() const;
  // The owner epoch the journal writes under (JournalOptions::writer_epoch,
  // or the one it carries on), and the seq the state was at when the cell
  // opened: for an owner with an epoch, where it took over the cell (its
  // fence, recovery/store/owner_fence.h).
  uint64_t journal_epoch() const;
  uint64_t opened_seq() const { return opened_seq_; }

  const CellRange& range() const { return range_; }
  const std::string& index_id() const { return index_id_; }
  CellStats Stats() const;
  // The cell's RocksDB, for reads that scan (listing, location lookups),
  // and its column family of the reverse-location index (cell_keys.h).
  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* locations() const { return locations_.get(); }
  // OK while the cell serves; otherwise Unavailable or the error that failed it.
  absl::Status CheckServing() const;
  // The close that follows will not flush the memtable (the journal holds
  // everything since the last flush; a reopen replays it). For closes that
  // stand for a crash.
  void CloseWithoutFlush();
  // Tests only: puts the cell in `state`, e.g. kReplaying, to see how readers
  // treat a cell that is not serving.
  void SetStateForTesting(State state) { SetState(state); }

 private:
  struct Writer;
  struct Applied;  // one op, ready to go into a RocksDB batch
  using Overlay = absl::flat_hash_map<std::string, std::optional<ObjectRecord>>;

  Cell(const CellIdentity& identity, bool sync, const CellResources& resources,
       const CellOpenHooks& hooks);
  // Replays the journal above `applied` into the state (Open's second half).
  absl::Status ReplayJournal(const Paths& paths, const Options& options,
                             const CellResources& resources, uint64_t applied,
                             uint64_t must_reach, uint64_t writer_epoch);
  // Adds the mutations of one journal record's ops to `batch`. Ops that
  // carry what the key held are applied without reads (and set
  // *reads_pending: an older-kind op after them must not run before the
  // batch is written); older-kind ops read the key's record from `overlay`
  // or the state.
  absl::Status Replay(const std::vector<JournalOp>& ops, Overlay* overlay,
                      rocksdb::WriteBatch* batch, int64_t* count_delta, bool* reads_pending);
  // Whether any of `ops` is of the older kinds, which read the state.
  static bool ReadsState(const std::vector<JournalOp>& ops);
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
  absl::Status CheckServingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetState(State state) ABSL_LOCKS_EXCLUDED(mu_);
  // Queues `w` behind the writers before it and waits until it is at the
  // front (it then leads) or a leader has done it (w->done). Not queued when
  // the cell is not serving: that status instead.
  absl::Status EnqueueLocked(Writer* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The leader's end: removes its `n` writers from the queue, wakes them
  // (all but itself) and the next leader.
  void FinishLocked(Writer* leader, size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The leader's work for one group of writers.
  void CommitGroup(const std::vector<Writer*>& group);
  // Runs `fn` in the write order, with no write in flight.
  absl::Status RunExclusive(const std::function<absl::Status()>& fn);
  absl::Status FindTableSessions(LiveFiles* live);

  const CellRange range_;
  const std::string index_id_;
  const bool sync_;
  const bool legacy_journal_body_;
  // Kept for the cell's life: its RocksDB uses their file system and Env
  // (a cell restored in place has its own). Declared before db_ so that
  // they outlive it.
  const CellResources resources_;
  std::shared_ptr<CellCompanion> companion_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<rocksdb::ColumnFamilyHandle> locations_;  // destroyed before db_
  std::unique_ptr<Journal> journal_;
  rocksdb::WriteOptions write_options_;

  mutable absl::Mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  std::atomic<State> state_{State::kOpening};  // written under mu_
  absl::Status error_ ABSL_GUARDED_BY(mu_);

  // Owned by the current leader (one at a time, by the writer queue).
  uint64_t next_seq_ = 1;
  uint64_t opened_seq_ = 0;
  uint64_t count_ = 0;

  std::atomic<uint64_t> applied_seq_{0};
  std::atomic<uint64_t> keys_{0};
  std::atomic<uint64_t> puts_{0}, deletes_{0}, gets_{0}, precondition_failures_{0};
  std::atomic<uint64_t> journal_syncs_{0};
  absl::Duration open_time_;
  absl::Duration replay_time_;
  uint64_t records_replayed_ = 0;
  uint64_t replay_reads_ = 0;
  uint64_t replayed_bytes_ = 0;
  std::atomic<uint64_t> checkpoint_mark_{0};  // journal appended_bytes at last checkpoint
  JournalOpenReport journal_report_;
  std::atomic<bool> flush_on_close_{true};
  std::atomic<bool> stop_validation_{false};
  const std::function<void(const Cell*, const absl::Status&)> on_failure_;
};

const char* CellStateName(Cell::State state);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_CELL_H_
