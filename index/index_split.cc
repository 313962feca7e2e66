// Splitting a cell while the index serves (Index::SplitCell), and the
// clean-up of what splits leave behind: the local directories of cells the
// map no longer names, and the store files of retired cells that nothing
// can need any more.
//
// The steps, and what a crash at each leaves (SplitEvent names them):
//   1. the parent is checkpointed while it serves (a child restored before
//      it has checkpoints of its own starts from this one);
//   2. its requests are held and it closes with a flush, so its local state
//      holds every write up to its last journal seq S;
//   3. each child's local state is made from it: hard links, then the other
//      half dropped (index/cell/cell_split.h), at applied seq S;
//   4. the map naming the children, with their parent and S, is saved
//      atomically: the commit;
//   5. the children open from their local states (each journal starts at
//      S + 1, the parent's checkpoint and journal covering what is below),
//      the parent is retired and its held requests go to the children;
//   6. each child is checkpointed, while it serves.
// Steps 1 and 6 run outside capacity_mu_ (Reshape), so that a host lost
// during a split is recovered at once, not after its checkpoints; so does
// the move of the right child to a less loaded host that follows
// (SpreadChild).
// A crash before 4 leaves the parent (the children's directories are
// removed at the next open); after it, both children, from their local
// states or, if the host is gone too, from the parent's checkpoint and
// journal up to S, trimmed, then their own journals.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"
#include "index/cell/cell.h"
#include "index/cell/cell_keys.h"
#include "index/cell/cell_split.h"
#include "index/index_impl.h"
#include "index/model/object_key.h"
#include "recovery/cell_recovery.h"
#include "recovery/checkpoint.h"
#include "recovery/placement.h"
#include "recovery/store/cell_map_file.h"
#include "recovery/store/layout.h"
#include "recovery/store/store_backed_fs.h"
#include "rocksdb/file_system.h"

namespace cellindex {
namespace {

using Json = nlohmann::ordered_json;

// How long requests to a splitting cell wait for its children.
constexpr absl::Duration kSplitHold = absl::Seconds(10);

// The states the children were made from are the parents' as they closed:
// what each had applied, no less (a state that lost its memtable) and no
// more.
absl::Status CheckParentSeqs(const ChildStateReport& made, const std::vector<uint64_t>& seqs) {
  if (made.parent_seqs == seqs) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "the parents' local states are at seq ", absl::StrJoin(made.parent_seqs, ","),
      " but they had applied seq ", absl::StrJoin(seqs, ","), " when they closed"));
}

// Why a split or merge that had not committed stopped (LossWaiting).
absl::Status GiveWayToLoss() {
  return absl::AbortedError(
      "a host loss came first: nothing changed and the cells serve where they were; ask again");
}

// A cell restored in place reads some of its files from the store until
// its copy lands them (recovery/store/store_backed_fs.h): its directory
// alone is not its state, and no child can be made from it before then.
absl::Status RefuseStoreBacked(rocksdb::FileSystem& fs, CellId id, const std::string& dir) {
  if (!StoreBackedFs::HasList(fs, dir)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "cell ", id, " still reads files from the store after an in-place restore: it can split ",
      "or merge once they have landed on its host (cellindex cells shows the copy)"));
}

// The ids `to` names and `from` does not (*added), and the reverse
// (*removed).
void DiffCells(const CellMap& from, const CellMap& to, std::vector<CellId>* added,
               std::vector<CellId>* removed) {
  std::set<CellId> before, after;
  for (const CellRange& c : from.cells()) before.insert(c.id);
  for (const CellRange& c : to.cells()) after.insert(c.id);
  for (CellId id : after) {
    if (!before.count(id)) added->push_back(id);
  }
  for (CellId id : before) {
    if (!after.count(id)) removed->push_back(id);
  }
}

}  // namespace

absl::StatusOr<uint64_t> IndexImpl::CommitMap(CellMap next) {
  if (options_.cluster_member) return CommitMemberMap(std::move(next));
  absl::MutexLock lock(&map_mu_);
  if (absl::Status s = SaveMapOrOld(next); !s.ok()) return s;
  map_ = std::move(next);
  PublishMapLocked();
  return map_.epoch();
}

