// `cellindex host`: one host process of a cluster coordinated through etcd
// (recovery/coord/cluster_coord.h has the keys).
//
// The process grants itself a lease and keeps it alive (LeaseKeeper),
// opens the shared store's index as a cluster member (Options::
// cluster_member: nothing served until adopted), serves it over gRPC, and
// registers under hosts/<name> with its address. Then, every
// kPassInterval until SIGTERM or SIGINT:
//   - it stands for controller (one host at a time, bound to its lease).
//     The controller publishes its cell map to etcd, then, from the hosts,
//     the pools (their minimums) and the draining marks in etcd:
//       1. assigns each cell whose assigned host is not live, or failed to
//          restore it (failed/<cell>/<host>), to the live
//          host with the fewest cells in that host's pool (in any pool when
//          its own has none left, saying so), never to a host being
//          drained, one where it failed, or one the cell would take past its pool's
//          max_cells_per_host or max_bytes_per_host; and says when a pool
//          has fewer live hosts than its minimum;
//       2. when no cell is moving, moves one cell off a host being drained
//          (`cellindex --cluster hosts remove --execute`), to its pool's
//          emptiest host;
//       3. else balances each pool: one cell from its fullest host to its
//          emptiest while they differ by two or more (a host joined);
//   - it reports the sizes of the cells it serves (bytes/<cell>), which
//     placement above and the capacity guard (`hosts remove`) weigh
//     against the pools' max_bytes_per_host;
//   - a cell that fails to restore here is given back: released, its
//     claim deleted, and marked failed/<cell>/<host>, so the controller
//     places it on a host where it has not failed (step 1);
//   - it claims each cell assigned to it (the claim succeeds once the last
//     owner's key is gone, at or after its lease expired), and adopts it
//     with the claim's revision as owner epoch: the cell is restored from
//     the store, and its journal is opened so that the old owner's late
//     appends are never read.
// Every request is refused once the lease may have expired
// (Options::may_acknowledge is LeaseKeeper::Valid). When etcd says the
// lease is gone, the process exits at once (kExitLeaseLost) without
// touching the store again: its cells are someone else's now.
// On SIGTERM it stops taking calls, closes the index (the journals sealed
// while the lease holds), releases its claims and revokes its lease, so
// that its cells move at once rather than after the lease's TTL.
//
// Output: one line per event ("serving on ...", "adopted cell ...",
// "assigned cell ...", "stopped"), JSON objects with --json.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "index/model/capacity.h"
#include "index/model/object_key.h"
#include "recovery/coord/cluster_coord.h"
#include "recovery/coord/etcd_client.h"
#include "recovery/coord/lease_keeper.h"
#include "tools/cluster_pools.h"
#include "tools/command_util.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/rpc_service.h"

namespace cellindex::tools {
namespace {

constexpr absl::Duration kPassInterval = absl::Milliseconds(100);
// How often a host looks at its cells' sizes, and the change (or 5% of the
// size) worth a write to etcd; a smaller change is written after
// kSizeRefresh.
constexpr absl::Duration kSizeInterval = absl::Seconds(2);
constexpr uint64_t kSizeSlack = 1 << 20;
constexpr absl::Duration kSizeRefresh = absl::Seconds(30);
// How long a split or merge request may wait for its cells' owner to run
// it, and before the controller asks for the same cell's split again.
constexpr absl::Duration kReshapeWait = absl::Seconds(60);

class HostProcess {
 public:
  HostProcess(const GlobalFlags& flags, const HostFlags& host) : flags_(flags), host_(host) {}

  // Says one event: a line, or a JSON object with --json.
  void Say(const std::string& event, Json fields, const std::string& text) const {
    if (flags_.json) {
      fields["event"] = event;
      fields["host"] = host_.name;
      std::cout << fields.dump() << std::endl;
    } else {
      std::cout << host_.name << ": " << text << std::endl;
    }
  }

