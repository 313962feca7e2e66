#include "index/cell.h"

#include <limits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "index/coding.h"
#include "index/object_key.h"
#include "recovery/file_util.h"
#include "rocksdb/sst_file_reader.h"
#include "rocksdb/table_properties.h"
#include "rocksdb/write_batch.h"

namespace cellindex {
namespace {

constexpr char kStateKey[] = "mstate";
// The state's owner (CellIdentity::Encode), written when the state is created.
constexpr char kIdentityKey[] = "midentity";
constexpr uint8_t kIdentityFormat = 1;
// Before the state key, applied_seq and count were two keys; a state written
// then is read from them (the next write adds the state key, which wins).
constexpr char kLegacyAppliedSeqKey[] = "mapplied_seq";
constexpr char kLegacyCountKey[] = "mcount";
constexpr uint8_t kOpPut = 1;
constexpr uint8_t kOpDelete = 2;
// Replay writes a RocksDB batch every this many bytes.
constexpr size_t kReplayBatchBytes = 4 << 20;
// Most writers one leader takes into a group.
constexpr size_t kMaxGroup = 512;

std::string RecordKey(absl::string_view encoded_key) {
  std::string k;
  k.reserve(1 + encoded_key.size());
  k.push_back(kRecordPrefix);
  k.append(encoded_key.data(), encoded_key.size());
  return k;
}

std::string ReverseKey(char prefix, absl::string_view name, absl::string_view encoded_key) {
  std::string k;
  k.reserve(2 + name.size() + encoded_key.size());
  k.push_back(prefix);
  k.append(name.data(), name.size());
  k.push_back('\0');
  k.append(encoded_key.data(), encoded_key.size());
  return k;
}

// "bucket/key" for messages.
std::string Printable(absl::string_view encoded_key) {
  absl::StatusOr<ObjectKey> k = DecodeKey(encoded_key);
  if (!k.ok()) return absl::CEscape(encoded_key);
  return absl::StrCat(k->bucket, "/", absl::CHexEscape(k->key));
}

// The mutations that take the key from `old` to `rec` (null: deleted).
void AddMutations(const std::string& encoded_key, const ObjectRecord* old,
                  const ObjectRecord* rec, absl::string_view rec_bytes, rocksdb::WriteBatch* b) {
  if (old != nullptr) {
    for (const Extent& e : old->locations) {
      b->Delete(ReverseKey(kVolumePrefix, e.volume, encoded_key));
      b->Delete(ReverseKey(kNodePrefix, e.node, encoded_key));
    }
  }
  if (rec != nullptr) {
    for (const Extent& e : rec->locations) {
      b->Put(ReverseKey(kVolumePrefix, e.volume, encoded_key), rocksdb::Slice());
      b->Put(ReverseKey(kNodePrefix, e.node, encoded_key), rocksdb::Slice());
    }
    b->Put(RecordKey(encoded_key), rocksdb::Slice(rec_bytes.data(), rec_bytes.size()));
  } else {
    b->Delete(RecordKey(encoded_key));
  }
}

void AddState(uint64_t applied_seq, uint64_t count, rocksdb::WriteBatch* b) {
  std::string v;
  v.reserve(16);
  PutFixed64(&v, applied_seq);
  PutFixed64(&v, count);
  b->Put(kStateKey, v);
}

// What the state key says; both zero in a new cell.
struct StoredState {
  uint64_t applied_seq = 0;
  uint64_t count = 0;
};

absl::StatusOr<StoredState> ReadState(rocksdb::DB* db, const rocksdb::ReadOptions& ro) {
  StoredState state;
  rocksdb::PinnableSlice v;
  rocksdb::Status s = db->Get(ro, db->DefaultColumnFamily(), kStateKey, &v);
  if (s.ok()) {
    if (v.size() != 16) return absl::DataLossError("cell state key is damaged");
    state.applied_seq = DecodeFixed64(v.data());
    state.count = DecodeFixed64(v.data() + 8);
    return state;
  }
  if (!s.IsNotFound()) return FromRocks(s, "read cell state");
  for (auto [key, field] : {std::pair(kLegacyAppliedSeqKey, &state.applied_seq),
                            std::pair(kLegacyCountKey, &state.count)}) {
    v.Reset();
    s = db->Get(ro, db->DefaultColumnFamily(), key, &v);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return FromRocks(s, "read cell state");
    if (v.size() != 8) {
      return absl::DataLossError(absl::StrCat("cell state key ", key, " is damaged"));
    }
    *field = DecodeFixed64(v.data());
  }
  return state;
}

absl::StatusOr<CellIdentity> DecodeIdentity(absl::string_view v) {
  CellIdentity id;
  uint8_t format, unbounded;
  uint64_t cell;
  absl::string_view index_id, lo, hi;
  if (!GetByte(&v, &format) || format != kIdentityFormat || !GetLengthPrefixed(&v, &index_id) ||
      !GetVarint64(&v, &cell) || cell > UINT32_MAX || !GetLengthPrefixed(&v, &lo) ||
      !GetByte(&v, &unbounded) || !GetLengthPrefixed(&v, &hi) || !v.empty()) {
    return absl::DataLossError("the state's identity key is damaged");
  }
  id.index_id = std::string(index_id);
  id.range.id = static_cast<CellId>(cell);
  id.range.lo = std::string(lo);
  id.range.hi = std::string(hi);
  id.range.hi_unbounded = unbounded != 0;
  return id;
}

// Checks that the state in `db` is `expected`'s; a state with nothing in it
// yet is given that identity.
absl::Status CheckIdentity(rocksdb::DB* db, const CellIdentity& expected,
                           const rocksdb::WriteOptions& wo) {
  std::string v;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kIdentityKey, &v);
  if (s.ok()) {
    absl::StatusOr<CellIdentity> stored = DecodeIdentity(v);
    if (!stored.ok()) return stored.status();
    if (stored->Encode() != expected.Encode()) {
      return absl::DataLossError(absl::StrCat("the local state belongs to ", stored->Describe(),
                                              ", not to ", expected.Describe()));
    }
    return absl::OkStatus();
  }
  if (!s.IsNotFound()) return FromRocks(s, "read the state's identity");
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  if (it->Valid()) {
    return absl::DataLossError(
        "the local state carries no identity (damaged, or written by an older cellindex)");
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read the state");
  return FromRocks(db->Put(wo, kIdentityKey, expected.Encode()), "write the state's identity");
}

}  // namespace

std::string CellIdentity::Encode() const {
  std::string v;
  v.push_back(static_cast<char>(kIdentityFormat));
  PutLengthPrefixed(&v, index_id);
  PutVarint64(&v, range.id);
  PutLengthPrefixed(&v, range.lo);
  v.push_back(range.hi_unbounded ? 1 : 0);
  PutLengthPrefixed(&v, range.hi);
  return v;
}

std::string CellIdentity::Describe() const {
  return absl::StrCat("cell ", range.id, " ", range.Describe(), " of index ",
                      index_id.empty() ? std::string("(none)") : index_id);
}

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

struct Cell::Writer {
  std::vector<CellOp> ops;
  const std::function<absl::Status()>* exclusive = nullptr;  // RunExclusive
  absl::Status status;
  std::vector<uint64_t> versions;
  bool done = false;
  absl::CondVar cv;
};

struct Cell::Applied {
  std::string encoded_key;
  std::optional<ObjectRecord> old;
  std::optional<ObjectRecord> record;  // nullopt: delete
  std::string record_bytes;
};

Cell::Cell(const CellIdentity& identity, bool sync, const CellOpenHooks& hooks)
    : range_(identity.range),
      index_id_(identity.index_id),
      sync_(sync),
      on_failure_(hooks.on_failure) {
  write_options_.disableWAL = true;
}

Cell::~Cell() {
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
      std::unique_ptr<Cell>(new Cell(identity, options.durability == Durability::kSync, hooks));
  const absl::Time start = absl::Now();
  const std::string what = absl::StrCat("cell ", range.id);
  auto in_cell = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
  };