absl::StatusOr<uint64_t> IndexImpl::CommitMemberMap(CellMap next) {
  // The commit is the cluster's (Options::commit_map): the store's map
  // follows it, best effort (AdoptMap).
  absl::StatusOr<uint64_t> owner = options_.commit_map(next);
  if (!owner.ok()) return owner.status();
  {
    absl::MutexLock lock(&map_mu_);
    std::vector<CellId> children, parents;
    DiffCells(map_, next, &children, &parents);
    for (CellId id : parents) owner_epochs_.erase(id);
    for (CellId id : children) owner_epochs_[id] = *owner;
    map_ = next;
    PublishMapLocked();
  }
  SaveStoreMapIfOlder(next);
  return next.epoch();
}

void IndexImpl::SaveStoreMapIfOlder(const CellMap& map) {
  rocksdb::FileSystem& fs = *internal_.file_system;
  const std::string path = options_.store_dir + "/" + kCellMapFile;
  absl::StatusOr<CellMap> stored = LoadCellMap(fs, path);
  if (stored.ok() && stored->index_id() == map.index_id() && stored->epoch() >= map.epoch()) {
    return;
  }
  (void)SaveCellMap(fs, path, map);
}

absl::Status IndexImpl::AdoptMap(const CellMap& map) {
  if (!options_.cluster_member) {
    return absl::FailedPreconditionError(
        "AdoptMap: the index is not a cluster member (Options::cluster_member)");
  }
  std::vector<CellId> added, removed;
  bool same = false;
  {
    absl::MutexLock lock(&map_mu_);
    if (map.index_id() != map_.index_id()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "AdoptMap: the map is index ", map.index_id(), "'s, not ", map_.index_id(), "'s"));
    }
    if (map.epoch() < map_.epoch()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "AdoptMap: the map's epoch ", map.epoch(), " is older than ", map_.epoch()));
    }
    same = map.epoch() == map_.epoch();
    DiffCells(map_, map, &added, &removed);
  }
  if (!same) {
    // New cells known (away) before the map names them; a retired one
    // released before it stops being named.
    cells_->FollowMap(added, {});
    {
      absl::MutexLock lock(&map_mu_);
      if (map.epoch() <= map_.epoch()) return absl::OkStatus();  // another adoption came first
      for (CellId id : removed) owner_epochs_.erase(id);
      map_ = map;
      PublishMapLocked();
    }
    cells_->FollowMap({}, removed);
  }
  // Also for the same map: another member's older save may have overtaken
  // a newer one.
  SaveStoreMapIfOlder(map);
  return absl::OkStatus();
}

absl::Status IndexImpl::RefuseReshape(const std::vector<CellId>& cells) const {
  if (!options_.cluster_member) return absl::OkStatus();
  if (!options_.commit_map) return RefuseInCluster();
  absl::MutexLock lock(&map_mu_);
  for (CellId id : cells) {
    if (!owner_epochs_.count(id)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cell ", id, " is not served here: a split or merge runs where its cells are"));
    }
  }
  return absl::OkStatus();
}

absl::Status IndexImpl::SaveMapOrOld(const CellMap& next) {
  rocksdb::FileSystem& fs = *internal_.file_system;
  const std::string path = options_.store_dir + "/" + kCellMapFile;
  absl::Status s = SaveCellMap(fs, path, next);
  if (s.ok()) return s;
  // The file may hold the new map already (renamed into place before a sync
  // failed). Only with the old one saved again may the parents serve on.
  if (SaveCellMap(fs, path, map_).ok()) return s;
  // Neither map is known to be durable: serving either could be wrong after
  // a crash. Stop here; the restart serves whichever map the store holds,
  // and the children's and parents' local states are both in place for it.
  std::fprintf(stderr, "cellindex: cannot tell which cell map is durable (%s): stopping\n",
               std::string(s.message()).c_str());
  std::abort();
}

const char* SplitEventName(SplitEvent event) {
  switch (event) {
    case SplitEvent::kStart:
      return "start";
    case SplitEvent::kParentClosed:
      return "parent-closed";
    case SplitEvent::kChildrenMade:
      return "children-made";
    case SplitEvent::kMapSaved:
      return "map-saved";
    case SplitEvent::kChildrenServing:
      return "children-serving";
  }
  return "unknown";
}

