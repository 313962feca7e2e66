// `cellindex metrics | audit | pools | hosts`: health and capacity.
#include <algorithm>
#include <iostream>
#include <map>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/capacity_print.h"
#include "tools/command_util.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"

namespace cellindex::tools {
namespace {

std::string Spare(const std::optional<uint64_t>& v) {
  return v.has_value() ? absl::StrCat(*v) : "-";
}

Json PoolJson(const PoolCapacity& p, const Pool* pool) {
  Json j = {{"pool", p.pool},
            {"hosts", p.hosts_before},
            {"min_hosts", p.min_hosts},
            {"cells", p.cells_before},
            {"min_spare_cells", p.min_spare_cells}};
  if (p.spare_before) j["spare_cells"] = *p.spare_before;
  if (pool != nullptr) {
    j["members"] = pool->hosts;
    j["max_cells_per_host"] = pool->max_cells_per_host;
    j["max_bytes_per_host"] = pool->max_bytes_per_host;
  }
  return j;
}

// The median and the largest of `all` (zero when empty).
std::pair<absl::Duration, absl::Duration> MedianMax(std::vector<absl::Duration> all) {
  if (all.empty()) return {absl::ZeroDuration(), absl::ZeroDuration()};
  std::sort(all.begin(), all.end());
  return {all[all.size() / 2], all.back()};
}

// Median and max of the windows of every step.
std::pair<absl::Duration, absl::Duration> Windows(const RemovalPlan& plan) {
  std::vector<absl::Duration> all;
  for (const RemovalStepReport& s : plan.step_reports) {
    all.insert(all.end(), s.unavailable.begin(), s.unavailable.end());
  }
  return MedianMax(std::move(all));
}

Json RemovalJson(const RemovalPlan& plan) {
  Json j = Json::parse(RemovalPlanJson(plan));
  if (plan.executed) {
    const auto [median, max] = Windows(plan);
    j["unavailable_ms_median"] = absl::ToDoubleMilliseconds(median);
    j["unavailable_ms_max"] = absl::ToDoubleMilliseconds(max);
  }
  return j;
}

void PrintPlan(const RemovalPlan& plan, const HostRemoval& removal) {
  std::cout << absl::StrFormat("plan: remove %d host%s (%s) in %d step%s of at most %d host%s, "
                               "at most %.0f%% of a pool per step\n",
                               plan.hosts.size(), plan.hosts.size() == 1 ? "" : "s",
                               absl::StrJoin(plan.hosts, ", "), plan.steps.size(),
                               plan.steps.size() == 1 ? "" : "s", removal.max_step,
                               removal.max_step == 1 ? "" : "s", removal.max_fraction * 100);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    std::cout << absl::StrFormat("  step %d: drain %s\n", s + 1, absl::StrJoin(plan.steps[s], ", "));
    for (const CellMove& m : plan.moves) {
      if (m.step != s) continue;
      std::cout << absl::StrFormat("    cell %5d  %s -> %s  (%s)\n", m.cell, m.from, m.to,
                                   HumanBytes(m.bytes));
    }
  }
  std::cout << "  pace: one step at a time; each drains its cells one by one (checkpoint, hold "
               "writes, open on the target, switch the map) and the next starts once every moved "
               "cell serves and has validated\n";
  std::cout << absl::StrFormat("  %-12s %16s %16s %20s\n", "pool", "hosts (min)", "cells",
                               "spare cells (min)");
  for (const PoolCapacity& p : plan.pools) {
    std::cout << absl::StrFormat(
        "  %-12s %16s %16s %20s\n", p.pool,
        absl::StrCat(p.hosts_before, " -> ", p.hosts_after, " (", p.min_hosts, ")"),
        absl::StrCat(p.cells_before, " -> ", p.cells_after),
        absl::StrCat(Spare(p.spare_before), " -> ", Spare(p.spare_after), " (",
                     p.min_spare_cells, ")"));
  }
}

}  // namespace

int ReportRefusal(const RemovalPlan& plan) {
  std::cerr << "cellindex: refused (" << RemovalRefusalName(plan.refusal) << "): " << plan.reason
            << "\n";
  return ExitCodeForRefusal(plan.refusal);
}