  if (hooks.on_phase) hooks.on_phase("open");
  // RocksDB creates a missing directory without syncing its parent: create
  // it here, durably, or a power loss could take the whole state away.
  if (absl::Status s = CreateDirs(*resources.fs, paths.db_dir); !s.ok()) return s;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status rs = rocksdb::DB::Open(MakeCellDbOptions(options, resources), paths.db_dir, &raw);
  if (rs.IsPathNotFound()) {
    // A file the state names (its MANIFEST, an SST) is gone: damage.
    return absl::DataLossError(absl::StrCat(what, ": open ", paths.db_dir, ": ", rs.ToString()));
  }
  if (!rs.ok()) return FromRocks(rs, absl::StrCat(what, ": open ", paths.db_dir));
  cell->db_.reset(raw);
  if (absl::Status s = CheckIdentity(raw, identity, cell->write_options_); !s.ok()) {
    return in_cell(s);
  }
  absl::StatusOr<StoredState> stored = ReadState(raw, rocksdb::ReadOptions());
  if (!stored.ok()) return in_cell(stored.status());
  const uint64_t applied = stored->applied_seq;
  cell->count_ = stored->count;
  if (hooks.checkpoint_seq.has_value() &&
      (applied != *hooks.checkpoint_seq || stored->count != hooks.checkpoint_keys)) {
    return absl::DataLossError(absl::StrCat(
        what, ": restored state is at seq ", applied, " with ", stored->count,
        " keys; its checkpoint manifest says seq ", *hooks.checkpoint_seq, " with ",
        hooks.checkpoint_keys, " keys"));
  }
  const absl::Time opened = absl::Now();
  cell->open_time_ = opened - start;
  cell->SetState(State::kReplaying);
  if (hooks.on_phase) hooks.on_phase("replay");