  // The controller's pass (the file comment says what it does).
  void Control(ClusterCoord& coord, Index& index) {
    const CellMap map = index.cell_map();
    PublishMap(coord, map);
    // The store's map follows etcd's: saved again if another host's older
    // save overtook a newer one.
    if (absl::Now() - mirrored_at_ > kSizeInterval) {
      mirrored_at_ = absl::Now();
      (void)index.AdoptMap(map);
    }
    absl::StatusOr<std::map<std::string, std::string>> hosts = coord.Hosts();
    absl::StatusOr<std::map<uint32_t, std::string>> assigned = coord.Assignments();
    absl::StatusOr<std::map<uint32_t, CellOwner>> owners = coord.Owners();
    absl::StatusOr<std::set<std::string>> draining = coord.Draining();
    absl::StatusOr<Inventory> pools = ReadPools(coord);
    absl::StatusOr<std::map<uint32_t, uint64_t>> sizes = coord.CellBytes();
    absl::StatusOr<std::map<uint32_t, std::set<std::string>>> failed = coord.FailedCells();
    if (!hosts.ok() || !assigned.ok() || !owners.ok() || !draining.ok() || !pools.ok() ||
        !sizes.ok() || !failed.ok()) {
      return;  // etcd away: the next pass
    }
    auto failed_on = [&](uint32_t cell, const std::string& host) {
      auto it = failed->find(cell);
      return it != failed->end() && it->second.count(host) > 0;
    };
    auto size_of = [&](uint32_t cell) -> uint64_t {
      auto it = sizes->find(cell);
      return it == sizes->end() ? 0 : it->second;
    };
    // Where cells may go: live hosts not being drained, with the cells
    // assigned to each and their bytes.
    std::map<std::string, size_t> load;
    std::map<std::string, uint64_t> bytes;
    for (const auto& [name, address] : *hosts) {
      if (!draining->count(name)) load[name] = 0;
    }
    for (const auto& [cell, name] : *assigned) {
      if (!load.count(name)) continue;
      ++load[name];
      bytes[name] += size_of(cell);
    }
    // Whether `host` takes one more cell, `cell`: it did not fail there, and
    // it is not past its pool's max_cells_per_host or max_bytes_per_host.
    auto fits = [&](const std::string& host, uint32_t cell, bool limits) {
      if (failed_on(cell, host)) return false;
      if (!limits) return true;
      const uint64_t cell_bytes = size_of(cell);
      const Pool* own = pools->FindPool(pools->PoolOf(host));
      if (own == nullptr) return true;
      if (own->max_cells_per_host > 0 && load[host] >= own->max_cells_per_host) return false;
      return own->max_bytes_per_host == 0 || bytes[host] + cell_bytes <= own->max_bytes_per_host;
    };
    // The least loaded place in `pool` for `cell`, else anywhere (*outside
    // set); a host it does not fit takes nothing (with `limits`: its pool's
    // limits count too).
    auto place = [&](const std::string& pool, uint32_t cell, bool* outside, bool limits) {
      auto best = load.end(), any = load.end();
      for (auto l = load.begin(); l != load.end(); ++l) {
        const std::string host_pool = pools->PoolOf(l->first);
        if (!fits(l->first, cell, limits)) continue;
        if (any == load.end() || l->second < any->second) any = l;
        if (host_pool != pool) continue;
        if (best == load.end() || l->second < best->second) best = l;
      }
      *outside = best == load.end();
      return *outside ? any : best;
    };
    SayPoolMinimums(*pools, load);
    // 1. Cells with no live assigned host (a lost host's, or new), and
    // cells that failed to restore on their assigned host (it gave them
    // back): to another host.
    for (const CellRange& c : map.cells()) {
      auto it = assigned->find(c.id);
      const bool live = it != assigned->end() && hosts->count(it->second) > 0;
      const bool failed_there = live && failed_on(c.id, it->second);
      if (live && !failed_there) continue;
      const std::string pool = it != assigned->end() ? pools->PoolOf(it->second) : kDefaultPool;
      bool outside = false;
      auto to = place(pool, c.id, &outside, /*limits=*/true);
      // Serving it somewhere comes first: past the pools' limits when no
      // host has room (said), never where it failed.
      const bool over_limit = to == load.end();
      if (over_limit) to = place(pool, c.id, &outside, /*limits=*/false);
      if (to == load.end()) {
        if (unplaced_.insert(c.id).second) {
          Say("unplaced", {{"cell", c.id}, {"pool", pool}, {"bytes", size_of(c.id)}},
              absl::StrCat("no live host can take cell ", c.id,
                           ": there is none, or it failed on each"));
        }
        continue;
      }
      unplaced_.erase(c.id);
      // No longer controller, or the map changed: the next pass decides again.
      if (!coord.Assign(c.id, to->first, host_.name, map_revision_).ok()) return;
      if (failed_there && load.count(it->second)) {
        --load[it->second];
        bytes[it->second] -= size_of(c.id);
      }
      ++to->second;
      bytes[to->first] += size_of(c.id);
      (*assigned)[c.id] = to->first;
      Json fields = {{"cell", c.id}, {"to", to->first}, {"pool", pool}};
      if (outside) fields["outside_pool"] = true;
      if (failed_there) fields["failed_on"] = it->second;
      if (over_limit) fields["over_limit"] = true;
      Say("assigned", fields,
          absl::StrCat("assigned cell ", c.id, " to ", to->first,
                       outside ? absl::StrCat(" (pool ", pool, " has no host to take it)") : "",
                       over_limit ? " (past its pool's limits: no host had room)" : ""));
    }
    // A move under way (a cell of the map not yet owned where it is
    // assigned): one at a time. (An assignment of an id the map no longer
    // has is left alone: no host adopts it.)
    bool moving = false;
    for (const CellRange& c : map.cells()) {
      if (failed_on(c.id, (*assigned)[c.id])) continue;  // stuck, not moving (said above)
      auto owner = owners->find(c.id);
      moving |= owner == owners->end() || owner->second.host != (*assigned)[c.id];
    }
    // A split or merge asked for: nothing else moves until it has ended
    // (but the move that brings a merge's cells together).
    if (ControlReshape(coord, map, *assigned, *owners, *sizes, moving)) return;
    if (moving) return;
    // 2. A drain: one cell off a host being drained.
    for (const CellRange& c : map.cells()) {
      const std::string& name = (*assigned)[c.id];
      if (!draining->count(name) || !hosts->count(name)) continue;
      bool outside = false;
      auto to = place(pools->PoolOf(name), c.id, &outside, /*limits=*/true);
      if (to == load.end()) continue;  // nowhere to go (the guard refuses such a removal)
      Move(coord, c.id, name, to->first,
           outside ? absl::StrCat("drain, outside pool ", pools->PoolOf(name)) : "drain");
      return;
    }
    // 3. Balance each pool: a cell from its fullest host to its emptiest when
    // they differ by two or more (a host joined).
    std::map<std::string, std::pair<std::string, std::string>> ends;  // pool -> most, fewest
    for (const auto& [name, n] : load) {
      auto [it, fresh] = ends.try_emplace(pools->PoolOf(name), name, name);
      if (n > load[it->second.first]) it->second.first = name;
      if (n < load[it->second.second]) it->second.second = name;
    }
    for (const auto& [pool, most_fewest] : ends) {
      const auto& [most, fewest] = most_fewest;
      if (load[most] < load[fewest] + 2) continue;
      for (const CellRange& c : map.cells()) {
        if ((*assigned)[c.id] != most || !fits(fewest, c.id, /*limits=*/true)) continue;
        Move(coord, c.id, most, fewest, "balance");
        return;
      }
    }
  }

