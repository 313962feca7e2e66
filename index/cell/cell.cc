// A cell: open and replay, reads, failure, stats. The write path is in
// cell_write.cc.
#include "index/cell/cell.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "index/base/coding.h"
#include "index/base/file_util.h"
#include "index/base/rocks_status.h"
#include "index/cell/cell_ops.h"
#include "rocksdb/write_batch.h"

namespace cellindex {
namespace {

// Replay writes a RocksDB batch every this many bytes.
constexpr size_t kReplayBatchBytes = 4 << 20;

}  // namespace

const char* CellStateName(Cell::State state) {
  switch (state) {
    case Cell::State::kOpening:
      return "opening";
    case Cell::State::kReplaying:
      return "replaying";
    case Cell::State::kServing:
      return "serving";
    case Cell::State::kFailed:
      return "failed";
  }
  return "unknown";
}

Cell::Cell(const CellIdentity& identity, bool sync, const CellResources& resources,
           const CellOpenHooks& hooks)
    : range_(identity.range),
      index_id_(identity.index_id),
      sync_(sync),
      legacy_journal_body_(hooks.legacy_journal_body),
      resources_(resources),
      on_failure_(hooks.on_failure) {
  write_options_.disableWAL = true;
}

Cell::~Cell() {
  if (companion_ != nullptr) companion_->Stop();
  // A failed cell's memtable is not flushed at close: the journal holds
  // every record applied (a reopen replays them), and a flush would only
  // meet the same failure (RocksDB then waits a second before giving up).
  if (db_ != nullptr && (state_.load() == State::kFailed || !flush_on_close_)) {
    (void)db_->SetDBOptions({{"avoid_flush_during_shutdown", "true"}});
  }
}

void Cell::CloseWithoutFlush() { flush_on_close_ = false; }

absl::StatusOr<std::unique_ptr<Cell>> Cell::Open(const CellIdentity& identity,
                                                 const Paths& paths, const Options& options,
                                                 const CellResources& resources,
                                                 const CellOpenHooks& hooks) {
  const CellRange& range = identity.range;
  auto cell =
      std::unique_ptr<Cell>(new Cell(identity, options.durability == Durability::kSync, resources, hooks));
  const absl::Time start = absl::Now();
  const std::string what = absl::StrCat("cell ", range.id);
  auto in_cell = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
  };

  if (hooks.on_phase) hooks.on_phase(CellPhase::kOpen);
  // RocksDB creates a missing directory without syncing its parent: create
  // it here, durably, or a power loss could take the whole state away.
  if (absl::Status s = CreateDirs(*resources.fs, paths.db_dir); !s.ok()) return s;
  rocksdb::Status rs = OpenCellDb(options, resources, paths.db_dir, &cell->db_, &cell->locations_);
  if (rs.IsPathNotFound()) {
    // A file the state names (its MANIFEST, an SST) is gone: damage.
    return absl::DataLossError(absl::StrCat(what, ": open ", paths.db_dir, ": ", rs.ToString()));
  }
  if (rs.IsNotSupported()) {
    // An older format: not damage (nothing is moved aside or restored over
    // it), and not served.
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": open ", paths.db_dir, ": ", rs.getState()));
  }
  if (!rs.ok()) return FromRocks(rs, absl::StrCat(what, ": open ", paths.db_dir));
  rocksdb::DB* raw = cell->db_.get();
  if (absl::Status s = CheckIdentity(raw, cell->locations_.get(), identity,
                                     cell->write_options_); !s.ok()) {
    return in_cell(s);
  }
  absl::StatusOr<StoredState> stored = ReadState(raw, rocksdb::ReadOptions());
  if (!stored.ok()) return in_cell(stored.status());
  cell->count_ = stored->count;
  if (hooks.checkpoint_seq.has_value() &&
      (stored->applied_seq != *hooks.checkpoint_seq || stored->count != hooks.checkpoint_keys)) {
    return absl::DataLossError(absl::StrCat(
        what, ": restored state is at seq ", stored->applied_seq, " with ", stored->count,
        " keys; its checkpoint manifest says seq ", *hooks.checkpoint_seq, " with ",
        hooks.checkpoint_keys, " keys"));
  }
  cell->open_time_ = absl::Now() - start;
  cell->SetState(State::kReplaying);
  if (hooks.on_phase) hooks.on_phase(CellPhase::kReplay);
  if (absl::Status s = cell->ReplayJournal(paths, options, resources, stored->applied_seq,
                                           hooks.must_reach, hooks.writer_epoch);
      !s.ok()) {
    return in_cell(s);
  }
  cell->SetState(State::kServing);
  if (hooks.companion != nullptr) {
    cell->companion_ = hooks.companion;
    cell->companion_->Start(cell.get());
  }
  return cell;
}