absl::Status IndexImpl::Reshape(const std::string& user, Json entry,
                               const std::vector<CellId>& parents,
                               const std::function<absl::Status()>& check,
                               const std::function<absl::StatusOr<std::vector<CellId>>()>& change,
                               const std::function<void()>& after,
                               const std::function<void(Json*)>& finish) {
  // Step 1, each parent checkpointed (validated) while it serves, before
  // capacity_mu_ is taken: a host lost meanwhile is recovered at once, not
  // after this copy. A parent that cannot be checkpointed is not changed.
  // A request `check` refuses is not checkpointed for: `change` refuses it
  // again below, with its reason, and nothing changes.
  absl::Status checkpointed;
  if (check().ok()) {
    for (CellId p : parents) {
      absl::StatusOr<CheckpointReport> c = cells_->Checkpoint(p, /*wait_for_validation=*/true);
      if (!c.ok()) {
        checkpointed = c.status();
        break;
      }
    }
  }
  absl::StatusOr<std::vector<CellId>> children;
  {
    absl::MutexLock capacity_lock(&capacity_mu_);
    // Recorded before anything changes, so no split or merge goes
    // unrecorded.
    Json begin = entry;
    begin["outcome"] = "started";
    if (absl::Status s = Audit(user, begin); !s.ok()) return s;
    children = checkpointed.ok() ? change() : checkpointed;
    if (!children.ok()) {
      entry["outcome"] = std::string(children.status().message());
      (void)Audit(user, entry);
      return children.status();
    }
    NoteCapacityChange();  // a rebalance planned on the old map stops
  }
  // Checkpoints of their own, now that they serve (until then the parents'
  // files cover them; a failure here only delays it to the background's).
  // Outside capacity_mu_ too.
  for (CellId c : *children) (void)cells_->Checkpoint(c, /*wait_for_validation=*/true);
  if (internal_.split_hook) internal_.split_hook(parents.front(), SplitEvent::kChildrenServing);
  if (after) after();
  absl::MutexLock capacity_lock(&capacity_mu_);
  entry["outcome"] = "done";
  finish(&entry);
  // A member leaves the shared store's retired cells alone.
  if (!options_.cluster_member) (void)CollectRetiredCells();
  // The change happened whether or not it can be recorded.
  (void)Audit(user, entry);
  RequestStatusPage();
  return absl::OkStatus();
}

absl::StatusOr<SplitReport> IndexImpl::SplitCell(const SplitRequest& request) {
  if (absl::Status s = RefuseReshape({request.cell}); !s.ok()) return s;
  const absl::Time start = absl::Now();
  Json entry;
  entry["op"] = "split-cell";
  if (!request.arguments.empty()) entry["arguments"] = request.arguments;
  entry["cell"] = request.cell;
  if (request.at) entry["at"] = absl::StrCat(request.at->bucket, "/", request.at->key);
  SplitReport report;
  // The median record's key, found before capacity_mu_ is taken (a scan of
  // the whole cell; a host lost meanwhile must not wait for it). Writes
  // until the split move it a little off the middle, no more.
  std::string median;
  absl::Status done = Reshape(
      request.user, std::move(entry), {request.cell},
      [&]() -> absl::Status {
        if (!request.at) {
          {
            absl::MutexLock lock(&map_mu_);
            if (!map_.IndexOf(request.cell)) return absl::InvalidArgumentError("no such cell");
          }
          absl::StatusOr<std::shared_ptr<Cell>> cell = cells_->Serving(request.cell);
          if (!cell.ok()) return cell.status();
          absl::StatusOr<std::string> m = MedianRecordKey(**cell);
          if (!m.ok()) return m.status();
          median = *std::move(m);
          return absl::OkStatus();
        }
        absl::MutexLock lock(&map_mu_);
        if (!map_.IndexOf(request.cell)) return absl::InvalidArgumentError("no such cell");
        if (absl::Status s = ValidateObjectKey(*request.at); !s.ok()) return s;
        return map_.Split(request.cell, EncodeKey(*request.at), 0, absl::Now()).status();
      },
      [&]() -> absl::StatusOr<std::vector<CellId>> {
        absl::StatusOr<SplitReport> r = SplitImpl(request, median);
        if (!r.ok()) return r.status();
        report = *std::move(r);
        return std::vector<CellId>{report.left, report.right};
      },
      // A member's children stay here: the controller places cells.
      options_.cluster_member ? std::function<void()>() : [&] { SpreadChild(&report); },
      [&](Json* e) {
        report.total = absl::Now() - start;
        Json& entry = *e;
        entry["left"] = report.left;
        entry["right"] = report.right;
        entry["boundary"] = report.at;
        entry["parent_seq"] = report.parent_seq;
        entry["held_ms"] = absl::ToDoubleMilliseconds(report.held);
        entry["held_parts_ms"] = {
            {"closing", absl::ToDoubleMilliseconds(report.closing)},
            {"making", absl::ToDoubleMilliseconds(report.making)},
            {"saving", absl::ToDoubleMilliseconds(report.commit - report.making)},
            {"opening", absl::ToDoubleMilliseconds(report.opening)}};
        entry["making_parts_ms"] = {{"linking", absl::ToDoubleMilliseconds(report.linking)},
                                    {"trimming", absl::ToDoubleMilliseconds(report.trimming)}};
        if (!report.right_moved_to.empty()) {
          entry["right_moved_to"] = report.right_moved_to;
          entry["move_unavailable_ms"] = absl::ToDoubleMilliseconds(report.move_unavailable);
        }
        if (!report.move_error.empty()) entry["move_error"] = report.move_error;
      });
  if (!done.ok()) return done;
  return report;
}