  // The controller's part in splits and merges (reshape in etcd). With a
  // request under way: drops it when the map changed under it, or when it
  // has waited kReshapeWait without being run; brings a merge's two cells
  // to one host (the right one to the left one's); says true (nothing else
  // moves meanwhile). With none, and no move under way: asks for the split
  // of the largest cell past --split-bytes, if any (a cell asked for is not
  // asked for again within kReshapeWait). False when there is no request.
  bool ControlReshape(ClusterCoord& coord, const CellMap& map,
                      std::map<uint32_t, std::string>& assigned,
                      const std::map<uint32_t, CellOwner>& owners,
                      const std::map<uint32_t, uint64_t>& sizes, bool moving) {
    absl::StatusOr<std::optional<ReshapeRequest>> pending = coord.ReadReshape();
    if (!pending.ok()) return true;  // etcd away: nothing moves this pass
    if (pending->has_value()) {
      const ReshapeRequest& r = **pending;
      // Only the request under way is remembered.
      for (auto it = reshape_seen_.begin(); it != reshape_seen_.end();) {
        it = it->first == r.revision ? std::next(it) : reshape_seen_.erase(it);
      }
      auto [since, fresh] = reshape_seen_.try_emplace(r.revision, absl::Now());
      std::string drop;
      if (!r.error.empty()) {
        drop = r.error;
      } else if (r.map_revision < etcd_map_revision_) {
        // (Read after the map this pass: a later request may be newer.)
        drop = "the cell map changed under it";
      } else if (absl::Now() - since->second > kReshapeWait) {
        // Never while a host runs it (its lease holds).
        absl::StatusOr<std::string> runner = coord.ReshapeRunner(r.revision);
        if (runner.ok() && runner->empty()) {
          drop = absl::StrCat("its cells' owner did not run it within ",
                              absl::FormatDuration(kReshapeWait));
        }
      }
      for (uint32_t cell : r.cells) {
        if (drop.empty() && !map.IndexOf(cell)) drop = absl::StrCat("no cell ", cell, " in the map");
      }
      if (!drop.empty()) {
        // Not asked for again at once.
        if (r.op == "split" && r.cells.size() == 1) split_asked_[r.cells[0]] = absl::Now();
        if (r.op == "merge" && r.cells.size() == 2) {
          merge_asked_[{r.cells[0], r.cells[1]}] = absl::Now();
        }
        if (coord.FinishReshape(r.revision, Json({{"request", r.revision},
                                                  {"outcome", "failed"},
                                                  {"error", drop}})
                                                .dump())
                .ok()) {
          Say("reshape-dropped", {{"request", r.revision}, {"op", r.op}, {"error", drop}},
              absl::StrCat("dropped the ", r.op, " request ", r.revision, ": ", drop));
        }
        return true;
      }
      if (r.op == "merge") {
        const std::string& to = assigned[r.cells[0]];
        if (!to.empty() && assigned[r.cells[1]] != to) {
          const std::string from = assigned[r.cells[1]];
          Move(coord, r.cells[1], from, to, absl::StrCat("merge with cell ", r.cells[0]));
          assigned[r.cells[1]] = to;
        }
      }
      return true;
    }
    if (moving || map_revision_ == 0) return false;
    if (RequestMerge(coord, map, owners, sizes)) return true;
    if (host_.split_bytes == 0) return false;
    std::optional<uint32_t> largest;
    for (const auto& [cell, bytes] : sizes) {
      if (bytes < host_.split_bytes || !map.IndexOf(cell)) continue;
      auto owner = owners.find(cell);
      if (owner == owners.end()) continue;  // not serving: nothing to split now
      auto asked = split_asked_.find(cell);
      if (asked != split_asked_.end() && absl::Now() - asked->second < kReshapeWait) continue;
      if (!largest || bytes > sizes.at(*largest)) largest = cell;
    }
    if (!largest) return false;
    ReshapeRequest r;
    r.op = "split";
    r.cells = {*largest};
    r.map_revision = map_revision_;
    r.by = "controller";
    r.reason = absl::StrCat(sizes.at(*largest), " bytes, --split-bytes ", host_.split_bytes);
    split_asked_[*largest] = absl::Now();
    absl::StatusOr<int64_t> asked = coord.RequestReshape(r);
    if (asked.ok()) {
      Say("split-requested", {{"cell", *largest}, {"request", *asked}, {"reason", r.reason}},
          absl::StrCat("asked for the split of cell ", *largest, " (", r.reason, ")"));
    }
    return asked.ok();
  }

  // With --merge-bytes: asks for the merge of the first two neighbours
  // that are both owned and reported, and together smaller than it (a pair
  // asked for is not asked for again within kReshapeWait). Whether it did.
  bool RequestMerge(ClusterCoord& coord, const CellMap& map,
                    const std::map<uint32_t, CellOwner>& owners,
                    const std::map<uint32_t, uint64_t>& sizes) {
    if (host_.merge_bytes == 0) return false;
    for (size_t i = 0; i + 1 < map.cells().size(); ++i) {
      const uint32_t left = map.cells()[i].id, right = map.cells()[i + 1].id;
      auto l = sizes.find(left), r = sizes.find(right);
      if (l == sizes.end() || r == sizes.end() || !owners.count(left) || !owners.count(right)) {
        continue;
      }
      if (l->second + r->second >= host_.merge_bytes) continue;
      auto asked = merge_asked_.find({left, right});
      if (asked != merge_asked_.end() && absl::Now() - asked->second < kReshapeWait) continue;
      merge_asked_[{left, right}] = absl::Now();
      ReshapeRequest req;
      req.op = "merge";
      req.cells = {left, right};
      req.map_revision = map_revision_;
      req.by = "controller";
      req.reason = absl::StrCat(l->second, " + ", r->second, " bytes, --merge-bytes ",
                                host_.merge_bytes);
      absl::StatusOr<int64_t> done = coord.RequestReshape(req);
      if (!done.ok()) return false;
      Say("merge-requested", {{"cells", req.cells}, {"request", *done}, {"reason", req.reason}},
          absl::StrCat("asked for the merge of cells ", left, " and ", right, " (", req.reason,
                       ")"));
      return true;
    }
    return false;
  }