absl::Status Cell::ReplayJournal(const Paths& paths, const Options& options,
                                 const CellResources& resources, uint64_t applied,
                                 uint64_t must_reach, uint64_t writer_epoch) {
  const absl::Time start = absl::Now();
  // The journal above `applied`, in RocksDB batches.
  rocksdb::WriteBatch batch;
  std::vector<JournalOp> ops;
  Overlay overlay;  // what the older kinds of ops in the batch did
  int64_t count_delta = 0;
  uint64_t batch_seq = 0;
  bool reads_pending = false;  // the batch holds ops that older kinds must read
  auto flush = [&]() -> absl::Status {
    if (batch_seq == 0) return absl::OkStatus();
    count_ = static_cast<uint64_t>(static_cast<int64_t>(count_) + count_delta);
    AddState({batch_seq, count_}, &batch);
    NoPerfCounting no_perf_counting;
    rocksdb::Status ws = db_->Write(write_options_, &batch);
    batch.Clear();
    overlay.clear();
    count_delta = 0;
    batch_seq = 0;
    reads_pending = false;
    return FromRocks(ws, "replay write");
  };
  JournalOptions jo;
  jo.fs = resources.fs.get();
  jo.dir = paths.journal_dir;
  jo.head_path = paths.journal_head;
  jo.index_id = index_id_;
  jo.cell_id = range_.id;
  jo.segment_bytes = options.journal_segment_bytes;
  jo.writer_epoch = writer_epoch;
  JournalOpenReport& report = journal_report_;
  absl::StatusOr<std::unique_ptr<Journal>> journal = Journal::Open(
      jo, applied,
      [&](uint64_t seq, absl::string_view body) -> absl::Status {
        absl::Status s = DecodeJournalBody(body, &ops);
        if (s.ok() && reads_pending && ReadsState(ops)) {
          // An op of the older kinds reads the state: it must see the ops
          // before it, which may be in the batch only.
          s = flush();
        }
        if (s.ok()) s = Replay(ops, &overlay, &batch, &count_delta, &reads_pending);
        if (!s.ok()) {
          return absl::DataLossError(absl::StrCat("journal record ", seq, ": ", s.message()));
        }
        batch_seq = seq;
        replayed_bytes_ += body.size();
        if (batch.GetDataSize() >= kReplayBatchBytes) return flush();
        return absl::OkStatus();
      },
      &report);
  if (!journal.ok()) return journal.status();
  if (!report.extent_verified) {
    return absl::DataLossError(
        absl::StrCat("the journal's end cannot be proven: ", report.extent_problem));
  }
  if (absl::Status s = flush(); !s.ok()) return s;
  // Appends continue after the journal, or after the state when the journal
  // ends below it (the gap is declared in the new segment).
  const uint64_t next = std::max(report.last_seq, applied) + 1;
  if (next - 1 < must_reach) {
    return absl::DataLossError(absl::StrCat("recovered state ends at seq ", next - 1,
                                            " but a checkpoint at seq ", must_reach,
                                            " exists: journal records are missing"));
  }
  if (absl::Status s = (*journal)->StartAppending(next); !s.ok()) return s;
  journal_ = *std::move(journal);
  next_seq_ = next;
  opened_seq_ = next - 1;
  applied_seq_ = next - 1;
  keys_ = count_;
  records_replayed_ = report.records_replayed;
  replay_time_ = absl::Now() - start;
  return absl::OkStatus();
}