void IndexImpl::SpreadChild(SplitReport* report) {
  std::optional<std::string> to;
  std::string from;
  {
    absl::MutexLock lock(&map_mu_);
    const std::optional<size_t> i = map_.IndexOf(report->right);
    if (!i || inventory_.hosts.size() < 2) return;
    from = map_.cells()[*i].host;
    const std::string pool = inventory_.PoolOf(from);
    std::vector<std::string> peers;
    for (const auto& [host, dir] : inventory_.hosts) {
      if (inventory_.PoolOf(host) == pool) peers.push_back(host);
    }
    const Pool* limits = inventory_.FindPool(pool);
    to = LessLoadedHost(map_, from, peers, limits ? limits->max_cells_per_host : 0);
  }
  if (!to) return;
  // The child serves and has its checkpoint (SplitImpl took it): the move
  // restores it from there on the other host, as a rebalance would. Only
  // if it is still where the split left it, and the target still a host.
  if (internal_.move_hook) internal_.move_hook(report->right, MoveEvent::kStart);
  absl::StatusOr<absl::Duration> window =
      DrainCell(report->right, *to, from, /*lock_capacity=*/true);
  if (window.ok()) {
    NoteCapacityChange();  // a rebalance planned before it stops
    report->right_moved_to = *to;
    report->move_unavailable = *window;
  } else {
    report->move_error = std::string(window.status().message());
  }
}