  // Replay the journal above applied_seq in RocksDB batches.
  rocksdb::WriteBatch batch;
  Overlay overlay;
  int64_t count_delta = 0;
  uint64_t batch_seq = 0;
  auto flush = [&]() -> absl::Status {
    if (batch_seq == 0) return absl::OkStatus();
    cell->count_ = static_cast<uint64_t>(static_cast<int64_t>(cell->count_) + count_delta);
    AddState(batch_seq, cell->count_, &batch);
    NoPerfCounting no_perf_counting;
    rocksdb::Status ws = cell->db_->Write(cell->write_options_, &batch);
    batch.Clear();
    overlay.clear();
    count_delta = 0;
    batch_seq = 0;
    return FromRocks(ws, absl::StrCat(what, ": replay write"));
  };
  JournalOptions jo;
  jo.fs = resources.fs.get();
  jo.dir = paths.journal_dir;
  jo.head_path = paths.journal_head;
  jo.index_id = identity.index_id;
  jo.cell_id = range.id;
  jo.segment_bytes = options.journal_segment_bytes;
  JournalOpenReport& report = cell->journal_report_;
  absl::StatusOr<std::unique_ptr<Journal>> journal = Journal::Open(
      jo, applied,
      [&](uint64_t seq, absl::string_view body) -> absl::Status {
        if (absl::Status s = cell->Replay(body, &overlay, &batch, &count_delta); !s.ok()) {
          return absl::DataLossError(absl::StrCat(what, ": journal record ", seq, ": ",
                                                  s.message()));
        }
        batch_seq = seq;
        cell->replayed_bytes_ += body.size();
        if (batch.GetDataSize() >= kReplayBatchBytes) return flush();
        return absl::OkStatus();
      },
      &report);
  if (!journal.ok()) return in_cell(journal.status());
  if (!report.extent_verified) {
    return absl::DataLossError(absl::StrCat(what, ": the journal's end cannot be proven: ",
                                            report.extent_problem));
  }
  if (absl::Status s = flush(); !s.ok()) return s;
  // Appends continue after the journal, or after the state when the journal
  // ends below it (the gap is declared in the new segment).
  const uint64_t next = std::max(report.last_seq, applied) + 1;
  if (next - 1 < hooks.must_reach) {
    return absl::DataLossError(absl::StrCat(what, ": recovered state ends at seq ", next - 1,
                                            " but a checkpoint at seq ", hooks.must_reach,
                                            " exists: journal records are missing"));
  }
  if (absl::Status s = (*journal)->StartAppending(next); !s.ok()) return in_cell(s);
  cell->journal_ = *std::move(journal);
  cell->next_seq_ = next;
  cell->applied_seq_ = next - 1;
  cell->keys_ = cell->count_;
  cell->records_replayed_ = report.records_replayed;
  cell->replay_time_ = absl::Now() - opened;
  cell->SetState(State::kServing);
  return cell;
}