  // Follows the map in etcd: a newer map of this index (a split or merge
  // another host committed) is adopted, so that its new cells can be
  // claimed here and its retired ones are never served. Remembers the
  // revision of the map the index follows (map_revision_).
  void SyncMap(ClusterCoord& coord, Index& index) {
    absl::StatusOr<Versioned> seen = coord.ReadMap();
    if (!seen.ok()) return;  // etcd away: as last pass
    etcd_map_revision_ = seen->revision;
    auto not_ours = [&] {
      // None yet, or one this index does not follow (another index's, an
      // older one): the controller publishes its own.
      map_revision_ = 0;
      follows_etcd_map_ = true;
      published_map_ = false;  // the controller publishes again
    };
    if (seen->revision == 0) return not_ours();
    // A split or merge running here changes the map itself.
    if (reshaping_ != nullptr) {
      // Once its commit is the index's map, the controller decides on it
      // (while the children open and are checkpointed).
      const int64_t committed = reshaping_->committed.load();
      if (committed != 0 && index.cell_map().epoch() >= reshaping_->next_epoch) {
        map_revision_ = committed;
      }
      follows_etcd_map_ = seen->revision == map_revision_;
      return;
    }
    follows_etcd_map_ = seen->revision == map_revision_;
    if (follows_etcd_map_) return;
    absl::StatusOr<CellMap> theirs = CellMap::Decode(seen->value);
    if (!theirs.ok()) return not_ours();
    const CellMap ours = index.cell_map();
    if (theirs->index_id() != ours.index_id() || theirs->epoch() < ours.epoch()) {
      return not_ours();
    }
    if (theirs->epoch() > ours.epoch()) {
      if (absl::Status s = index.AdoptMap(*theirs); !s.ok()) {
        Say("map-refused", {{"epoch", theirs->epoch()}, {"error", s.message()}},
            absl::StrCat("cannot follow the cell map of epoch ", theirs->epoch(), ": ",
                         s.message()));
        follows_etcd_map_ = false;
        return;
      }
      Say("map", {{"epoch", theirs->epoch()}, {"cells", theirs->cells().size()}},
          absl::StrCat("follows the cell map of epoch ", theirs->epoch(), " (",
                       theirs->cells().size(), " cells)"));
    }
    map_revision_ = seen->revision;
    follows_etcd_map_ = true;
  }

  // Whether the controller may decide on the index's map: it is etcd's as
  // read this pass (or etcd holds none of this index's to follow).
  bool FollowsEtcdMap() const { return follows_etcd_map_; }

  // Runs the split or merge asked for (reshape in etcd) when this host owns
  // all its cells, they serve with every file on this host (not reading
  // from the store after an in-place restore), and the index follows the
  // map it was planned on. It marks itself as its runner (the controller
  // then leaves it be) and runs it on a thread of its own, so that the
  // passes go on (a lost host's cells are placed and claimed meanwhile);
  // a later pass takes the outcome: the children are this host's, or the
  // request is ended saying why not.
  void RunReshape(ClusterCoord& coord, Index& index, int64_t lease) {
    if (reshaping_ != nullptr) {
      if (!reshaping_->done.load()) return;
      reshaping_->thread.join();
      EndReshape(coord);
      reshaping_.reset();
      return;
    }
    absl::StatusOr<std::optional<ReshapeRequest>> pending = coord.ReadReshape();
    if (!pending.ok() || !pending->has_value() || !(*pending)->error.empty()) return;
    const ReshapeRequest r = **pending;
    if (r.map_revision != map_revision_) return;
    std::map<uint32_t, CellStats> stats;
    for (CellStats& c : index.Stats().cells) stats[c.id] = std::move(c);
    for (uint32_t cell : r.cells) {
      if (!owned_.count(cell) || adopted_at_.count(cell)) return;  // not here, or not serving yet
      auto st = stats.find(cell);
      if (st == stats.end() || st->second.state != CellPhase::kServing ||
          st->second.store_files > 0) {
        return;
      }
    }
    if (!coord.RunReshape(r.revision, host_.name, lease).ok()) return;
    auto job = std::make_unique<Reshaping>();
    job->request = r;
    job->before = index.cell_map();
    for (uint32_t cell : r.cells) job->parents[cell] = owned_.at(cell);
    job->start = absl::Now();
    reshaping_ = std::move(job);
    Reshaping* running = reshaping_.get();
    running->thread = std::thread([running, &index] {
      Execute(*running, index);
      running->done.store(true);
    });
  }

  // Waits for a split or merge under way (stopping).
  void StopReshape(ClusterCoord& coord) {
    if (reshaping_ == nullptr) return;
    reshaping_->thread.join();
    EndReshape(coord);  // committed children are released with the rest
    reshaping_.reset();
  }

