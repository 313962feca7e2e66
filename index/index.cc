#include "index/index.h"

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"
#include "index/cell/cell.h"
#include "index/cell/listing.h"
#include "index/cell/locate.h"
#include "index/index_impl.h"
#include "index/internal_options.h"
#include "recovery/inventory_file.h"
#include "recovery/placement.h"
#include "recovery/store/cell_map_file.h"
#include "recovery/store/layout.h"
#include "rocksdb/file_system.h"

namespace cellindex {
namespace {

absl::Status ValidatePrecondition(const Precondition& p) {
  if (p.if_none_match && p.if_version_match.has_value()) {
    return absl::InvalidArgumentError(
        "invalid precondition: if-none-match and if-version-match are exclusive");
  }
  return absl::OkStatus();
}

// Validates `op` and turns it into a CellOp.
absl::StatusOr<CellOp> ToCellOp(const WriteOp& op, absl::Time now) {
  if (absl::Status s = ValidateObjectKey(op.key); !s.ok()) return s;
  if (absl::Status s = ValidatePrecondition(op.precondition); !s.ok()) return s;
  CellOp c;
  c.kind = op.kind;
  c.encoded_key = EncodeKey(op.key);
  c.precondition = op.precondition;
  if (op.kind == WriteOp::Kind::kPut) {
    if (absl::Status s = ValidateObjectRecord(op.record); !s.ok()) return s;
    c.record = op.record;
    if (c.record.modified == absl::InfinitePast()) c.record.modified = now;
    if (c.record.created == absl::InfinitePast()) c.record.created = c.record.modified;
  }
  return c;
}

}  // namespace

CellSet::Place IndexImpl::PlaceOf(CellId id) const {
  absl::MutexLock lock(&map_mu_);
  CellSet::Place place;
  place.identity.index_id = map_.index_id();
  place.epoch = map_.epoch();
  const std::optional<size_t> i = map_.IndexOf(id);
  if (!i) {  // retired: it never opens again
    place.identity.range.id = id;
    place.db_dir = CellDbDir(options_.data_dir, id);
    return place;
  }
  place.identity.range = map_.cells()[*i];
  if (auto e = owner_epochs_.find(id); e != owner_epochs_.end()) place.owner_epoch = e->second;
  auto it = inventory_.hosts.find(map_.cells()[*i].host);
  const std::string& base = it != inventory_.hosts.end() ? it->second : options_.data_dir;
  place.db_dir = CellDbDir(base, id);
  return place;
}

void IndexImpl::PublishMapLocked() {
  auto next = std::make_shared<const CellMap>(map_);
  absl::MutexLock lock(&routing_mu_);
  routing_ = std::move(next);
}

std::shared_ptr<const CellMap> IndexImpl::Routing() const {
  absl::MutexLock lock(&routing_mu_);
  return routing_;
}

bool IndexImpl::MapChangedSince(const CellMap& map) const {
  return Routing()->epoch() != map.epoch();
}

void IndexImpl::WaitForRecovery() { cells_->WaitForRecovery(); }

absl::Status IndexImpl::RefuseInCluster() const {
  if (!options_.cluster_member) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "this index is a cluster member: splits, merges and capacity changes of the whole map "
      "are the controller's");
}

bool IndexImpl::MayAcknowledge() const {
  return !options_.may_acknowledge || options_.may_acknowledge();
}

absl::Status IndexImpl::Fenced(CellId cell, bool may_have_applied) {
  return absl::UnavailableError(absl::StrCat(
      "this host may no longer own cell ", cell, " (its lease may have expired)",
      may_have_applied ? ": the write may or may not have been applied" : ""));
}

absl::Status IndexImpl::FencedAll() {
  return absl::UnavailableError("this host may no longer own its cells (its lease may have expired)");
}

absl::Status IndexImpl::Adopt(CellId cell, uint64_t owner_epoch) {
  if (!options_.cluster_member) {
    return absl::FailedPreconditionError(
        "Adopt: the index is not a cluster member (Options::cluster_member)");
  }
  if (owner_epoch == 0) return absl::InvalidArgumentError("Adopt: owner epoch 0");
  {
    absl::MutexLock lock(&map_mu_);
    if (!map_.IndexOf(cell)) return absl::InvalidArgumentError(absl::StrCat("no cell ", cell));
    auto [it, added] = owner_epochs_.emplace(cell, owner_epoch);
    if (!added) return absl::OkStatus();  // adopted already
  }
  absl::Status s = cells_->Adopt(cell);
  if (!s.ok()) {
    absl::MutexLock lock(&map_mu_);
    owner_epochs_.erase(cell);
  }
  return s;
}