Json RemovalPlanJsonWithWindows(const RemovalPlan& plan) { return RemovalJson(plan); }
void PrintRemovalPlan(const RemovalPlan& plan, const HostRemoval& removal) {
  PrintPlan(plan, removal);
}

int RunStatus(const GlobalFlags& flags) {
  if (flags.status_dir.empty()) {
    return ReportError(absl::InvalidArgumentError("status needs --status-dir DIR"));
  }
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  const std::string page = flags.status_dir + "/index.html";
  if (flags.json) {
    PrintJson({{"page", page}});
  } else {
    std::cout << page << "\n";
  }
  return kExitOk;
}

int RunMetrics(const GlobalFlags& flags) {
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  std::cout << (*index)->Metrics();
  return kExitOk;
}

int RunAudit(const GlobalFlags& flags) {
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  absl::StatusOr<std::vector<std::string>> lines = (*index)->AuditLog();
  if (!lines.ok()) return ReportError(lines.status());
  if (flags.json) {
    Json all = Json::array();
    for (const std::string& l : *lines) {
      Json j = Json::parse(l, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded()) all.push_back(j);
    }
    PrintJson(all);
  } else {
    for (const std::string& l : *lines) std::cout << l << "\n";
  }
  return kExitOk;
}

namespace {

// Prints the pools' capacity (a table, or a JSON array with --json).
int PrintPools(const GlobalFlags& flags, const Inventory& inv,
               const std::vector<PoolCapacity>& pools) {
  if (flags.json) {
    Json all = Json::array();
    for (const PoolCapacity& p : pools) all.push_back(PoolJson(p, inv.FindPool(p.pool)));
    PrintJson(all);
    return kExitOk;
  }
  std::cout << absl::StrFormat("%-12s %6s %6s %6s %10s %10s %14s %14s  %s\n", "pool", "hosts",
                               "min", "cells", "spare", "min spare", "cells/host", "bytes/host",
                               "members");
  for (const PoolCapacity& p : pools) {
    const Pool* pool = inv.FindPool(p.pool);
    std::vector<std::string> members;
    for (const auto& [h, d] : inv.hosts) {
      if (inv.PoolOf(h) == p.pool) members.push_back(h);
    }
    std::cout << absl::StrFormat(
        "%-12s %6d %6d %6d %10s %10d %14s %14s  %s\n", p.pool, p.hosts_before, p.min_hosts,
        p.cells_before, Spare(p.spare_before), p.min_spare_cells,
        pool && pool->max_cells_per_host ? absl::StrCat(pool->max_cells_per_host) : "-",
        pool && pool->max_bytes_per_host ? HumanBytes(pool->max_bytes_per_host) : "-",
        absl::StrJoin(members, ","));
  }
  return kExitOk;
}

// `set` over `pool`: the fields given replace the pool's.
Pool ApplyPoolFlags(Pool pool, const PoolFlags& set) {
  pool.name = set.name;
  if (set.hosts) pool.hosts = *set.hosts;
  if (set.min_hosts) pool.min_hosts = *set.min_hosts;
  if (set.min_spare_cells) pool.min_spare_cells = *set.min_spare_cells;
  if (set.max_cells_per_host) pool.max_cells_per_host = *set.max_cells_per_host;
  if (set.max_bytes_per_host) pool.max_bytes_per_host = *set.max_bytes_per_host;
  return pool;
}

void PrintPoolSet(const GlobalFlags& flags, const Pool& pool) {
  if (flags.json) {
    PrintJson({{"pool", pool.name}, {"hosts", pool.hosts}, {"min_hosts", pool.min_hosts},
               {"min_spare_cells", pool.min_spare_cells},
               {"max_cells_per_host", pool.max_cells_per_host},
               {"max_bytes_per_host", pool.max_bytes_per_host}});
  } else {
    std::cout << "pool " << pool.name << " set\n";
  }
}

}  // namespace