uint64_t Cell::journal_gap_end() const { return journal_ ? journal_->gap_end() : 0; }

absl::Status Cell::Replay(absl::string_view body, Overlay* overlay, rocksdb::WriteBatch* batch,
                          int64_t* count_delta) {
  uint64_t n;
  if (!GetVarint64(&body, &n)) return absl::DataLossError("malformed op count");
  for (uint64_t i = 0; i < n; ++i) {
    uint8_t kind;
    absl::string_view key, rec_bytes;
    if (!GetByte(&body, &kind) || !GetLengthPrefixed(&body, &key) ||
        (kind != kOpPut && kind != kOpDelete) ||
        (kind == kOpPut && !GetLengthPrefixed(&body, &rec_bytes))) {
      return absl::DataLossError("malformed op");
    }
    std::string encoded_key(key);
    if (!range_.Contains(encoded_key)) {
      return absl::DataLossError(absl::StrCat("key ", Printable(encoded_key),
                                              " is outside the cell's range"));
    }
    absl::StatusOr<std::optional<ObjectRecord>> old = Lookup(encoded_key, *overlay);
    if (!old.ok()) return old.status();
    std::optional<ObjectRecord> rec;
    if (kind == kOpPut) {
      absl::StatusOr<ObjectRecord> r = DecodeRecord(rec_bytes);
      if (!r.ok()) return r.status();
      rec = *std::move(r);
    }
    AddMutations(encoded_key, old->has_value() ? &**old : nullptr, rec ? &*rec : nullptr,
                 rec_bytes, batch);
    *count_delta += (rec.has_value() ? 1 : 0) - (old->has_value() ? 1 : 0);
    (*overlay)[encoded_key] = std::move(rec);
  }
  if (!body.empty()) return absl::DataLossError("trailing bytes after ops");
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

absl::Status Cell::Prepare(Writer* w, uint64_t seq, Overlay* overlay, std::vector<Applied>* out,
                           std::string* body) {
  Overlay local;  // this writer's own changes, merged into `overlay` on success
  std::vector<Applied> mine;
  PutVarint64(body, w->ops.size());
  w->versions.clear();
  for (CellOp& op : w->ops) {
    if (!range_.Contains(op.encoded_key)) {
      return absl::FailedPreconditionError(
          absl::StrCat("key ", Printable(op.encoded_key), " is outside cell ", range_.id,
                       "'s range ", range_.Describe(), " (stale cell map?)"));
    }
    std::optional<ObjectRecord> old;
    if (auto it = local.find(op.encoded_key); it != local.end()) {
      old = it->second;
    } else {
      absl::StatusOr<std::optional<ObjectRecord>> found = Lookup(op.encoded_key, *overlay);
      if (!found.ok()) return found.status();
      old = *std::move(found);
    }
    const Precondition& pre = op.precondition;
    if (pre.if_none_match && old.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "precondition failed: ", Printable(op.encoded_key), " exists (version ", old->version,
          ")"));
    }
    if (pre.if_version_match.has_value() &&
        (!old.has_value() || old->version != *pre.if_version_match)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "precondition failed: ", Printable(op.encoded_key), " is ",
          old.has_value() ? absl::StrCat("at version ", old->version) : std::string("absent"),
          ", not at version ", *pre.if_version_match));
    }
    Applied a;
    a.encoded_key = op.encoded_key;
    a.old = old;
    if (op.kind == WriteOp::Kind::kDelete) {
      if (!old.has_value()) {
        return absl::NotFoundError(absl::StrCat("object ", Printable(op.encoded_key),
                                                " not found"));
      }
      body->push_back(static_cast<char>(kOpDelete));
      PutLengthPrefixed(body, op.encoded_key);
      w->versions.push_back(0);
    } else {
      a.record = std::move(op.record);
      a.record->version = seq;
      a.record_bytes = EncodeRecord(*a.record);
      body->push_back(static_cast<char>(kOpPut));
      PutLengthPrefixed(body, op.encoded_key);
      PutLengthPrefixed(body, a.record_bytes);
      w->versions.push_back(seq);
    }
    local[a.encoded_key] = a.record;
    mine.push_back(std::move(a));
  }
  for (auto& [k, v] : local) (*overlay)[k] = std::move(v);
  for (Applied& a : mine) out->push_back(std::move(a));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> Cell::Write(std::vector<CellOp> ops) {
  Writer w;
  w.ops = std::move(ops);
  mu_.Lock();
  if (state_.load() != State::kServing) {
    mu_.Unlock();
    return CheckServing();
  }
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) w.cv.Wait(&mu_);
  if (w.done) {
    mu_.Unlock();
    if (!w.status.ok()) return w.status;
    return std::move(w.versions);
  }
  // This writer leads a group: every writer queued now, in order, up to an
  // exclusive one (which runs alone).
  std::vector<Writer*> group;
  for (Writer* q : writers_) {
    if (group.size() == kMaxGroup || (q->exclusive != nullptr && !group.empty())) break;
    group.push_back(q);
    if (q->exclusive != nullptr) break;
  }
  const bool serving = state_.load() == State::kServing;
  const absl::Status failed = error_;
  mu_.Unlock();

  if (serving) {
    CommitGroup(group);
  } else {
    for (Writer* q : group) q->status = failed;
  }

  mu_.Lock();
  for (Writer* q : group) {
    writers_.pop_front();
    if (q != &w) {
      q->done = true;
      q->cv.Signal();
    }
  }
  if (!writers_.empty()) writers_.front()->cv.Signal();
  mu_.Unlock();
  if (!w.status.ok()) return w.status;
  return std::move(w.versions);
}