absl::Status IndexImpl::Release(CellId cell) {
  if (!options_.cluster_member) {
    return absl::FailedPreconditionError(
        "Release: the index is not a cluster member (Options::cluster_member)");
  }
  cells_->Release(cell);
  absl::MutexLock lock(&map_mu_);
  owner_epochs_.erase(cell);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CheckpointReport>> IndexImpl::Checkpoint(std::optional<CellId> cell) {
  std::vector<CheckpointReport> out;
  absl::Status first_error;
  bool found = false;
  const std::shared_ptr<const CellMap> map = Routing();  // kept alive through the loop
  std::set<CellId> adopted;
  if (options_.cluster_member) {
    absl::MutexLock lock(&map_mu_);
    for (const auto& [id, epoch] : owner_epochs_) adopted.insert(id);
  }
  for (const CellRange& c : map->cells()) {
    if (cell.has_value() && c.id != *cell) continue;
    found = true;
    // A cluster member checkpoints the cells it serves.
    if (options_.cluster_member && !cell.has_value() && !adopted.count(c.id)) continue;
    absl::StatusOr<CheckpointReport> r = cells_->Checkpoint(c.id, /*wait_for_validation=*/true);
    if (r.ok()) {
      out.push_back(*r);
    } else if (!cell.has_value() && cells_->Retired(c.id)) {
      // Split or merged meanwhile: its children checkpointed as they opened.
    } else if (first_error.ok()) {
      first_error = r.status();
    }
  }
  if (cell.has_value() && !found) {
    return absl::InvalidArgumentError(absl::StrCat("no cell ", *cell));
  }
  // New checkpoints may be what retired cells were kept for. Skipped while
  // a capacity change runs (it collects when it ends), and in a cluster
  // member (the store is shared).
  if (!options_.cluster_member && capacity_mu_.TryLock()) {
    (void)CollectRetiredCells();
    capacity_mu_.Unlock();
  }
  if (!first_error.ok()) return first_error;
  return out;
}

absl::StatusOr<std::vector<CellId>> IndexImpl::LoseHosts(const std::vector<std::string>& hosts) {
  if (absl::Status s = RefuseInCluster(); !s.ok()) return s;
  // A capacity change under way (a drain step, a split's opening children)
  // finishes first; the audit line says how long the loss waited for it.
  // A split or merge still making its children gives way (LossWaiting).
  const absl::Time asked = absl::Now();
  losses_waiting_.fetch_add(1);
  if (internal_.loss_hook) internal_.loss_hook();
  absl::MutexLock capacity_lock(&capacity_mu_);
  losses_waiting_.fetch_sub(1);
  const absl::Time locked = absl::Now();
  nlohmann::ordered_json parts = nlohmann::ordered_json::object();
  absl::StatusOr<std::vector<CellId>> moved = LoseHostsImpl(hosts, &parts);
  NoteCapacityChange();
  nlohmann::ordered_json entry;
  entry["op"] = "lose-hosts";
  entry["hosts"] = hosts;
  entry["waited_ms"] = absl::ToDoubleMilliseconds(locked - asked);
  entry["took_ms"] = absl::ToDoubleMilliseconds(absl::Now() - locked);
  entry["took_parts_ms"] = std::move(parts);
  entry["outcome"] = moved.ok() ? "done" : std::string(moved.status().message());
  if (moved.ok()) entry["cells_moved"] = *moved;
  // The loss happened whether or not it could be recorded.
  (void)Audit("", entry);
  return moved;
}

absl::StatusOr<std::vector<CellId>> IndexImpl::LoseHostsImpl(
    const std::vector<std::string>& hosts, nlohmann::ordered_json* parts) {
  absl::Time part_start = absl::Now();
  auto part_done = [&](const char* name) {
    const absl::Time now = absl::Now();
    (*parts)[name] = absl::ToDoubleMilliseconds(now - part_start);
    part_start = now;
  };
  rocksdb::FileSystem& fs = *internal_.file_system;
  std::vector<size_t> lost;  // positions in map_ (no split meanwhile: capacity_mu_)
  std::vector<CellId> lost_ids;
  std::vector<std::string> dirs;
  {
    absl::MutexLock lock(&map_mu_);
    std::set<std::string> gone;
    for (const std::string& host : hosts) {
      auto it = inventory_.hosts.find(host);
      if (it == inventory_.hosts.end()) {
        return absl::InvalidArgumentError(absl::StrCat("unknown host \"", host, "\""));
      }
      if (gone.insert(host).second) dirs.push_back(it->second);
    }
    if (gone.size() >= inventory_.hosts.size()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "losing ", gone.size(), " of ", inventory_.hosts.size(),
          " hosts would leave none for their cells"));
    }
    const std::string store = NormalPath(fs, options_.store_dir);
    for (const std::string& dir : dirs) {
      if (PathWithin(store, NormalPath(fs, dir))) {
        return absl::FailedPreconditionError(
            absl::StrCat("the store ", store, " lies in host directory ", dir));
      }
    }
    for (size_t i = 0; i < map_.cells().size(); ++i) {
      if (gone.count(map_.cells()[i].host)) {
        lost.push_back(i);
        lost_ids.push_back(map_.cells()[i].id);
      }
    }
  }
  // Own each lost cell's next recovery (waiting for one under way, which may
  // be writing into a directory about to vanish), and close it.
  part_done("checking");
  cells_->TakeOver(lost_ids);
  part_done("taking_over");
  std::vector<CellId> moved;
  {
    absl::MutexLock lock(&map_mu_);
    for (const std::string& host : hosts) inventory_.RemoveHost(host);
    std::vector<std::string> survivors;
    for (const auto& [h, d] : inventory_.hosts) survivors.push_back(h);
    PlaceOnLeastLoaded(&map_, lost, survivors);
    PublishMapLocked();
    moved = lost_ids;
    if (absl::Status s = SaveCellMap(fs, options_.store_dir + "/" + kCellMapFile, map_);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = SaveInventory(fs, inventory_path(), inventory_); !s.ok()) return s;
    last_recovery_start_ = absl::Now();
    last_recovery_cells_ = lost_ids;
  }
  part_done("saving");
  cells_->ScheduleRecovery(lost_ids, /*force_restore=*/true, UINT64_MAX, /*after_damage=*/false);
  // The lost hosts' directories go once their cells restore elsewhere (no
  // cell opens there any more: they left the inventory above).
  for (const std::string& dir : dirs) {
    if (absl::Status s = RemoveAll(fs, dir); !s.ok()) return s;
  }
  part_done("removing");
  return moved;
}

