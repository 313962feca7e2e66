// A cell's write path: writers queue, the one at the front leads a group,
// checks preconditions in order, journals the group with one write (and one
// sync), applies one RocksDB batch, and wakes the group.
#include <utility>

#include "absl/strings/str_cat.h"
#include "index/base/rocks_status.h"
#include "index/cell/cell.h"
#include "index/cell/cell_ops.h"
#include "rocksdb/write_batch.h"

namespace cellindex {
namespace {

// Most writers one leader takes into a group.
constexpr size_t kMaxGroup = 512;

}  // namespace

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

absl::Status Cell::Prepare(Writer* w, uint64_t seq, Overlay* overlay, std::vector<Applied>* out,
                           std::string* body) {
  Overlay local;  // this writer's own changes, merged into `overlay` on success
  std::vector<Applied> mine;
  JournalBodyEncoder encoder(body);
  encoder.Begin(w->ops.size());
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
      if (legacy_journal_body_) {
        encoder.AddLegacyDelete(op.encoded_key);
      } else {
        encoder.AddDelete(op.encoded_key, LocationNamesOf(*old));
      }
      w->versions.push_back(0);
    } else {
      a.record = std::move(op.record);
      a.record->version = seq;
      a.record_bytes = EncodeRecord(*a.record);
      if (legacy_journal_body_) {
        encoder.AddLegacyPut(op.encoded_key, a.record_bytes);
      } else {
        std::optional<LocationNames> names;
        if (old.has_value()) names = LocationNamesOf(*old);
        encoder.AddPut(op.encoded_key, a.record_bytes, names ? &*names : nullptr);
      }
      w->versions.push_back(seq);
    }
    local[a.encoded_key] = a.record;
    mine.push_back(std::move(a));
  }
  for (auto& [k, v] : local) (*overlay)[k] = std::move(v);
  for (Applied& a : mine) out->push_back(std::move(a));
  return absl::OkStatus();
}

absl::Status Cell::EnqueueLocked(Writer* w) {
  if (state_.load() != State::kServing) return CheckServingLocked();
  writers_.push_back(w);
  while (!w->done && w != writers_.front()) w->cv.Wait(&mu_);
  return absl::OkStatus();
}

void Cell::FinishLocked(Writer* leader, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    Writer* q = writers_.front();
    writers_.pop_front();
    if (q != leader) {
      q->done = true;
      q->cv.Signal();
    }
  }
  if (!writers_.empty()) writers_.front()->cv.Signal();
}

absl::StatusOr<std::vector<uint64_t>> Cell::Write(std::vector<CellOp> ops) {
  Writer w;
  w.ops = std::move(ops);
  mu_.Lock();
  if (absl::Status s = EnqueueLocked(&w); !s.ok()) {
    mu_.Unlock();
    return s;
  }
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
  FinishLocked(&w, group.size());
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
      std::optional<LocationNames> old;
      if (a.old.has_value()) old = LocationNamesOf(*a.old);
      AddMutations(a.encoded_key, old ? &*old : nullptr, a.record ? &*a.record : nullptr,
                   a.record_bytes, locations_.get(), &batch);
      count += (a.record ? 1 : 0) - (a.old ? 1 : 0);
      (a.record ? puts : deletes)++;
    }
    AddState({seq - 1, count}, &batch);
    NoPerfCounting no_perf_counting;
    s = FromRocks(db_->Write(write_options_, &batch), absl::StrCat("cell ", range_.id, ": apply"));
    puts_ += puts;
    deletes_ += deletes;
  }
  if (!s.ok()) {
    // The journal may hold records RocksDB does not: serving on would give
    // stale reads, and the journal refuses appends after an error anyway.
    // A reopen replays the journal from what is durable.
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
  // Write() with an exclusive writer: queued like any writer, run alone. An
  // exclusive writer is never taken into another leader's group, so it
  // always leads itself.
  Writer w;
  w.exclusive = &fn;
  mu_.Lock();
  if (absl::Status s = EnqueueLocked(&w); !s.ok()) {
    mu_.Unlock();
    return s;
  }
  mu_.Unlock();
  const bool serving = state_.load() == State::kServing;
  w.status = serving ? fn() : CheckServing();
  mu_.Lock();
  FinishLocked(&w, 1);
  mu_.Unlock();
  return w.status;
}

}  // namespace cellindex