void Cell::CommitGroup(const std::vector<Writer*>& group) {
  Overlay overlay;
  std::vector<Applied> applied;
  std::vector<std::string> bodies;
  std::vector<Writer*> committed;
  uint64_t seq = next_seq_;
  for (Writer* q : group) {
    std::string body;
    const size_t mark = applied.size();
    absl::Status s = Prepare(q, seq, &overlay, &applied, &body);
    if (!s.ok()) {
      applied.resize(mark);
      q->status = s;
      q->versions.clear();
      if (absl::IsFailedPrecondition(s)) ++precondition_failures_;
      continue;
    }
    bodies.push_back(std::move(body));
    committed.push_back(q);
    ++seq;
  }
  if (committed.empty()) return;

  std::vector<Journal::Entry> entries;
  entries.reserve(bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) entries.push_back({next_seq_ + i, bodies[i]});
  absl::Status s = journal_->Append(entries, sync_);
  if (s.ok() && sync_) ++journal_syncs_;

  uint64_t count = count_;
  if (s.ok()) {
    rocksdb::WriteBatch batch;
    uint64_t puts = 0, deletes = 0;
    for (const Applied& a : applied) {
      AddMutations(a.encoded_key, a.old ? &*a.old : nullptr, a.record ? &*a.record : nullptr,
                   a.record_bytes, &batch);
      count += (a.record ? 1 : 0) - (a.old ? 1 : 0);
      (a.record ? puts : deletes)++;
    }
    AddState(seq - 1, count, &batch);
    NoPerfCounting no_perf_counting;
    s = FromRocks(db_->Write(write_options_, &batch), absl::StrCat("cell ", range_.id, ": apply"));
    puts_ += puts;
    deletes_ += deletes;
  }
  if (!s.ok()) {
    // The journal may hold records RocksDB does not: serving on would give
    // stale reads, and the journal refuses appends after an error anyway.
    // A reopen replays the journal and cuts any torn tail.
    Fail(s);
    for (Writer* q : committed) {
      q->status = s;
      q->versions.clear();
    }
    return;
  }
  next_seq_ = seq;
  count_ = count;
  keys_ = count;
  applied_seq_ = seq - 1;
}