CellId IndexImpl::CellFor(const ObjectKey& key) const {
  std::shared_ptr<const CellMap> map = Routing();
  return map->cells()[map->Route(EncodeKey(key))].id;
}

CellMap IndexImpl::cell_map() const {
  absl::MutexLock lock(&map_mu_);
  return map_;
}

absl::StatusOr<uint64_t> IndexImpl::Put(const ObjectKey& key, const ObjectRecord& record,
                                        const Precondition& precondition) {
  const absl::Time start = absl::Now();
  WriteBatch batch;
  batch.Put(key, record, precondition);
  size_t cell = SIZE_MAX;
  absl::StatusOr<std::vector<uint64_t>> v = WriteImpl(batch, &cell);
  requests_->Record(cell, RequestOp::kPut, v.status(), absl::Now() - start);
  if (!v.ok()) return v.status();
  return v->front();
}

absl::Status IndexImpl::Delete(const ObjectKey& key, const Precondition& precondition) {
  const absl::Time start = absl::Now();
  WriteBatch batch;
  batch.Delete(key, precondition);
  size_t cell = SIZE_MAX;
  absl::Status s = WriteImpl(batch, &cell).status();
  requests_->Record(cell, RequestOp::kDelete, s, absl::Now() - start);
  return s;
}

absl::StatusOr<std::vector<uint64_t>> IndexImpl::Write(const WriteBatch& batch) {
  const absl::Time start = absl::Now();
  size_t cell = SIZE_MAX;
  absl::StatusOr<std::vector<uint64_t>> v = WriteImpl(batch, &cell);
  requests_->Record(cell, RequestOp::kWrite, v.status(), absl::Now() - start);
  return v;
}

// Sets `*routed` to the batch's cell once it is known.
absl::StatusOr<std::vector<uint64_t>> IndexImpl::WriteImpl(const WriteBatch& batch,
                                                           size_t* routed) {
  if (batch.empty()) return std::vector<uint64_t>();
  const absl::Time now = absl::Now();
  std::vector<CellOp> ops;
  ops.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    absl::StatusOr<CellOp> op = ToCellOp(batch.ops()[i], now);
    if (!op.ok()) return op.status();
    ops.push_back(*std::move(op));
  }
  // A cell met retired (split or merged) means the map used is stale: the
  // request is routed again on the new one. Nothing was applied: a retired
  // cell takes no request.
  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<const CellMap> map = Routing();
    const size_t cell = map->Route(ops[0].encoded_key);
    for (size_t i = 1; i < ops.size(); ++i) {
      const size_t c = map->Route(ops[i].encoded_key);
      if (c == cell) continue;
      const ObjectKey& a = batch.ops()[0].key;
      const ObjectKey& b = batch.ops()[i].key;
      return absl::InvalidArgumentError(absl::StrCat(
          "batch spans cells ", map->cells()[cell].id, " and ", map->cells()[c].id, " (", a.bucket,
          "/", absl::CHexEscape(a.key), " and ", b.bucket, "/", absl::CHexEscape(b.key),
          "); a batch must stay within one cell"));
    }
    const CellId id = map->cells()[cell].id;
    *routed = id;
    absl::StatusOr<std::shared_ptr<Cell>> target = cells_->Serving(id);
    if (!target.ok()) {
      if (RetryOnNewMap(target.status(), *map, attempt)) continue;
      // Refused before the cell's journal: nothing applied.
      return MarkNotApplied(target.status());
    }
    if (!MayAcknowledge()) return MarkNotApplied(Fenced(id, /*may_have_applied=*/false));
    absl::StatusOr<std::vector<uint64_t>> written = (*target)->Write(ops);
    // Journaled, but not to be acknowledged: a later owner may have taken
    // the cell (and never reads the record, or has already read it).
    if (!MayAcknowledge()) return Fenced(id, /*may_have_applied=*/true);
    return written;
  }
}