uint64_t Cell::journal_gap_end() const { return journal_ ? journal_->gap_end() : 0; }

uint64_t Cell::journal_epoch() const { return journal_ ? journal_->epoch() : 0; }

bool Cell::ReadsState(const std::vector<JournalOp>& ops) {
  return std::any_of(ops.begin(), ops.end(), [](const JournalOp& op) { return !op.carries_old; });
}

absl::Status Cell::Replay(const std::vector<JournalOp>& ops, Overlay* overlay,
                          rocksdb::WriteBatch* batch, int64_t* count_delta, bool* reads_pending) {
  for (const JournalOp& op : ops) {
    if (!range_.Contains(op.encoded_key)) {
      return absl::DataLossError(absl::StrCat("key ", Printable(op.encoded_key),
                                              " is outside the cell's range"));
    }
    std::optional<ObjectRecord> rec;
    if (op.is_put) {
      absl::StatusOr<ObjectRecord> r = DecodeRecord(op.record_bytes);
      if (!r.ok()) return r.status();
      rec = *std::move(r);
    }
    if (op.carries_old) {
      // Applied blindly: the op says what the key held.
      AddMutations(op.encoded_key, op.had_old ? &op.old : nullptr, rec ? &*rec : nullptr,
                   op.record_bytes, locations_.get(), batch);
      *count_delta += (rec.has_value() ? 1 : 0) - (op.had_old ? 1 : 0);
      *reads_pending = true;
      continue;
    }
    // An op of the older kinds: the key's record as the ops before it left
    // it (this batch's older-kind ops, else the state).
    std::string encoded_key(op.encoded_key);
    ++replay_reads_;
    absl::StatusOr<std::optional<ObjectRecord>> old = Lookup(encoded_key, *overlay);
    if (!old.ok()) return old.status();
    std::optional<LocationNames> names;
    if (old->has_value()) names = LocationNamesOf(**old);
    AddMutations(encoded_key, names ? &*names : nullptr, rec ? &*rec : nullptr, op.record_bytes,
                 locations_.get(), batch);
    *count_delta += (rec.has_value() ? 1 : 0) - (old->has_value() ? 1 : 0);
    (*overlay)[encoded_key] = std::move(rec);
  }
  return absl::OkStatus();
}

absl::Status Cell::ReadRecord(absl::string_view encoded_key, ObjectRecord* record,
                              bool* found) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s;
  {
    NoPerfCounting no_perf_counting;
    s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), RecordKey(encoded_key),
                 &value);
  }
  *found = s.ok();
  if (s.IsNotFound()) return absl::OkStatus();
  absl::Status result;
  if (!s.ok()) {
    result = FromRocks(s, absl::StrCat("cell ", range_.id, ": read"));
  } else if (absl::Status d = DecodeRecord(absl::string_view(value.data(), value.size()), record);
             !d.ok()) {
    result = absl::DataLossError(absl::StrCat("cell ", range_.id, ", object ",
                                              Printable(encoded_key), ": ", d.message()));
  }
  if (absl::IsDataLoss(result)) ReportDamage(result);
  return result;
}

absl::StatusOr<std::optional<ObjectRecord>> Cell::Lookup(const std::string& encoded_key,
                                                         const Overlay& overlay) {
  if (auto it = overlay.find(encoded_key); it != overlay.end()) return it->second;
  absl::StatusOr<std::optional<ObjectRecord>> rec(absl::in_place, std::in_place);
  bool found;
  if (absl::Status s = ReadRecord(encoded_key, &**rec, &found); !s.ok()) return s;
  if (!found) rec->reset();
  return rec;
}