int PrintPoolCapacities(const GlobalFlags& flags, const Inventory& inv,
                        const std::vector<PoolCapacity>& pools) {
  return PrintPools(flags, inv, pools);
}
Pool PoolFromFlags(Pool pool, const PoolFlags& set) { return ApplyPoolFlags(std::move(pool), set); }
void PrintPoolSetLine(const GlobalFlags& flags, const Pool& pool) { PrintPoolSet(flags, pool); }

int RunPools(const GlobalFlags& flags) {
  if (!flags.cluster.empty()) return RunClusterPools(flags);
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  return PrintPools(flags, (*index)->inventory(), (*index)->PoolCapacities());
}

int RunPoolsSet(const GlobalFlags& flags, const PoolFlags& set, const std::string& arguments) {
  (void)arguments;
  if (!flags.cluster.empty()) return RunClusterPoolsSet(flags, set);
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  const Inventory inventory = (*index)->inventory();
  const Pool* old = inventory.FindPool(set.name);
  const Pool pool = ApplyPoolFlags(old != nullptr ? *old : Pool(), set);
  if (absl::Status s = (*index)->SetPool(pool); !s.ok()) return ReportError(s);
  PrintPoolSet(flags, pool);
  return kExitOk;
}

int RunHosts(const GlobalFlags& flags) {
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  const Inventory inv = (*index)->inventory();
  std::map<std::string, int> cells;
  const CellMap map = (*index)->cell_map();
  for (const CellRange& c : map.cells()) ++cells[c.host];
  if (flags.json) {
    Json all = Json::array();
    for (const auto& [h, d] : inv.hosts) {
      all.push_back({{"host", h}, {"dir", d}, {"pool", inv.PoolOf(h)}, {"cells", cells[h]}});
    }
    PrintJson(all);
    return kExitOk;
  }
  std::cout << absl::StrFormat("%-16s %-12s %6s  %s\n", "host", "pool", "cells", "directory");
  for (const auto& [h, d] : inv.hosts) {
    std::cout << absl::StrFormat("%-16s %-12s %6d  %s\n", h, inv.PoolOf(h), cells[h], d);
  }
  return kExitOk;
}

namespace {

// Runs a rebalance on an open index and prints its outcome. `head` leads
// the JSON output. A refused plan is an error (its exit code) when
// `refusal_fails`, else shown as what stops cells from moving now.
int Rebalance(const GlobalFlags& flags, Index& index, const RebalanceRequest& request, Json head,
              bool refusal_fails) {
  absl::StatusOr<RebalancePlan> plan = index.Rebalance(request);
  if (!plan.ok()) {
    if (absl::IsAborted(plan.status())) {
      std::cerr << "cellindex: rebalance stopped: " << plan.status().message() << "\n";
      return kExitRemovalStopped;
    }
    return ReportError(plan.status());
  }
  const bool refused = plan->refusal != RemovalRefusal::kNone;
  if (refused && refusal_fails && !flags.json) {
    std::cerr << "cellindex: rebalance refused (" << RemovalRefusalName(plan->refusal)
              << "): " << plan->reason << "\n";
    return ExitCodeForRefusal(plan->refusal);
  }
  const int code = refused && refusal_fails ? ExitCodeForRefusal(plan->refusal) : kExitOk;
  const auto [median, max] = MedianMax(plan->unavailable);
  if (flags.json) {
    Json j = Json::parse(RebalancePlanJson(*plan));
    if (plan->executed) {
      j["unavailable_ms_median"] = absl::ToDoubleMilliseconds(median);
      j["unavailable_ms_max"] = absl::ToDoubleMilliseconds(max);
    }
    head["rebalance"] = j;
    PrintJson(head);
    if (code != kExitOk) {
      std::cerr << "cellindex: rebalance refused (" << RemovalRefusalName(plan->refusal)
                << "): " << plan->reason << "\n";
    }
    return code;
  }
  if (refused) {
    std::cout << "rebalance: refused for now (" << RemovalRefusalName(plan->refusal)
              << "): " << plan->reason << "\n";
    return code;
  }
  std::cout << absl::StrFormat(
      "rebalance%s: %d move%s, one cell at a time, %.1f s between moves once the moved cell "
      "serves and has validated\n",
      request.pool.empty() ? "" : absl::StrCat(" of pool ", request.pool), plan->moves.size(),
      plan->moves.size() == 1 ? "" : "s", absl::ToDoubleSeconds(request.pause));
  for (const CellMove& m : plan->moves) {
    std::cout << absl::StrFormat("  move %d: cell %5d  %s -> %s  (%s)\n", m.step + 1, m.cell,
                                 m.from, m.to, HumanBytes(m.bytes));
  }
  if (!plan->executed) {
    if (!plan->moves.empty()) std::cout << "dry run: no cell moved\n";
    return kExitOk;
  }
  std::cout << absl::StrFormat("moved %d cell%s; unavailable per moved cell: median %.1f ms, "
                               "max %.1f ms\n",
                               plan->unavailable.size(), plan->unavailable.size() == 1 ? "" : "s",
                               absl::ToDoubleMilliseconds(median),
                               absl::ToDoubleMilliseconds(max));
  return kExitOk;
}

}  // namespace