  // Options::commit_map: commits the split or merge RunReshape runs, in one
  // etcd transaction (ClusterCoord::CommitReshape). When its outcome is
  // unknown, asks until it knows (ResolveReshape); when it cannot tell
  // within a lease's time, the process ends: the next owners' restores
  // settle it. Runs on the split's thread.
  absl::StatusOr<uint64_t> CommitReshapeFor(ClusterCoord& coord, const CellMap& next,
                                           int64_t lease) {
    Reshaping* job = reshaping_.get();
    if (job == nullptr || job->done.load()) {
      return absl::FailedPreconditionError("no split or merge was asked for");
    }
    const ReshapeRequest& r = job->request;
    std::vector<uint32_t> children;
    for (const CellRange& c : next.cells()) {
      if (!job->before.IndexOf(c.id)) children.push_back(c.id);
    }
    if (children.empty()) return absl::InternalError("the new map names no new cell");
    const std::string result = Json({{"request", r.revision},
                                     {"outcome", "done"},
                                     {"op", r.op},
                                     {"parents", r.cells},
                                     {"children", children},
                                     {"epoch", next.epoch()},
                                     {"host", host_.name}})
                                   .dump();
    absl::StatusOr<int64_t> epoch =
        coord.CommitReshape(r, next.Encode(), job->parents, children, host_.name, lease, result);
    const absl::Time deadline = absl::Now() + absl::Seconds(host_.lease_ttl);
    // Only Aborted (the transaction ran, a comparison failed) says it did
    // not commit; any other error may follow a commit: resolved.
    while (!epoch.ok() && !absl::IsAborted(epoch.status())) {
      if (absl::Now() > deadline) {
        const std::string line = absl::StrCat(
            "cellindex: host ", host_.name, ": cannot tell whether the ", r.op,
            " committed; exiting without closing\n");
        (void)!write(STDERR_FILENO, line.data(), line.size());
        _exit(kExitLeaseLost);
      }
      absl::SleepFor(absl::Milliseconds(100));  // etcd away: ask again
      absl::StatusOr<int64_t> known = coord.ResolveReshape(r, children[0], host_.name);
      if (!known.ok()) continue;
      epoch = *known > 0 ? absl::StatusOr<int64_t>(*known)
                         : absl::AbortedError("the split or merge did not commit");
    }
    if (!epoch.ok()) return epoch.status();
    job->children = children;
    job->children_epoch = *epoch;
    job->next_epoch = next.epoch();
    job->committed.store(*epoch);
    return static_cast<uint64_t>(*epoch);
  }

  // The controller publishes the map it serves to etcd (map), where the
  // clients route by it and the tools plan with it, once per term: when
  // etcd has none, or an older one (a lower epoch, or unreadable), or
  // another index's (another index id: a store that served this cluster
  // name before).
  void PublishMap(ClusterCoord& coord, const CellMap& map) {
    if (published_map_) return;
    absl::StatusOr<Versioned> seen = coord.ReadMap();
    if (!seen.ok()) return;
    bool foreign = false;
    if (seen->revision != 0) {
      absl::StatusOr<CellMap> theirs = CellMap::Decode(seen->value);
      if (theirs.ok() && theirs->index_id() == map.index_id() &&
          theirs->epoch() >= map.epoch()) {
        published_map_ = true;  // as new as ours: left as it is
        return;
      }
      foreign = !theirs.ok() || theirs->index_id() != map.index_id();
    }
    // Another index's cell sizes say nothing of this one's.
    if (foreign && !coord.ClearCellBytes().ok()) return;
    if (coord.WriteMap(map.Encode(), seen->revision).ok()) {
      published_map_ = true;
      Say("published-map", {{"epoch", map.epoch()}, {"cells", map.cells().size()}},
          absl::StrCat("published the cell map (epoch ", map.epoch(), ") to etcd"));
    }
  }

  // The pools in etcd (none: every host in "default"). Pools that do not
  // decode are said once and read as none: a lost host's cells are placed
  // all the same.
  absl::StatusOr<Inventory> ReadPools(ClusterCoord& coord) {
    absl::StatusOr<std::pair<Inventory, int64_t>> pools = ReadClusterPools(coord);
    const bool bad = absl::IsDataLoss(pools.status());
    if (bad && !said_bad_pools_) {
      Say("bad-pools", {{"error", pools.status().message()}},
          absl::StrCat("cannot read the pools in etcd (placing as if there were none): ",
                       pools.status().message()));
    }
    said_bad_pools_ = bad;
    if (bad) return Inventory();
    if (!pools.ok()) return pools.status();
    return std::move(pools->first);
  }

  // Says when a pool has fewer live hosts (not being drained) than its
  // minimum, and when it has them again.
  void SayPoolMinimums(const Inventory& pools, const std::map<std::string, size_t>& load) {
    for (const Pool& p : pools.pools) {
      size_t live = 0;
      for (const auto& [name, n] : load) live += pools.PoolOf(name) == p.name;
      const bool below = live < p.min_hosts;
      if (below == (below_minimum_.count(p.name) > 0)) continue;
      if (below) {
        below_minimum_.insert(p.name);
        Say("below-minimum", {{"pool", p.name}, {"hosts", live}, {"min_hosts", p.min_hosts}},
            absl::StrCat("pool ", p.name, " has ", live, " live hosts, below its minimum of ",
                         p.min_hosts));
      } else {
        below_minimum_.erase(p.name);
        Say("at-minimum", {{"pool", p.name}, {"hosts", live}, {"min_hosts", p.min_hosts}},
            absl::StrCat("pool ", p.name, " has ", live, " live hosts again (minimum ",
                         p.min_hosts, ")"));
      }
    }
  }