absl::StatusOr<ObjectRecord> Cell::Get(absl::string_view encoded_key) {
  if (state_.load(std::memory_order_acquire) != State::kServing) return CheckServing();
  if (!range_.Contains(encoded_key)) {
    return absl::FailedPreconditionError(
        absl::StrCat("key ", Printable(encoded_key), " is outside cell ", range_.id, "'s range ",
                     range_.Describe(), " (stale cell map?)"));
  }
  gets_.fetch_add(1, std::memory_order_relaxed);
  absl::StatusOr<ObjectRecord> rec(absl::in_place);
  bool found;
  if (absl::Status s = ReadRecord(encoded_key, &*rec, &found); !s.ok()) return s;
  if (!found) {
    return absl::NotFoundError(absl::StrCat("object ", Printable(encoded_key), " not found"));
  }
  return rec;
}

absl::Status Cell::SyncJournal() {
  if (journal_ == nullptr) return absl::OkStatus();
  absl::Status s = journal_->Sync();
  if (!s.ok()) Fail(s);
  return s;
}

absl::Status Cell::CheckServing() const {
  if (state_.load() == State::kServing) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  return CheckServingLocked();
}

absl::Status Cell::CheckServingLocked() const {
  const State state = state_.load();
  if (state == State::kServing) return absl::OkStatus();
  if (state == State::kFailed) {
    return absl::Status(error_.code(), absl::StrCat("cell ", range_.id, " has failed: ",
                                                    error_.message()));
  }
  return absl::UnavailableError(
      absl::StrCat("cell ", range_.id, " is not serving (phase: ", CellStateName(state), ")"));
}

void Cell::Fail(absl::Status why) {
  bool was_serving;
  {
    absl::MutexLock lock(&mu_);
    was_serving = state_.load() == State::kServing;
    if (error_.ok()) error_ = why;
    state_.store(State::kFailed);
  }
  if (was_serving && on_failure_) on_failure_(this, why);
}

void Cell::ReportDamage(const absl::Status& why) {
  if (state_.load() == State::kServing) Fail(why);
}

void Cell::SetState(State state) {
  absl::MutexLock lock(&mu_);
  state_.store(state);
}

CellStats Cell::Stats() const {
  CellStats s;
  s.id = range_.id;
  s.range = range_.Describe();
  s.host = range_.host;
  switch (state_.load()) {
    case State::kOpening:
      s.state = CellPhase::kOpen;
      break;
    case State::kReplaying:
      s.state = CellPhase::kReplay;
      break;
    case State::kServing:
      s.state = CellPhase::kServing;
      break;
    case State::kFailed:
      s.state = CellPhase::kFailed;
      break;
  }
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) s.error = std::string(error_.message());
  }
  s.applied_seq = applied_seq_.load();
  s.keys = keys_.load();
  if (db_ != nullptr) {
    uint64_t v = 0;
    if (db_->GetAggregatedIntProperty("rocksdb.total-sst-files-size", &v)) s.sst_bytes = v;
    if (db_->GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables", &v)) {
      s.memtable_bytes = v;
    }
  }
  if (journal_ != nullptr) {
    s.journal_bytes = journal_->total_bytes();
    s.journal_synced_seq = journal_->synced_seq();
  }
  s.open_time = open_time_;
  s.replay_time = replay_time_;
  s.records_replayed = records_replayed_;
  s.replay_reads = replay_reads_;
  s.journal_tail_cut_bytes = journal_report_.torn_bytes;
  s.puts = puts_.load();
  s.deletes = deletes_.load();
  s.gets = gets_.load();
  s.precondition_failures = precondition_failures_.load();
  s.journal_syncs = journal_syncs_.load();
  if (companion_ != nullptr) companion_->AddStats(&s);
  return s;
}

}  // namespace cellindex