absl::Status Cell::RunExclusive(const std::function<absl::Status()>& fn) {
  // Write() with an exclusive writer: queued like any writer, run alone.
  Writer w;
  w.exclusive = &fn;
  mu_.Lock();
  if (state_.load() != State::kServing) {
    mu_.Unlock();
    return CheckServing();
  }
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) w.cv.Wait(&mu_);
  mu_.Unlock();
  // An exclusive writer is never taken into another leader's group, so it
  // always leads itself.
  const bool serving = state_.load() == State::kServing;
  w.status = serving ? fn() : CheckServing();
  mu_.Lock();
  writers_.pop_front();
  if (!writers_.empty()) writers_.front()->cv.Signal();
  mu_.Unlock();
  return w.status;
}

absl::StatusOr<Cell::LiveFiles> Cell::CaptureLiveFiles() {
  LiveFiles live;
  rocksdb::Status ds = db_->DisableFileDeletions();
  if (!ds.ok()) return FromRocks(ds, absl::StrCat("cell ", range_.id, ": disable deletions"));
  absl::Status s = RunExclusive([&]() -> absl::Status {
    live.applied_seq = next_seq_ - 1;
    live.key_count = count_;
    rocksdb::FlushOptions fo;
    fo.wait = true;
    fo.allow_write_stall = true;
    if (absl::Status f = FromRocks(db_->Flush(fo), "flush"); !f.ok()) return f;
    rocksdb::LiveFilesStorageInfoOptions lo;
    lo.wal_size_for_flush = std::numeric_limits<uint64_t>::max();  // flushed just now
    if (absl::Status l = FromRocks(db_->GetLiveFilesStorageInfo(lo, &live.files),
                                   "list live files");
        !l.ok()) {
      return l;
    }
    // A fresh segment from here on: once this checkpoint is the oldest kept,
    // everything before it can be trimmed.
    return journal_->Rotate();
  });
  if (s.ok()) s = FromRocks(db_->GetDbIdentity(live.db_identity), "db identity");
  if (s.ok()) s = FromRocks(db_->GetDbSessionId(live.db_session_id), "db session id");
  if (s.ok()) s = FindTableSessions(&live);
  if (!s.ok()) {
    ReleaseLiveFiles();
    return absl::Status(s.code(), absl::StrCat("cell ", range_.id, ": ", s.message()));
  }
  return live;
}

absl::Status Cell::FindTableSessions(LiveFiles* live) {
  // The current version's table properties (cached by RocksDB); a listed
  // file that a compaction has meanwhile replaced is read directly (file
  // deletions are off, so it is still there).
  // GetLiveFilesStorageInfo leaves the checksums RocksDB recorded for each
  // file empty; the metadata has them.
  std::vector<rocksdb::LiveFileMetaData> meta;
  db_->GetLiveFilesMetaData(&meta);
  std::map<std::string, const rocksdb::LiveFileMetaData*> meta_by_name;
  for (const rocksdb::LiveFileMetaData& m : meta) meta_by_name[m.relative_filename] = &m;
  for (rocksdb::LiveFileStorageInfo& f : live->files) {
    auto it = meta_by_name.find(f.relative_filename);
    if (it == meta_by_name.end() || !f.file_checksum_func_name.empty()) continue;
    f.file_checksum = it->second->file_checksum;
    f.file_checksum_func_name = it->second->file_checksum_func_name;
  }
  rocksdb::TablePropertiesCollection props;
  if (absl::Status s = FromRocks(db_->GetPropertiesOfAllTables(&props), "table properties");
      !s.ok()) {
    return s;
  }
  std::map<std::string, std::string> by_name;
  for (const auto& [path, p] : props) {
    by_name[path.substr(path.find_last_of('/') + 1)] = p->db_session_id;
  }
  for (const rocksdb::LiveFileStorageInfo& f : live->files) {
    if (f.file_type != rocksdb::kTableFile) continue;
    auto it = by_name.find(f.relative_filename);
    if (it != by_name.end()) {
      live->table_sessions[f.relative_filename] = it->second;
      continue;
    }
    rocksdb::Options o;
    o.env = db_->GetEnv();
    rocksdb::SstFileReader reader(o);
    const std::string path = f.directory + "/" + f.relative_filename;
    if (absl::Status s = FromRocks(reader.Open(path), absl::StrCat("open ", path)); !s.ok()) {
      return s;
    }
    live->table_sessions[f.relative_filename] = reader.GetTableProperties()->db_session_id;
  }
  return absl::OkStatus();
}