  void Move(ClusterCoord& coord, uint32_t cell, const std::string& from, const std::string& to,
            const std::string& why) {
    if (!coord.Assign(cell, to, host_.name, map_revision_).ok()) return;
    Say("moving", {{"cell", cell}, {"from", from}, {"to", to}, {"reason", why}},
        absl::StrCat("moving cell ", cell, " from ", from, " to ", to, " (", why, ")"));
  }

  // Releases the cells assigned elsewhere now, then claims and adopts the
  // cells assigned here.
  void Claim(ClusterCoord& coord, Index& index, int64_t lease) {
    absl::StatusOr<std::map<uint32_t, std::string>> assigned = coord.Assignments();
    if (!assigned.ok()) return;
    // A cell that failed here and is assigned elsewhere now may be tried
    // here again, when it comes back.
    for (auto it = failed_here_.begin(); it != failed_here_.end();) {
      auto a = assigned->find(*it);
      it = a != assigned->end() && a->second == host_.name ? std::next(it) : failed_here_.erase(it);
    }
    for (auto it = owned_.begin(); it != owned_.end();) {
      auto a = assigned->find(it->first);
      if (a == assigned->end() || a->second == host_.name) {
        ++it;
        continue;
      }
      const uint32_t cell = it->first;
      (void)index.Release(cell);  // closed, its journal sealed, while the lease holds
      (void)coord.ReleaseCell(cell, it->second);
      adopted_at_.erase(cell);
      it = owned_.erase(it);
      Say("released", {{"cell", cell}, {"to", a->second}},
          absl::StrCat("released cell ", cell, " to ", a->second));
    }
    const CellMap map = index.cell_map();
    for (const auto& [cell, name] : *assigned) {
      if (name != host_.name || owned_.count(cell) || failed_here_.count(cell)) continue;
      // A cell of a newer map than this host follows yet: after SyncMap.
      if (!map.IndexOf(cell)) continue;
      absl::StatusOr<int64_t> epoch = coord.ClaimCell(cell, host_.name, lease);
      if (!epoch.ok()) continue;  // the last owner's key is still there
      if (absl::Status s = index.Adopt(cell, static_cast<uint64_t>(*epoch)); !s.ok()) {
        // The claim goes again, so that a later pass (here or elsewhere)
        // tries afresh.
        (void)index.Release(cell);
        (void)coord.ReleaseCell(cell, *epoch);
        (void)coord.MarkCellFailed(cell, host_.name, lease);
        failed_here_.insert(cell);
        Say("adopt-failed", {{"cell", cell}, {"error", s.message()}},
            absl::StrCat("cannot adopt cell ", cell, ": ", s.message()));
        continue;
      }
      owned_[cell] = *epoch;
      adopted_at_[cell] = absl::Now();
      Say("adopted", {{"cell", cell}, {"owner_epoch", *epoch}},
          absl::StrCat("adopted cell ", cell, " (owner epoch ", *epoch, ")"));
    }
  }

  // Says which adopted cells serve now.
  // Says when an adopted cell serves, or failed to restore: then it is
  // given back (released, its claim deleted) and marked as failed here
  // (failed/<cell>/<host>, bound to this host's lease: until this process
  // ends, the controller gives it the cell no more), so the controller
  // places it on another host.
  void ReportServing(ClusterCoord& coord, Index& index, int64_t lease) {
    if (adopted_at_.empty()) return;
    for (const CellStats& c : index.Stats().cells) {
      auto it = adopted_at_.find(c.id);
      if (it == adopted_at_.end()) continue;
      if (c.state != CellPhase::kServing && c.state != CellPhase::kFailed) continue;
      const double ms = absl::ToDoubleMilliseconds(absl::Now() - it->second);
      if (c.state == CellPhase::kServing) {
        Say("serving-cell", {{"cell", c.id}, {"after_ms", ms}, {"keys", c.keys}},
            absl::StrCat("cell ", c.id, " serves (", c.keys, " keys, ", ms, " ms after adoption)"));
      } else {
        // Marked before the claim goes: the controller never sees the cell
        // free here without the mark.
        (void)coord.MarkCellFailed(c.id, host_.name, lease);
        (void)index.Release(c.id);
        if (auto owned = owned_.find(c.id); owned != owned_.end()) {
          (void)coord.ReleaseCell(c.id, owned->second);
          owned_.erase(owned);
        }
        failed_here_.insert(c.id);
        Say("cell-failed", {{"cell", c.id}, {"error", c.error}, {"released", true}},
            absl::StrCat("cell ", c.id, " failed: ", c.error, "; given back"));
      }
      adopted_at_.erase(it);
    }
  }

  // Reports the size of each cell it serves to etcd (bytes/<cell>), looked
  // at every kSizeInterval: when it has changed by more than kSizeSlack (or
  // 5%) since the last report, or at all after kSizeRefresh.
  void ReportSizes(ClusterCoord& coord, Index& index) {
    if (owned_.empty() || absl::Now() - sizes_at_ < kSizeInterval) return;
    sizes_at_ = absl::Now();
    for (const CellStats& c : index.Stats().cells) {
      auto owner = owned_.find(c.id);
      if (owner == owned_.end() || c.state != CellPhase::kServing) continue;
      const uint64_t bytes = c.sst_bytes + c.memtable_bytes;
      auto last = reported_bytes_.find(c.id);
      if (last != reported_bytes_.end() && last->second.epoch == owner->second) {
        const uint64_t was = last->second.bytes;
        const uint64_t diff = bytes > was ? bytes - was : was - bytes;
        if (diff == 0) continue;
        if (diff <= std::max<uint64_t>(kSizeSlack, was / 20) &&
            sizes_at_ - last->second.at < kSizeRefresh) {
          continue;
        }
      }
      if (coord.ReportCellBytes(c.id, owner->second, bytes).ok()) {
        reported_bytes_[c.id] = {owner->second, bytes, sizes_at_};
      }
    }
  }