absl::StatusOr<SplitReport> IndexImpl::SplitImpl(const SplitRequest& request,
                                                 const std::string& median) {
  rocksdb::FileSystem& fs = *internal_.file_system;
  const CellId id = request.cell;
  CellIdentity parent;
  std::string host_dir;
  {
    absl::MutexLock lock(&map_mu_);
    const std::optional<size_t> i = map_.IndexOf(id);
    if (!i) return absl::InvalidArgumentError(absl::StrCat("no cell ", id, " in the cell map"));
    parent.index_id = map_.index_id();
    parent.range = map_.cells()[*i];
    auto it = inventory_.hosts.find(parent.range.host);
    host_dir = it != inventory_.hosts.end() ? it->second : options_.data_dir;
  }
  std::string at;
  if (request.at) {
    if (absl::Status s = ValidateObjectKey(*request.at); !s.ok()) return s;
    at = EncodeKey(*request.at);
  } else if (!median.empty()) {
    at = median;
  } else {
    absl::StatusOr<std::shared_ptr<Cell>> cell = cells_->Serving(id);
    if (!cell.ok()) return cell.status();
    absl::StatusOr<std::string> median = MedianRecordKey(**cell);
    if (!median.ok()) return median.status();
    at = *std::move(median);
  }
  // Checked on the map as it is (the key inside the range, ids left); the
  // children's ids are the map's next two.
  CellId left = 0, right = 0;
  {
    absl::MutexLock lock(&map_mu_);
    absl::StatusOr<CellMap> trial = map_.Split(id, at, 0, absl::Now());
    if (!trial.ok()) return trial.status();
    left = static_cast<CellId>(map_.next_cell_id());
    right = left + 1;
  }
  auto hook = [&](SplitEvent e) {
    if (internal_.split_hook) internal_.split_hook(id, e);
  };
  hook(SplitEvent::kStart);
  SplitReport report;
  report.parent = id;
  report.left = left;
  report.right = right;
  report.at = Printable(at);
  const std::string parent_dir = CellDbDir(host_dir, id);
  const std::vector<std::string> child_dirs = {CellDbDir(host_dir, left), CellDbDir(host_dir, right)};
  auto commit = [&](const std::vector<uint64_t>& seqs) -> absl::Status {
    hook(SplitEvent::kParentClosed);
    if (LossWaiting()) return GiveWayToLoss();
    // A member that may no longer own the parent writes nothing for it.
    if (!MayAcknowledge()) return Fenced(id, /*may_have_applied=*/false);
    if (absl::Status s = RefuseStoreBacked(fs, id, parent_dir); !s.ok()) return s;
    report.parent_seq = seqs.at(0);
    CellMap next;
    {
      absl::MutexLock lock(&map_mu_);
      absl::StatusOr<CellMap> split = map_.Split(id, at, report.parent_seq, absl::Now());
      if (!split.ok()) return split.status();
      next = *std::move(split);
    }
    auto undo = [&](const absl::Status& why) {
      for (const std::string& dir : child_dirs) (void)RemoveAll(fs, dir);
      return why;
    };
    const absl::Time made_start = absl::Now();
    std::vector<ChildPlace> places;
    for (size_t k = 0; k < 2; ++k) {
      ChildPlace& place = places.emplace_back();
      place.dir = child_dirs[k];
      place.identity.index_id = parent.index_id;
      place.identity.range = next.cells()[*next.IndexOf(k == 0 ? left : right)];
    }
    absl::StatusOr<std::vector<ChildStateReport>> made =
        MakeChildStates(options_, *resources_, parent_dir, parent, places,
                        [this] { return LossWaiting(); });
    if (!made.ok()) return undo(absl::IsAborted(made.status()) ? GiveWayToLoss() : made.status());
    // Asked again before the store is touched (making the children may
    // have taken long): a member that may no longer own the parent starts
    // no journal.
    if (!MayAcknowledge()) return undo(Fenced(id, /*may_have_applied=*/false));
    for (size_t k = 0; k < 2; ++k) {
      if (absl::Status s = CheckParentSeqs((*made)[k], seqs); !s.ok()) return undo(s);
      (k == 0 ? report.left_records : report.right_records) = (*made)[k].records;
      report.linking = (*made)[k].link_time;
      report.trimming = std::max(report.trimming, (*made)[k].trim_time);
      if (absl::Status s = StartChildJournal(places[k].identity, report.parent_seq, options_,
                                             *resources_, *store_);
          !s.ok()) {
        return undo(s);
      }
    }
    report.making = absl::Now() - made_start;
    hook(SplitEvent::kChildrenMade);
    absl::StatusOr<uint64_t> epoch = CommitMap(std::move(next));
    if (!epoch.ok()) return undo(epoch.status());
    report.epoch = *epoch;
    hook(SplitEvent::kMapSaved);
    return absl::OkStatus();
  };
  absl::StatusOr<CellSet::ReplaceTimes> held =
      cells_->Replace({id}, {left, right}, commit, kSplitHold);
  if (!held.ok()) return held.status();
  report.held = held->held;
  report.closing = held->closing;
  report.commit = held->commit;
  report.opening = held->opening;
  // The parent's state is in the store (its checkpoint and journal); a
  // directory that cannot go now goes at the next open.
  (void)RemoveAll(fs, parent_dir);
  return report;
}

