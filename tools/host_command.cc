// `cellindex host`: one host process of a cluster coordinated through etcd
// (recovery/coord/cluster_coord.h has the keys).
//
// The process grants itself a lease and keeps it alive (LeaseKeeper),
// opens the shared store's index as a cluster member (Options::
// cluster_member: nothing served until adopted), serves it over gRPC, and
// registers under hosts/<name> with its address. Then, every
// kPassInterval until SIGTERM or SIGINT:
//   - it stands for controller (one host at a time, bound to its lease);
//     the controller assigns each cell whose assigned host is not live to
//     the live host with the fewest cells assigned;
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

#include <iostream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "recovery/coord/cluster_coord.h"
#include "recovery/coord/etcd_client.h"
#include "recovery/coord/lease_keeper.h"
#include "tools/command_util.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/rpc_service.h"

namespace cellindex::tools {
namespace {

constexpr absl::Duration kPassInterval = absl::Milliseconds(100);

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

  // The controller's pass: every cell with no live assigned host goes to
  // the live host with the fewest; then, if no cell is moving, one cell
  // moves from the host with the most to the one with the fewest when they
  // differ by two or more (a host joined).
  void Control(ClusterCoord& coord, const CellMap& map) {
    absl::StatusOr<std::map<std::string, std::string>> hosts = coord.Hosts();
    absl::StatusOr<std::map<uint32_t, std::string>> assigned = coord.Assignments();
    absl::StatusOr<std::map<uint32_t, CellOwner>> owners = coord.Owners();
    if (!hosts.ok() || !assigned.ok() || !owners.ok()) return;  // etcd away: the next pass
    std::map<std::string, size_t> load;
    for (const auto& [name, address] : *hosts) load[name] = 0;
    for (const auto& [cell, name] : *assigned) {
      if (load.count(name)) ++load[name];
    }
    for (const CellRange& c : map.cells()) {
      auto it = assigned->find(c.id);
      if (it != assigned->end() && load.count(it->second)) continue;
      if (load.empty()) {
        if (!said_no_hosts_) Say("unplaced", {{"cell", c.id}}, "no live host for the cells");
        said_no_hosts_ = true;
        return;
      }
      said_no_hosts_ = false;
      auto least = load.begin();
      for (auto l = load.begin(); l != load.end(); ++l) {
        if (l->second < least->second) least = l;
      }
      if (!coord.Assign(c.id, least->first, host_.name).ok()) return;  // no longer controller
      ++least->second;
      (*assigned)[c.id] = least->first;
      Say("assigned", {{"cell", c.id}, {"to", least->first}},
          absl::StrCat("assigned cell ", c.id, " to ", least->first));
    }
    // A move under way: a cell not (yet) owned where it is assigned.
    for (const auto& [cell, name] : *assigned) {
      auto owner = owners->find(cell);
      if (owner == owners->end() || owner->second.host != name) return;
    }
    if (load.size() < 2) return;
    auto most = load.begin(), fewest = load.begin();
    for (auto l = load.begin(); l != load.end(); ++l) {
      if (l->second > most->second) most = l;
      if (l->second < fewest->second) fewest = l;
    }
    if (most->second < fewest->second + 2) return;
    for (const auto& [cell, name] : *assigned) {
      if (name != most->first) continue;
      if (!coord.Assign(cell, fewest->first, host_.name).ok()) return;
      Say("moving", {{"cell", cell}, {"from", most->first}, {"to", fewest->first}},
          absl::StrCat("moving cell ", cell, " from ", most->first, " to ", fewest->first));
      return;
    }
  }

  // Releases the cells assigned elsewhere now, then claims and adopts the
  // cells assigned here.
  void Claim(ClusterCoord& coord, Index& index, int64_t lease) {
    absl::StatusOr<std::map<uint32_t, std::string>> assigned = coord.Assignments();
    if (!assigned.ok()) return;
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
    for (const auto& [cell, name] : *assigned) {
      if (name != host_.name || owned_.count(cell)) continue;
      absl::StatusOr<int64_t> epoch = coord.ClaimCell(cell, host_.name, lease);
      if (!epoch.ok()) continue;  // the last owner's key is still there
      if (absl::Status s = index.Adopt(cell, static_cast<uint64_t>(*epoch)); !s.ok()) {
        // The claim goes again, so that a later pass (here or elsewhere)
        // tries afresh.
        (void)index.Release(cell);
        (void)coord.ReleaseCell(cell, *epoch);
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
  void ReportServing(Index& index) {
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
        Say("cell-failed", {{"cell", c.id}, {"error", c.error}},
            absl::StrCat("cell ", c.id, " failed: ", c.error));
      }
      adopted_at_.erase(it);
    }
  }

  const std::map<uint32_t, int64_t>& owned() const { return owned_; }

 private:
  const GlobalFlags& flags_;
  const HostFlags& host_;
  std::map<uint32_t, int64_t> owned_;  // cell -> owner epoch
  std::map<uint32_t, absl::Time> adopted_at_;
  bool said_no_hosts_ = false;
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

  Options o;
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
  HostProcess process(flags, host);
  process.Say("serving", {{"address", (*server)->address()}, {"lease", lease->id()}},
              absl::StrCat("serving on ", (*server)->address()));
  const CellMap map = (*index)->cell_map();

  int sig = 0;
  for (;;) {
    const struct timespec wait = absl::ToTimespec(kPassInterval);
    sig = sigtimedwait(&stop, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (!lease->Valid()) continue;  // nothing new while it may have expired
    absl::StatusOr<std::string> controller = coord->Elect(host.name, lease->id());
    if (controller.ok() && *controller == host.name) process.Control(*coord, map);
    process.Claim(*coord, **index, lease->id());
    process.ReportServing(**index);
  }
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