void Cell::ReleaseLiveFiles() { (void)db_->EnableFileDeletions(/*force=*/false); }

absl::Status Cell::TrimJournal(uint64_t seq) { return journal_->TrimThrough(seq); }

uint64_t Cell::journal_bytes_since_checkpoint() const {
  const uint64_t appended = journal_ ? journal_->appended_bytes() : 0;
  const uint64_t mark = checkpoint_mark_.load();
  return mark == 0 ? appended + replayed_bytes_ : appended - (mark - 1);
}

void Cell::NoteCheckpoint() {
  // Stored plus one, so that zero means "no checkpoint since open".
  checkpoint_mark_ = (journal_ ? journal_->appended_bytes() : 0) + 1;
}

absl::Status Cell::Validate(uint64_t* records_checked) {
  if (records_checked != nullptr) *records_checked = 0;
  {
    rocksdb::ReadOptions fro;
    fro.fill_cache = false;
    rocksdb::Status fs = db_->VerifyFileChecksums(fro);
    if (!fs.ok()) {
      return absl::DataLossError(absl::StrCat("cell ", range_.id,
                                              " failed validation: file checksum: ",
                                              fs.ToString()));
    }
  }
  const rocksdb::Snapshot* snap = db_->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  auto damaged = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("cell ", range_.id, " failed validation: ", why));
  };
  absl::Status result;
  uint64_t expected = 0;
  if (absl::StatusOr<StoredState> stored = ReadState(db_.get(), ro); stored.ok()) {
    expected = stored->count;
  } else {
    result = damaged(absl::StrCat("the record count is unreadable: ", stored.status().message()));
  }
  uint64_t seen = 0;
  if (result.ok()) {
    const std::string lo(1, kRecordPrefix), hi(1, kRecordPrefix + 1);
    rocksdb::Slice upper(hi);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(lo); it->Valid(); it->Next()) {
      absl::string_view key(it->key().data() + 1, it->key().size() - 1);
      if (!range_.Contains(key)) {
        result = damaged(absl::StrCat("key ", Printable(key), " is outside ", range_.Describe()));
        break;
      }
      absl::StatusOr<ObjectRecord> rec =
          DecodeRecord(absl::string_view(it->value().data(), it->value().size()));
      if (!rec.ok()) {
        result = damaged(absl::StrCat("object ", Printable(key), ": ", rec.status().message()));
        break;
      }
      ++seen;
    }
    if (result.ok() && !it->status().ok()) result = damaged(it->status().ToString());
    if (result.ok() && seen != expected) {
      result = damaged(absl::StrCat(seen, " records found, the state says ", expected));
    }
  }
  db_->ReleaseSnapshot(snap);
  if (records_checked != nullptr) *records_checked = seen;
  return result;
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
  const State state = state_.load();
  if (state == State::kServing) return absl::OkStatus();
  if (state == State::kFailed) {
    absl::MutexLock lock(&mu_);
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
  s.state = CellStateName(state_.load());
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) s.error = std::string(error_.message());
  }
  s.applied_seq = applied_seq_.load();
  s.keys = keys_.load();
  if (db_ != nullptr) {
    uint64_t v = 0;
    if (db_->GetIntProperty("rocksdb.total-sst-files-size", &v)) s.sst_bytes = v;
    if (db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &v)) s.memtable_bytes = v;
  }
  if (journal_ != nullptr) {
    s.journal_bytes = journal_->total_bytes();
    s.journal_synced_seq = journal_->synced_seq();
  }
  s.open_time = open_time_;
  s.replay_time = replay_time_;
  s.records_replayed = records_replayed_;
  s.journal_tail_cut_bytes = journal_report_.torn_bytes;
  s.puts = puts_.load();
  s.deletes = deletes_.load();
  s.gets = gets_.load();
  s.precondition_failures = precondition_failures_.load();
  s.journal_syncs = journal_syncs_.load();
  return s;
}

}  // namespace cellindex