absl::StatusOr<MergeReport> IndexImpl::MergeCells(const MergeRequest& request) {
  if (absl::Status s = RefuseReshape({request.left, request.right}); !s.ok()) return s;
  const absl::Time start = absl::Now();
  Json entry;
  entry["op"] = "merge-cells";
  if (!request.arguments.empty()) entry["arguments"] = request.arguments;
  entry["left"] = request.left;
  entry["right"] = request.right;
  MergeReport report;
  absl::Status done = Reshape(
      request.user, std::move(entry), {request.left, request.right},
      [&]() -> absl::Status {
        absl::MutexLock lock(&map_mu_);
        return map_.Merge(request.left, request.right, 0, 0, absl::Now()).status();
      },
      [&]() -> absl::StatusOr<std::vector<CellId>> {
        absl::StatusOr<MergeReport> r = MergeImpl(request);
        if (!r.ok()) return r.status();
        report = *std::move(r);
        return std::vector<CellId>{report.child};
      },
      /*after=*/nullptr,
      [&](Json* e) {
        report.total = absl::Now() - start;
        (*e)["child"] = report.child;
        (*e)["left_seq"] = report.left_seq;
        (*e)["right_seq"] = report.right_seq;
        (*e)["held_ms"] = absl::ToDoubleMilliseconds(report.held);
      });
  if (!done.ok()) return done;
  return report;
}

absl::StatusOr<MergeReport> IndexImpl::MergeImpl(const MergeRequest& request) {
  rocksdb::FileSystem& fs = *internal_.file_system;
  CellIdentity left, right;
  std::string left_host_dir, right_host_dir;
  CellId child_id = 0;
  {
    absl::MutexLock lock(&map_mu_);
    // Checked on the map as it is: ids, neighbours, ids left.
    absl::StatusOr<CellMap> trial = map_.Merge(request.left, request.right, 0, 0, absl::Now());
    if (!trial.ok()) return trial.status();
    child_id = static_cast<CellId>(map_.next_cell_id());
    for (auto [id, identity, dir] : {std::tuple(request.left, &left, &left_host_dir),
                                     std::tuple(request.right, &right, &right_host_dir)}) {
      identity->index_id = map_.index_id();
      identity->range = map_.cells()[*map_.IndexOf(id)];
      auto it = inventory_.hosts.find(identity->range.host);
      *dir = it != inventory_.hosts.end() ? it->second : options_.data_dir;
    }
  }
  auto hook = [&](SplitEvent e) {
    if (internal_.split_hook) internal_.split_hook(request.left, e);
  };
  hook(SplitEvent::kStart);
  MergeReport report;
  report.left = request.left;
  report.right = request.right;
  report.child = child_id;
  const std::string left_dir = CellDbDir(left_host_dir, request.left);
  const std::string right_dir = CellDbDir(right_host_dir, request.right);
  const std::string child_dir = CellDbDir(left_host_dir, child_id);  // on the left's host
  auto commit = [&](const std::vector<uint64_t>& seqs) -> absl::Status {
    hook(SplitEvent::kParentClosed);
    if (LossWaiting()) return GiveWayToLoss();
    if (!MayAcknowledge()) return Fenced(request.left, /*may_have_applied=*/false);
    for (auto [id, dir] : {std::pair(request.left, left_dir), std::pair(request.right, right_dir)}) {
      if (absl::Status s = RefuseStoreBacked(fs, id, dir); !s.ok()) return s;
    }
    report.left_seq = seqs.at(0);
    report.right_seq = seqs.at(1);
    CellMap next;
    {
      absl::MutexLock lock(&map_mu_);
      absl::StatusOr<CellMap> merged =
          map_.Merge(request.left, request.right, report.left_seq, report.right_seq, absl::Now());
      if (!merged.ok()) return merged.status();
      next = *std::move(merged);
    }
    auto undo = [&](const absl::Status& why) {
      (void)RemoveAll(fs, child_dir);
      return why;
    };
    CellIdentity child;
    child.index_id = left.index_id;
    child.range = next.cells()[*next.IndexOf(child_id)];
    absl::StatusOr<ChildStateReport> made =
        MakeMergedState(options_, *resources_, left_dir, left, right_dir, right, child_dir, child);
    if (!made.ok()) return undo(made.status());
    if (absl::Status s = CheckParentSeqs(*made, seqs); !s.ok()) return undo(s);
    if (!MayAcknowledge()) return undo(Fenced(request.left, /*may_have_applied=*/false));
    report.records = made->records;
    if (absl::Status s = StartChildJournal(child, made->applied_seq, options_, *resources_, *store_);
        !s.ok()) {
      return undo(s);
    }
    hook(SplitEvent::kChildrenMade);
    absl::StatusOr<uint64_t> epoch = CommitMap(std::move(next));
    if (!epoch.ok()) return undo(epoch.status());
    report.epoch = *epoch;
    hook(SplitEvent::kMapSaved);
    return absl::OkStatus();
  };
  absl::StatusOr<CellSet::ReplaceTimes> held =
      cells_->Replace({request.left, request.right}, {child_id}, commit, kSplitHold);
  if (!held.ok()) return held.status();
  report.held = held->held;
  (void)RemoveAll(fs, left_dir);
  (void)RemoveAll(fs, right_dir);
  return report;
}