int RunHostsAdd(const GlobalFlags& flags, const std::string& name, const std::string& dir,
                const std::optional<std::string>& pool, RebalanceRequest rebalance) {
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  if (pool && pool->empty()) {
    return ReportError(absl::InvalidArgumentError("--pool needs a pool name"));
  }
  if (absl::Status s = (*index)->AddHost(name, dir, pool.value_or(""), rebalance.user); !s.ok()) {
    return ReportError(s);
  }
  // Onto the new host: its own pool's cells only.
  rebalance.pool = (*index)->inventory().PoolOf(name);
  uint64_t pool_cells = 0;
  for (const PoolCapacity& p : (*index)->PoolCapacities()) {
    if (p.pool == rebalance.pool) pool_cells = p.cells_before;
  }
  if (!flags.json) {
    std::cout << "host " << name << " added at " << dir << " in pool " << rebalance.pool << "\n";
    if (pool_cells == 0) {
      std::cout << "note: pool " << rebalance.pool
                << " holds no cells, so none will move onto " << name << "\n";
    }
  }
  Json head = {{"host", name}, {"dir", dir}, {"pool", rebalance.pool}};
  return Rebalance(flags, **index, rebalance, head, /*refusal_fails=*/rebalance.execute);
}

int RunHostsRebalance(const GlobalFlags& flags, const RebalanceRequest& rebalance) {
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  return Rebalance(flags, **index, rebalance, Json::object(), /*refusal_fails=*/true);
}

int RunHostsRemove(const GlobalFlags& flags, const HostRemoval& removal, bool cancel) {
  if (!flags.cluster.empty()) return RunClusterHostsRemove(flags, removal, cancel);
  if (cancel) {
    return ReportError(absl::InvalidArgumentError(
        "hosts remove --cancel applies with --cluster only (a single process drains as it "
        "removes)"));
  }
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  absl::StatusOr<RemovalPlan> plan = (*index)->RemoveHosts(removal);
  if (!plan.ok()) {
    if (absl::IsAborted(plan.status())) {
      std::cerr << "cellindex: removal stopped: " << plan.status().message() << "\n";
      return kExitRemovalStopped;
    }
    return ReportError(plan.status());
  }
  if (plan->refusal != RemovalRefusal::kNone) return ReportRefusal(*plan);
  if (flags.json) {
    PrintJson(RemovalJson(*plan));
    return kExitOk;
  }
  PrintPlan(*plan, removal);
  if (!plan->executed) {
    std::cout << "dry run: nothing changed (add --execute to carry it out)\n";
    return kExitOk;
  }
  for (size_t s = 0; s < plan->step_reports.size(); ++s) {
    std::cout << absl::StrFormat("step %d: %s, %d cells moved\n", s + 1,
                                 plan->step_reports[s].done ? "done" : "stopped",
                                 plan->step_reports[s].unavailable.size());
  }
  const auto [median, max] = Windows(*plan);
  std::cout << absl::StrFormat("unavailable per moved cell: median %.1f ms, max %.1f ms\n",
                               absl::ToDoubleMilliseconds(median), absl::ToDoubleMilliseconds(max));
  return kExitOk;
}

}  // namespace cellindex::tools