bool IndexImpl::RetryOnNewMap(const absl::Status& status, const CellMap& map, int attempt) const {
  if (!absl::IsUnavailable(status) || attempt >= kMaxReroutes) return false;
  if (MapChangedSince(map)) return true;
  // A cell that retires is held first: its requests wait for the new map.
  // One met retired before the new map shows is a split committing now.
  return false;
}

absl::StatusOr<ObjectRecord> IndexImpl::Get(const ObjectKey& key) {
  const absl::Time start = absl::Now();
  size_t routed = SIZE_MAX;
  absl::StatusOr<ObjectRecord> r = [&]() -> absl::StatusOr<ObjectRecord> {
    if (absl::Status s = ValidateObjectKey(key); !s.ok()) return s;
    const std::string encoded = EncodeKey(key);
    for (int attempt = 0;; ++attempt) {
      std::shared_ptr<const CellMap> map = Routing();
      const CellId id = map->cells()[map->Route(encoded)].id;
      routed = id;
      absl::StatusOr<std::shared_ptr<Cell>> cell = cells_->Serving(id);
      if (!cell.ok()) {
        if (RetryOnNewMap(cell.status(), *map, attempt)) continue;
        return cell.status();
      }
      absl::StatusOr<ObjectRecord> got = (*cell)->Get(encoded);
      if (!MayAcknowledge()) return Fenced(id, false);
      return got;
    }
  }();
  requests_->Record(routed, RequestOp::kGet, r.status(), absl::Now() - start);
  return r;
}

absl::StatusOr<ListResult> IndexImpl::List(absl::string_view bucket,
                                           const ListOptions& options) {
  const absl::Time start = absl::Now();
  absl::StatusOr<ListResult> r;
  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<const CellMap> map = Routing();
    r = ListObjects(*map, [this, map](size_t i) { return cells_->Serving(map->cells()[i].id); },
                    bucket, options);
    if (r.ok() || !RetryOnNewMap(r.status(), *map, attempt)) break;
  }
  if (r.ok() && !MayAcknowledge()) {
    r = FencedAll();
  }
  requests_->Record(SIZE_MAX, RequestOp::kList, r.status(), absl::Now() - start);
  return r;
}

absl::StatusOr<LocateResult> IndexImpl::Locate(const LocateOptions& options) {
  const absl::Time start = absl::Now();
  absl::StatusOr<LocateResult> r;
  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<const CellMap> map = Routing();
    r = LocateObjects(*map, [this, map](size_t i) { return cells_->Serving(map->cells()[i].id); },
                      options);
    if (r.ok() || !RetryOnNewMap(r.status(), *map, attempt)) break;
  }
  if (r.ok() && !MayAcknowledge()) {
    r = FencedAll();
  }
  requests_->Record(SIZE_MAX, RequestOp::kLocate, r.status(), absl::Now() - start);
  return r;
}

IndexStats IndexImpl::Stats() const {
  IndexStats s;
  {
    absl::MutexLock lock(&map_mu_);
    s.epoch = map_.epoch();
  }
  s.open_time = open_time_;
  s.time_to_first_cell = cells_->time_to_first_cell();
  s.time_to_all_cells = cells_->time_to_all_cells();
  s.checkpoint_loop_passes = background_->checkpoint_loop_passes();
  std::shared_ptr<const CellMap> map = Routing();
  for (const CellRange& range : map->cells()) {
    CellStats c = cells_->Stats(range.id);
    c.id = range.id;
    c.range = range.Describe();
    c.host = range.host;
    c.origin = CellOriginName(range.lineage.origin);
    for (const CellParent& p : range.lineage.parents) c.parents.push_back(p.id);
    if (range.lineage.origin != CellOrigin::kNone) c.born = range.lineage.born;
    s.cells.push_back(std::move(c));
  }
  return s;
}

}  // namespace cellindex