  const std::map<uint32_t, int64_t>& owned() const { return owned_; }

 private:
  // A split or merge run on its own thread (RunReshape).
  struct Reshaping {
    ReshapeRequest request;
    CellMap before;                       // the map it was planned on
    std::map<uint32_t, int64_t> parents;  // cell -> owner epoch
    absl::Time start;
    std::thread thread;
    // Set on the thread (CommitReshapeFor: once committed), read once done.
    std::vector<uint32_t> children;
    int64_t children_epoch = 0;
    uint64_t next_epoch = 0;  // the committed map's epoch
    absl::Status status;
    Json fields;
    // The commit's revision once committed (read by the pass thread).
    std::atomic<int64_t> committed{0};
    std::atomic<bool> done{false};
  };

  // The split or merge itself (on its thread).
  static void Execute(Reshaping& job, Index& index) {
    const ReshapeRequest& r = job.request;
    job.fields = {{"request", r.revision}, {"op", r.op}, {"cells", r.cells}};
    if (r.op == "split") {
      SplitRequest request;
      request.cell = r.cells[0];
      request.user = r.by;
      request.arguments = absl::StrCat("request ", r.revision, ": ", r.reason);
      if (!r.at.empty()) {
        absl::StatusOr<ObjectKey> at = DecodeKey(r.at);
        if (!at.ok()) {
          job.status = at.status();
          return;
        }
        request.at = *at;
      }
      absl::StatusOr<SplitReport> report = index.SplitCell(request);
      job.status = report.status();
      if (report.ok()) {
        job.fields["at"] = report->at;
        job.fields["parent_seq"] = report->parent_seq;
        job.fields["held_ms"] = absl::ToDoubleMilliseconds(report->held);
      }
      return;
    }
    MergeRequest request;
    request.left = r.cells[0];
    request.right = r.cells[1];
    request.user = r.by;
    request.arguments = absl::StrCat("request ", r.revision, ": ", r.reason);
    absl::StatusOr<MergeReport> report = index.MergeCells(request);
    job.status = report.status();
    if (report.ok()) job.fields["held_ms"] = absl::ToDoubleMilliseconds(report->held);
  }

  // Takes a finished split's or merge's outcome (on the pass thread).
  void EndReshape(ClusterCoord& coord) {
    Reshaping& job = *reshaping_;
    const ReshapeRequest& r = job.request;
    Json& fields = job.fields;
    if (job.children_epoch != 0) {
      // Committed: the children are this host's, under the commit's
      // revision, whether or not they opened (one that failed is given
      // back as any cell that fails to restore: ReportServing).
      for (uint32_t cell : r.cells) {
        owned_.erase(cell);
        reported_bytes_.erase(cell);
      }
      for (uint32_t cell : job.children) {
        owned_[cell] = job.children_epoch;
        adopted_at_[cell] = job.start;
      }
      map_revision_ = job.children_epoch;
      fields["children"] = job.children;
      fields["owner_epoch"] = job.children_epoch;
      fields["ms"] = absl::ToDoubleMilliseconds(absl::Now() - job.start);
      if (!job.status.ok()) fields["error"] = job.status.message();
      Say(r.op == "split" ? "split" : "merged", fields,
          absl::StrCat(r.op == "split" ? "split cell " : "merged cells ",
                       absl::StrJoin(r.cells, ","), " into ", absl::StrJoin(job.children, ","),
                       " (owner epoch ", job.children_epoch, ")"));
      return;
    }
    fields["error"] = job.status.message();
    // The parents serve again, or fail and are given back (ReportServing).
    for (uint32_t cell : r.cells) {
      if (owned_.count(cell)) adopted_at_[cell] = absl::Now();
    }
    // Ended, so that the controller may ask again (a few tries: etcd may
    // be away for a moment; else the controller drops it once its runner
    // mark no longer matches).
    const std::string result = Json({{"request", r.revision},
                                     {"outcome", "failed"},
                                     {"error", job.status.message()}})
                                   .dump();
    for (int tries = 0; tries < 10; ++tries) {
      absl::Status ended = coord.FinishReshape(r.revision, result);
      if (ended.ok() || absl::IsFailedPrecondition(ended)) break;
      absl::SleepFor(kPassInterval);  // etcd away: again
    }
    Say("reshape-failed", fields,
        absl::StrCat("the ", r.op, " of ", absl::StrJoin(r.cells, ","), " failed: ",
                     job.status.message()));
  }

