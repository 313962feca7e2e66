// `cellindex --cluster pools | pools set | hosts remove | cells | hosts |
// split | merge`:
// capacity and health of a cluster of `cellindex host` processes, through
// etcd (tools/commands.h).
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "index/model/capacity.h"
#include "index/model/cell_map.h"
#include "index/model/object_key.h"
#include "recovery/capacity_guard.h"
#include "recovery/coord/cluster_coord.h"
#include "recovery/coord/etcd_client.h"
#include "tools/capacity_print.h"
#include "tools/cluster_pools.h"
#include "tools/command_util.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/progress.h"

namespace cellindex::tools {
namespace {

// A removal step waits this long for the controller, plus kStepPerCell for
// each cell it moves, before it says it stopped.
constexpr absl::Duration kStepBase = absl::Seconds(60);
constexpr absl::Duration kStepPerCell = absl::Seconds(30);
constexpr absl::Duration kPoll = absl::Milliseconds(50);
// Writes of the pools that met another writer's, at most, before giving up.
constexpr int kPoolWriteTries = 5;

struct Coord {
  std::unique_ptr<EtcdClient> etcd;
  std::optional<ClusterCoord> coord;
};

absl::StatusOr<Coord> Connect(const GlobalFlags& flags) {
  absl::StatusOr<std::vector<std::string>> endpoints = EtcdClient::ParseEndpoints(flags.cluster);
  if (!endpoints.ok()) return endpoints.status();
  EtcdClient::Options eo;
  eo.endpoints = *endpoints;
  absl::StatusOr<std::unique_ptr<EtcdClient>> etcd = EtcdClient::Create(eo);
  if (!etcd.ok()) return etcd.status();
  Coord c;
  c.etcd = *std::move(etcd);
  absl::StatusOr<ClusterCoord> coord = ClusterCoord::Create(*c.etcd, flags.cluster_name);
  if (!coord.ok()) return coord.status();
  c.coord.emplace(*std::move(coord));
  return c;
}

// What the capacity guard plans with, read from etcd: the published map
// with each cell on its assigned host and its size as its owner reported it
// (0 until reported), the pools with the live hosts not
// being drained (a drained host is no survivor), and each cell healthy when
// its assigned host owns it (no move under way).
struct ClusterView {
  CellMap map;
  Inventory inventory;
  std::vector<CellLoad> loads;
  std::set<std::string> draining;
  std::map<std::string, std::string> live;  // every live host: name -> address
  std::map<uint32_t, CellOwner> owners;
};

absl::StatusOr<ClusterView> ReadView(ClusterCoord& coord) {
  absl::StatusOr<Versioned> published = coord.ReadMap();
  if (!published.ok()) return published.status();
  if (published->revision == 0) {
    return absl::UnavailableError(
        "the cluster has no cell map in etcd yet: no controller has published one");
  }
  absl::StatusOr<CellMap> map = CellMap::Decode(published->value);
  if (!map.ok()) return map.status();
  absl::StatusOr<std::pair<Inventory, int64_t>> pools = ReadClusterPools(coord);
  if (!pools.ok()) return pools.status();
  absl::StatusOr<std::map<std::string, std::string>> hosts = coord.Hosts();
  if (!hosts.ok()) return hosts.status();
  absl::StatusOr<std::map<uint32_t, std::string>> assigned = coord.Assignments();
  if (!assigned.ok()) return assigned.status();
  absl::StatusOr<std::map<uint32_t, CellOwner>> owners = coord.Owners();
  if (!owners.ok()) return owners.status();
  absl::StatusOr<std::set<std::string>> draining = coord.Draining();
  if (!draining.ok()) return draining.status();
  absl::StatusOr<std::map<uint32_t, uint64_t>> sizes = coord.CellBytes();
  if (!sizes.ok()) return sizes.status();
  ClusterView view{*std::move(map), std::move(pools->first), {}, *std::move(draining), *hosts,
                   *owners};
  for (const auto& [name, address] : *hosts) {
    if (!view.draining.count(name)) view.inventory.hosts[name] = address;
  }
  for (const CellRange& c : std::vector<CellRange>(view.map.cells())) {
    auto a = assigned->find(c.id);
    auto o = owners->find(c.id);
    CellLoad load;
    if (auto size = sizes->find(c.id); size != sizes->end()) load.bytes = size->second;
    if (a == assigned->end()) {
      (void)view.map.SetHost(c.id, "");
      load.healthy = false;
      load.condition = "not assigned to a host yet";
    } else {
      (void)view.map.SetHost(c.id, a->second);
      if (!hosts->count(a->second)) {
        load.healthy = false;
        load.condition = absl::StrCat("its host ", a->second, " is not live");
      } else if (o == owners->end() || o->second.host != a->second) {
        load.healthy = false;
        load.condition = absl::StrCat("moving to ", a->second);
      } else if (view.draining.count(a->second)) {
        load.healthy = false;
        load.condition = absl::StrCat("its host ", a->second, " is being drained");
      }
    }
    view.loads.push_back(load);
  }
  return view;
}

}  // namespace

int RunClusterPools(const GlobalFlags& flags) {
  absl::StatusOr<Coord> c = Connect(flags);
  if (!c.ok()) return ReportError(c.status());
  absl::StatusOr<ClusterView> view = ReadView(*c->coord);
  if (!view.ok()) return ReportError(view.status());
  return PrintPoolCapacities(flags, view->inventory,
                             PoolCapacities(view->map, view->inventory));
}

int RunClusterCells(const GlobalFlags& flags) {
  absl::StatusOr<Coord> c = Connect(flags);
  if (!c.ok()) return ReportError(c.status());
  absl::StatusOr<ClusterView> view = ReadView(*c->coord);
  if (!view.ok()) return ReportError(view.status());
  Json cells = Json::array();
  if (!flags.json) {
    std::cout << absl::StrFormat("%5s  %-10s %-10s %12s %10s  %-26s %s\n", "cell", "assigned",
                                 "owner", "owner epoch", "bytes", "state", "range");
  }
  for (size_t i = 0; i < view->map.cells().size(); ++i) {
    const CellRange& cell = view->map.cells()[i];
    const CellLoad& load = view->loads[i];
    auto owner = view->owners.find(cell.id);
    const std::string state = load.healthy ? "owned" : load.condition;
    if (flags.json) {
      Json j = {{"id", cell.id},         {"range", cell.Describe()}, {"assigned", cell.host},
                {"owner", nullptr},      {"owner_epoch", nullptr},   {"bytes", load.bytes},
                {"healthy", load.healthy}, {"state", state}};
      if (owner != view->owners.end()) {
        j["owner"] = owner->second.host;
        j["owner_epoch"] = owner->second.epoch;
      }
      cells.push_back(std::move(j));
      continue;
    }
    std::cout << absl::StrFormat(
        "%5d  %-10s %-10s %12s %10s  %-26s %s\n", cell.id, cell.host.empty() ? "-" : cell.host,
        owner != view->owners.end() ? owner->second.host : "-",
        owner != view->owners.end() ? absl::StrCat(owner->second.epoch) : "-",
        HumanBytes(load.bytes), state, cell.Describe());
  }
  if (flags.json) PrintJson(cells);
  return kExitOk;
}

int RunClusterHosts(const GlobalFlags& flags) {
  absl::StatusOr<Coord> c = Connect(flags);
  if (!c.ok()) return ReportError(c.status());
  absl::StatusOr<ClusterView> view = ReadView(*c->coord);
  if (!view.ok()) return ReportError(view.status());
  std::map<std::string, std::pair<int, uint64_t>> held;  // host -> cells, bytes assigned
  for (size_t i = 0; i < view->map.cells().size(); ++i) {
    auto& h = held[view->map.cells()[i].host];
    ++h.first;
    h.second += view->loads[i].bytes;
  }
  // Live hosts, hosts being drained that are gone (their mark stays), and
  // dead hosts cells are still assigned to.
  std::set<std::string> names;
  for (const auto& [name, address] : view->live) names.insert(name);
  names.insert(view->draining.begin(), view->draining.end());
  for (const auto& [name, cells_bytes] : held) {
    if (!name.empty()) names.insert(name);
  }
  Json all = Json::array();
  if (!flags.json) {
    std::cout << absl::StrFormat("%-16s %-12s %-5s %-8s %6s %10s  %s\n", "host", "pool", "live",
                                 "draining", "cells", "bytes", "address");
  }
  for (const std::string& name : names) {
    auto address = view->live.find(name);
    const bool live = address != view->live.end();
    const bool draining = view->draining.count(name) > 0;
    const auto [cells, bytes] = held[name];
    if (flags.json) {
      all.push_back({{"host", name},
                     {"pool", view->inventory.PoolOf(name)},
                     {"live", live},
                     {"draining", draining},
                     {"cells", cells},
                     {"bytes", bytes},
                     {"address", live ? Json(address->second) : Json(nullptr)}});
      continue;
    }
    std::cout << absl::StrFormat("%-16s %-12s %-5s %-8s %6d %10s  %s\n", name,
                                 view->inventory.PoolOf(name), live ? "yes" : "no",
                                 draining ? "yes" : "no", cells, HumanBytes(bytes),
                                 live ? address->second : "-");
  }
  if (flags.json) PrintJson(all);
  return kExitOk;
}

int RunClusterPoolsSet(const GlobalFlags& flags, const PoolFlags& set) {
  absl::StatusOr<Coord> c = Connect(flags);
  if (!c.ok()) return ReportError(c.status());
  for (int tries = 0;; ++tries) {
    absl::StatusOr<std::pair<Inventory, int64_t>> pools = ReadClusterPools(*c->coord);
    if (!pools.ok()) return ReportError(pools.status());
    Inventory& inv = pools->first;
    const Pool* old = inv.FindPool(set.name);
    const Pool pool = PoolFromFlags(old != nullptr ? *old : Pool(), set);
    if (absl::Status s = ValidatePool(pool); !s.ok()) return ReportError(s);
    inv.SetPool(pool);
    absl::StatusOr<int64_t> written = c->coord->WritePools(inv.Encode(), pools->second);
    if (written.ok()) {
      PrintPoolSetLine(flags, pool);
      return kExitOk;
    }
    // Another writer came between: read theirs and apply this again.
    if (!absl::IsAborted(written.status()) || tries + 1 == kPoolWriteTries) {
      return ReportError(written.status());
    }
  }
}

int RunClusterHostsRemove(const GlobalFlags& flags, const HostRemoval& removal, bool cancel) {
  absl::StatusOr<Coord> c = Connect(flags);
  if (!c.ok()) return ReportError(c.status());
  ClusterCoord& coord = *c->coord;
  if (cancel) {
    // The named hosts take cells again (a removal that stopped, or was
    // changed): the controller places and balances onto them.
    if (!removal.match.empty() || removal.execute) {
      return ReportError(absl::InvalidArgumentError(
          "hosts remove --cancel takes host names only (no --match, no --execute)"));
    }
    for (const std::string& h : removal.hosts) {
      if (absl::Status s = coord.SetDraining(h, false); !s.ok()) return ReportError(s);
    }
    if (flags.json) {
      PrintJson({{"cancelled", removal.hosts}});
    } else {
      std::cout << "no longer draining: " << absl::StrJoin(removal.hosts, ", ") << "\n";
    }
    return kExitOk;
  }
  absl::StatusOr<ClusterView> view = ReadView(coord);
  if (!view.ok()) return ReportError(view.status());
  for (const std::string& h : removal.hosts) {
    if (view->draining.count(h)) {
      return ReportError(absl::FailedPreconditionError(absl::StrCat(
          "host ", h, " is being drained already (hosts remove --cancel ", h,
          " gives it cells again)")));
    }
  }
  absl::StatusOr<RemovalPlan> plan =
      PlanRemoval(view->map, view->inventory, view->loads, removal);
  if (!plan.ok()) return ReportError(plan.status());
  if (plan->refusal != RemovalRefusal::kNone) return ReportRefusal(*plan);
  if (!removal.execute) {
    if (flags.json) {
      PrintJson(RemovalPlanJsonWithWindows(*plan));
    } else {
      PrintRemovalPlan(*plan, removal);
      std::cout << "dry run: nothing changed (add --execute to carry it out)\n";
    }
    return kExitOk;
  }
  if (!flags.json) PrintRemovalPlan(*plan, removal);
  // Step by step: the step's hosts marked draining, then wait until none of
  // them has a cell assigned and every cell is owned where assigned.
  plan->executed = true;
  std::vector<absl::Duration> took;
  for (size_t s = 0; s < plan->steps.size(); ++s) {
    const std::vector<std::string>& step = plan->steps[s];
    RemovalStepReport report;
    report.hosts = step;
    size_t moving = 0;
    for (const CellMove& m : plan->moves) moving += m.step == s;
    for (const std::string& h : step) {
      if (absl::Status st = coord.SetDraining(h, true); !st.ok()) return ReportError(st);
    }
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + kStepBase + kStepPerCell * static_cast<int64_t>(moving);
    const std::set<std::string> leaving(step.begin(), step.end());
    size_t left = moving;
    for (;;) {
      absl::StatusOr<std::map<uint32_t, std::string>> assigned = coord.Assignments();
      absl::StatusOr<std::map<uint32_t, CellOwner>> owners = coord.Owners();
      if (assigned.ok() && owners.ok()) {
        size_t on_leaving = 0, in_flight = 0;
        for (const CellRange& cell : view->map.cells()) {
          auto a = assigned->find(cell.id);
          if (a == assigned->end()) {
            ++in_flight;
            continue;
          }
          on_leaving += leaving.count(a->second);
          auto o = owners->find(cell.id);
          in_flight += o == owners->end() || o->second.host != a->second;
        }
        if (on_leaving != left && !flags.json) {
          left = on_leaving;
          std::cerr << absl::StrFormat("\rstep %d: %d of %d cells moved", s + 1,
                                       moving - std::min(moving, left), moving)
                    << std::flush;
        }
        left = on_leaving;
        if (on_leaving == 0 && in_flight == 0) break;
      }
      if (absl::Now() > deadline) {
        report.error = absl::StrCat("the controller did not move the cells of ",
                                    absl::StrJoin(step, ", "), " within ",
                                    absl::FormatDuration(deadline - start));
        break;
      }
      absl::SleepFor(kPoll);  // the controller's pace; the deadline bounds it
    }
    if (!flags.json) std::cerr << "\n";
    report.done = report.error.empty();
    took.push_back(absl::Now() - start);
    plan->step_reports.push_back(report);
    if (!report.done) {
      std::cerr << "cellindex: removal stopped at step " << s + 1 << ": " << report.error
                << " (its hosts stay marked draining; the controller goes on)\n";
      return kExitRemovalStopped;
    }
  }
  if (flags.json) {
    Json j = RemovalPlanJsonWithWindows(*plan);
    Json seconds = Json::array();
    for (absl::Duration d : took) seconds.push_back(absl::ToDoubleSeconds(d));
    j["step_seconds"] = seconds;
    PrintJson(j);
    return kExitOk;
  }
  for (size_t s = 0; s < plan->step_reports.size(); ++s) {
    std::cout << absl::StrFormat("step %d: done in %s; %s hold no cell now: stop them (SIGTERM)\n",
                                 s + 1, HumanDuration(took[s]),
                                 absl::StrJoin(plan->step_reports[s].hosts, ", "));
  }
  return kExitOk;
}

int RunClusterReshape(const GlobalFlags& flags, const std::string& op,
                      const std::vector<uint32_t>& cells, const std::optional<ObjectKey>& at,
                      const std::string& arguments) {
  absl::StatusOr<Coord> c = Connect(flags);
  if (!c.ok()) return ReportError(c.status());
  ClusterCoord& coord = *c->coord;
  absl::StatusOr<Versioned> published = coord.ReadMap();
  if (!published.ok()) return ReportError(published.status());
  if (published->revision == 0) {
    return ReportError(absl::NotFoundError("etcd holds no cell map: no host has published one"));
  }
  absl::StatusOr<CellMap> map = CellMap::Decode(published->value);
  if (!map.ok()) return ReportError(map.status());
  // Checked on the map as it is, so that bad input changes nothing.
  ReshapeRequest request;
  request.op = op;
  request.cells = cells;
  request.map_revision = published->revision;
  request.by = "operator";
  request.reason = arguments;
  absl::Status valid;
  if (op == "split") {
    if (!map->IndexOf(cells[0])) {
      valid = absl::InvalidArgumentError(absl::StrCat("no cell ", cells[0], " in the cell map"));
    } else if (at) {
      valid = ValidateObjectKey(*at);
      if (valid.ok()) {
        request.at = EncodeKey(*at);
        valid = map->Split(cells[0], request.at, 0, absl::Now()).status();
      }
    }
  } else {
    valid = map->Merge(cells[0], cells[1], 0, 0, absl::Now()).status();
  }
  if (!valid.ok()) return ReportError(valid);
  absl::StatusOr<int64_t> asked = coord.RequestReshape(request);
  if (!asked.ok()) return ReportError(asked.status());
  if (!flags.json) {
    std::cerr << "asked for the " << op << " of cell" << (cells.size() > 1 ? "s " : " ")
              << absl::StrJoin(cells, ",") << " (request " << *asked
              << "); waiting for its owner" << std::endl;
  }
  // Its owner runs it; the result names the request.
  const absl::Time deadline = absl::Now() + kStepBase + kStepPerCell;
  for (;;) {
    absl::StatusOr<Versioned> result = coord.ReadReshapeResult();
    if (result.ok() && result->revision != 0) {
      const Json j = Json::parse(result->value, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.contains("request") && j["request"] == *asked) {
        if (j.value("outcome", Json()) != "done") {
          const Json why = j.value("error", Json("no reason given"));
          return ReportError(absl::FailedPreconditionError(
              absl::StrCat("the ", op, " did not happen: ",
                           why.is_string() ? why.get<std::string>() : why.dump())));
        }
        if (flags.json) {
          PrintJson(j);
        } else {
          std::vector<std::string> children;
          for (const Json& c : j.value("children", Json::array())) children.push_back(c.dump());
          std::cout << absl::StrCat(op == "split" ? "split cell " : "merged cells ",
                                    absl::StrJoin(cells, ","), " into cell",
                                    children.size() > 1 ? "s " : " ",
                                    absl::StrJoin(children, ","), " on host ",
                                    j.value("host", Json("?")).dump(), "; map epoch ",
                                    j.value("epoch", Json(0)).dump())
                    << std::endl;
        }
        return kExitOk;
      }
    }
    if (absl::Now() > deadline) {
      return ReportError(absl::UnavailableError(absl::StrCat(
          "request ", *asked, " has not ended within ",
          absl::FormatDuration(kStepBase + kStepPerCell),
          " (the controller drops a request its cells' owner does not run)")));
    }
    absl::SleepFor(kPoll);  // polling etcd; the deadline bounds it
  }
}

}  // namespace cellindex::tools