void IndexImpl::StartResizing() {
  if (options_.resize_check_interval <= absl::ZeroDuration()) return;
  if (options_.split_keys == 0 && options_.split_bytes == 0 && options_.merge_keys == 0) return;
  resize_thread_ = std::thread([this] {
    std::map<CellId, absl::Time> small_since;
    absl::MutexLock lock(&resize_mu_);
    while (!resize_stop_) {
      resize_mu_.AwaitWithTimeout(absl::Condition(&resize_stop_), options_.resize_check_interval);
      if (resize_stop_) break;
      resize_mu_.Unlock();
      ResizePass(&small_since);
      resize_mu_.Lock();
    }
  });
}

void IndexImpl::StopResizing() {
  {
    absl::MutexLock lock(&resize_mu_);
    resize_stop_ = true;
  }
  if (resize_thread_.joinable()) resize_thread_.join();
}

int IndexImpl::ResizePass(std::map<CellId, absl::Time>* small_since) {
  const absl::Time now = absl::Now();
  int done = 0;
  auto stopping = [this] {
    absl::MutexLock lock(&resize_mu_);
    return resize_stop_;
  };
  // Splits first: one pass may split every large cell once.
  std::shared_ptr<const CellMap> map = Routing();
  for (const CellRange& c : map->cells()) {
    if (stopping()) return done;
    std::string condition;
    if (!cells_->Healthy(c.id, &condition)) continue;
    const CellStats st = cells_->Stats(c.id);
    if (st.store_files > 0) continue;  // not before its in-place restore has landed
    const bool by_keys = options_.split_keys > 0 && st.keys >= options_.split_keys;
    const bool by_bytes =
        options_.split_bytes > 0 && st.sst_bytes + st.memtable_bytes >= options_.split_bytes;
    if (!by_keys && !by_bytes) continue;
    SplitRequest request;
    request.cell = c.id;
    request.user = "cellindex";
    request.arguments = absl::StrCat("automatic: ", st.keys, " records, ",
                                     st.sst_bytes + st.memtable_bytes, " bytes");
    if (SplitCell(request).ok()) ++done;
  }
  if (options_.merge_keys == 0) return done;
  // Which cells are small now, and since when.
  map = Routing();
  std::map<CellId, absl::Time> still;
  std::vector<uint64_t> keys;
  for (const CellRange& c : map->cells()) {
    std::string condition;
    const bool healthy = cells_->Healthy(c.id, &condition);
    const CellStats st = cells_->Stats(c.id);
    const uint64_t k = st.keys;
    keys.push_back(k);
    if (!healthy || k >= options_.merge_keys || st.store_files > 0) continue;
    auto it = small_since->find(c.id);
    still[c.id] = it != small_since->end() ? it->second : now;
  }
  *small_since = std::move(still);
  for (size_t i = 0; i + 1 < map->cells().size(); ++i) {
    if (stopping()) return done;
    const CellId a = map->cells()[i].id, b = map->cells()[i + 1].id;
    auto ia = small_since->find(a), ib = small_since->find(b);
    if (ia == small_since->end() || ib == small_since->end()) continue;
    if (now - ia->second < options_.merge_after || now - ib->second < options_.merge_after) {
      continue;
    }
    MergeRequest request;
    request.left = a;
    request.right = b;
    request.user = "cellindex";
    request.arguments = absl::StrCat("automatic: ", keys[i], " + ", keys[i + 1], " records");
    if (MergeCells(request).ok()) {
      ++done;
      small_since->erase(a);
      small_since->erase(b);
      ++i;  // b is gone: its right neighbour waits for the next pass
    }
  }
  return done;
}