  const GlobalFlags& flags_;
  const HostFlags& host_;
  std::map<uint32_t, int64_t> owned_;  // cell -> owner epoch
  std::map<uint32_t, absl::Time> adopted_at_;
  std::set<uint32_t> failed_here_;  // failed to restore here; not claimed again while assigned here
  // cell -> what was last reported, and when.
  struct Reported {
    int64_t epoch = 0;  // the owner epoch it was reported under
    uint64_t bytes = 0;
    absl::Time at;
  };
  std::map<uint32_t, Reported> reported_bytes_;
  absl::Time sizes_at_ = absl::InfinitePast();
  absl::Time mirrored_at_ = absl::InfinitePast();
  std::set<uint32_t> unplaced_;  // cells said to be unplaced
  bool said_bad_pools_ = false;
  bool published_map_ = false;
  std::set<std::string> below_minimum_;  // pools said to be below their minimum
  // The revision of etcd's map the index follows (0: none yet).
  int64_t map_revision_ = 0;
  // The revision of etcd's map as last read, and whether the index follows
  // it (SyncMap).
  int64_t etcd_map_revision_ = 0;
  bool follows_etcd_map_ = false;
  // The split or merge running here, if any.
  std::unique_ptr<Reshaping> reshaping_;
  // The controller's: when it first saw each request, and when it asked for
  // each cell's split.
  std::map<int64_t, absl::Time> reshape_seen_;
  std::map<uint32_t, absl::Time> split_asked_;
  std::map<std::pair<uint32_t, uint32_t>, absl::Time> merge_asked_;
};

}  // namespace

int RunHost(const GlobalFlags& flags, const HostFlags& host) {
  // Bad input is refused before anything starts.
  if (absl::Status s = ValidateClusterName("host name", host.name); !s.ok()) {
    return ReportError(s);
  }
  if (absl::Status s = ValidateClusterName("cluster name", host.cluster); !s.ok()) {
    return ReportError(s);
  }
  if (absl::Status s = ValidateListenAddress(host.listen); !s.ok()) return ReportError(s);
  // Cells merged must not reach the split size at once (nor split ones
  // fall under the merge size): as Options::merge_keys against split_keys.
  if (host.split_bytes > 0 && host.merge_bytes > host.split_bytes / 4) {
    return ReportError(absl::InvalidArgumentError(absl::StrCat(
        "--merge-bytes ", host.merge_bytes, " is more than a quarter of --split-bytes ",
        host.split_bytes, ": merged cells would split again")));
  }
  if (flags.store_dir.empty()) {
    return ReportError(absl::InvalidArgumentError(
        "--store is required: the durable store every host shares"));
  }
  absl::StatusOr<std::vector<std::string>> endpoints = EtcdClient::ParseEndpoints(host.etcd);
  if (!endpoints.ok()) return ReportError(endpoints.status());
  if (absl::Status s = CheckDirectoryFlags(flags); !s.ok()) return ReportError(s);

  const sigset_t stop = BlockStopSignals();

  EtcdClient::Options eo;
  eo.endpoints = *endpoints;
  eo.timeout = absl::Seconds(host.lease_ttl) / 4;
  absl::StatusOr<std::unique_ptr<EtcdClient>> etcd = EtcdClient::Create(eo);
  if (!etcd.ok()) return ReportError(etcd.status());
  absl::StatusOr<ClusterCoord> coord = ClusterCoord::Create(**etcd, host.cluster);
  if (!coord.ok()) return ReportError(coord.status());

  LeaseKeeper::Options lo;
  lo.ttl = absl::Seconds(host.lease_ttl);
  lo.on_lost = [name = host.name] {
    // Another host may own the cells now: not one more byte to the store.
    const std::string line = absl::StrCat("cellindex: host ", name,
                                          ": its lease is gone; exiting without closing\n");
    (void)!write(STDERR_FILENO, line.data(), line.size());
    _exit(kExitLeaseLost);
  };
  absl::StatusOr<std::unique_ptr<LeaseKeeper>> keeper = LeaseKeeper::Start(**etcd, lo);
  if (!keeper.ok()) return ReportError(keeper.status());
  LeaseKeeper* lease = keeper->get();

  HostProcess process(flags, host);
  Options o;
  o.commit_map = [&process, &coord, lease](const CellMap& next) {
    return process.CommitReshapeFor(*coord, next, lease->id());
  };
  o.data_dir = flags.data_dir;
  o.store_dir = flags.store_dir;
  o.cluster_member = true;
  o.may_acknowledge = [lease] { return lease->Valid(); };
  o.wait_for_recovery = false;
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(o);
  if (!index.ok()) return ReportError(index.status());
  absl::StatusOr<std::unique_ptr<RpcServer>> server = RpcServer::Start(index->get(), host.listen);
  if (!server.ok()) return ReportError(server.status());
  if (absl::Status s = coord->RegisterHost(host.name, (*server)->address(), lease->id());
      !s.ok()) {
    return ReportError(s);
  }
  process.Say("serving", {{"address", (*server)->address()}, {"lease", lease->id()}},
              absl::StrCat("serving on ", (*server)->address()));

  int sig = 0;
  for (;;) {
    const struct timespec wait = absl::ToTimespec(kPassInterval);
    sig = sigtimedwait(&stop, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (!lease->Valid()) continue;  // nothing new while it may have expired
    process.SyncMap(*coord, **index);
    absl::StatusOr<std::string> controller = coord->Elect(host.name, lease->id());
    // The controller decides on the newest map only (a split or merge
    // committed meanwhile is followed first).
    if (controller.ok() && *controller == host.name && process.FollowsEtcdMap()) {
      process.Control(*coord, **index);
    }
    process.Claim(*coord, **index, lease->id());
    process.RunReshape(*coord, **index, lease->id());
    process.ReportServing(*coord, **index, lease->id());
    process.ReportSizes(*coord, **index);
  }
  process.StopReshape(*coord);  // its children, if it committed, close with the index
  (*server)->Shutdown(absl::Seconds(5));
  server->reset();
  if (!lease->Valid()) {
    // Closing would seal journals another owner may have taken.
    std::cerr << "cellindex: host " << host.name << ": the lease may have expired; exiting "
              << "without closing" << std::endl;
    _exit(kExitLeaseLost);
  }
  index->reset();
  for (const auto& [cell, epoch] : process.owned()) (void)coord->ReleaseCell(cell, epoch);
  (void)lease->Revoke();
  process.Say("stopped", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}},
              absl::StrCat("stopped (", sig == SIGTERM ? "SIGTERM" : "SIGINT", ")"));
  return kExitOk;
}

}  // namespace cellindex::tools