absl::Status IndexImpl::RemoveRetiredCellDirs() {
  rocksdb::FileSystem& fs = *internal_.file_system;
  std::set<CellId> live;
  std::vector<std::string> dirs;
  {
    absl::MutexLock lock(&map_mu_);
    for (const CellRange& c : map_.cells()) live.insert(c.id);
    for (const auto& [host, dir] : inventory_.hosts) dirs.push_back(dir);
    if (dirs.empty()) dirs.push_back(options_.data_dir);
  }
  for (const std::string& dir : dirs) {
    const std::string cells = dir + "/cells";
    if (!PathExists(fs, cells)) continue;
    absl::StatusOr<std::vector<std::string>> names = ListDir(fs, cells);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      // Only what splits leave: a cell's directory the map does not name,
      // a child being made, a parent being restored for a child. Moved-aside
      // damage and restores are not touched.
      const size_t dot = name.find('.');
      const std::string digits = name.substr(0, dot);
      const std::string suffix = dot == std::string::npos ? "" : name.substr(dot);
      uint32_t id = 0;
      if (digits.size() < 5 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
      if (!absl::SimpleAtoi(digits, &id)) continue;
      const bool stale = (suffix.empty() && !live.count(id)) || suffix == ".split-staging" ||
                         suffix == ".merge-staging" || suffix.rfind(".parent-", 0) == 0;
      if (!stale) continue;
      if (absl::Status s = RemoveAll(fs, cells + "/" + name); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status IndexImpl::CollectRetiredCells() {
  std::set<CellId> live;
  std::map<CellId, std::vector<CellId>> children;  // retired parent -> live children
  std::string index_id;
  {
    absl::MutexLock lock(&map_mu_);
    // Ids are given out in order and never again: with as many cells as
    // ids, none was retired, and the store need not be listed.
    if (map_.next_cell_id() == map_.cells().size()) return absl::OkStatus();
    index_id = map_.index_id();
    for (const CellRange& c : map_.cells()) {
      live.insert(c.id);
      for (const CellParent& p : c.lineage.parents) children[p.id].push_back(c.id);
    }
  }
  absl::StatusOr<std::vector<std::string>> names = store_->List("cells/");
  if (!names.ok()) return names.status();
  std::set<CellId> stored;
  for (const std::string& name : *names) {
    // "cells/NNNNN/..."
    const size_t slash = name.find('/', 6);
    uint32_t id = 0;
    if (slash == std::string::npos || !absl::SimpleAtoi(name.substr(6, slash - 6), &id)) continue;
    stored.insert(id);
  }
  // A child falls back to its parents only when none of its own checkpoints
  // is good: keep them until it has as many good ones as a cell keeps (two
  // at least), and while it is not healthy (a recovery may be reading them).
  const size_t keep = static_cast<size_t>(std::max(2, options_.checkpoints_to_keep));
  for (CellId id : stored) {
    if (live.count(id)) continue;
    bool needed = false;
    for (CellId child : children[id]) {
      std::string condition;
      if (!cells_->Healthy(child, &condition)) {
        needed = true;
        break;
      }
      absl::StatusOr<size_t> good = CountRestorableCheckpoints(*store_, index_id, child);
      if (!good.ok()) return good.status();
      if (*good < keep) needed = true;
    }
    if (needed) continue;
    // Manifests first: a crash part way leaves no manifest naming a file
    // that is gone.
    absl::StatusOr<std::vector<std::string>> files = store_->List(CellStorePrefix(id));
    if (!files.ok()) return files.status();
    std::stable_partition(files->begin(), files->end(), [&](const std::string& f) {
      return f.rfind(CheckpointManifestPrefix(id), 0) == 0;
    });
    for (const std::string& f : *files) {
      if (absl::Status s = store_->Delete(f); !s.ok()) return s;
    }
    // The directories that held them, empty now.
    absl::StatusOr<std::string> local = store_->LocalDir(CellStorePrefix(id));
    if (!local.ok()) return local.status();
    if (absl::Status s = RemoveAll(*internal_.file_system, *local); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace cellindex
