#include "recovery/capacity_guard.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cellindex {
namespace {

struct HostLoad {
  uint64_t cells = 0;
  uint64_t bytes = 0;
};

// The pools with at least one host, and the default pool for hosts no pool
// names (with its settings, if it was set).
std::vector<Pool> EffectivePools(const Inventory& inv) {
  std::vector<Pool> out;
  Pool def;
  def.name = kDefaultPool;
  if (const Pool* p = inv.FindPool(kDefaultPool)) def = *p;
  for (const Pool& p : inv.pools) {
    if (p.name != kDefaultPool) out.push_back(p);
  }
  for (const auto& [host, dir] : inv.hosts) {
    if (inv.PoolOf(host) == kDefaultPool &&
        std::find(def.hosts.begin(), def.hosts.end(), host) == def.hosts.end()) {
      def.hosts.push_back(host);
    }
  }
  // Only hosts that exist count.
  for (Pool& p : out) {
    p.hosts.erase(std::remove_if(p.hosts.begin(), p.hosts.end(),
                                 [&inv](const std::string& h) { return !inv.hosts.count(h); }),
                  p.hosts.end());
  }
  def.hosts.erase(std::remove_if(def.hosts.begin(), def.hosts.end(),
                                 [&inv](const std::string& h) { return !inv.hosts.count(h); }),
                  def.hosts.end());
  std::sort(def.hosts.begin(), def.hosts.end());
  out.push_back(std::move(def));
  return out;
}

std::string List(const std::vector<std::string>& names, size_t max = 8) {
  if (names.size() <= max) return absl::StrJoin(names, ", ");
  std::vector<std::string> head(names.begin(), names.begin() + max);
  return absl::StrCat(absl::StrJoin(head, ", "), ", ... (", names.size(), " in all)");
}

PoolCapacity CapacityOf(const Pool& pool, const std::map<std::string, HostLoad>& load,
                        const std::set<std::string>& removed) {
  PoolCapacity c;
  c.pool = pool.name;
  c.min_hosts = pool.min_hosts;
  c.min_spare_cells = pool.min_spare_cells;
  for (const std::string& h : pool.hosts) {
    auto it = load.find(h);
    const uint64_t cells = it == load.end() ? 0 : it->second.cells;
    ++c.hosts_before;
    c.cells_before += cells;
    if (!removed.count(h)) ++c.hosts_after;
  }
  if (pool.max_cells_per_host > 0) {
    const uint64_t places = pool.max_cells_per_host * c.hosts_before;
    c.spare_before = places > c.cells_before ? places - c.cells_before : 0;
  }
  return c;
}

}  // namespace

std::vector<PoolCapacity> PoolCapacities(const CellMap& map, const Inventory& inventory) {
  std::map<std::string, HostLoad> load;
  for (const CellRange& c : map.cells()) ++load[c.host].cells;
  std::vector<PoolCapacity> out;
  for (const Pool& p : EffectivePools(inventory)) {
    PoolCapacity c = CapacityOf(p, load, {});
    c.cells_after = c.cells_before;
    c.spare_after = c.spare_before;
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<RemovalPlan> PlanRemoval(const CellMap& map, const Inventory& inv,
                                        const std::vector<CellLoad>& cells,
                                        const HostRemoval& req) {
  if (req.hosts.empty() == req.match.empty()) {
    return absl::InvalidArgumentError("give host names or a pattern (--match), not both or neither");
  }
  if (req.expect.has_value() && req.match.empty()) {
    return absl::InvalidArgumentError("--expect goes with --match");
  }
  if (req.max_step == 0) return absl::InvalidArgumentError("--max-step must be at least 1");
  if (!(req.max_fraction > 0 && req.max_fraction <= 1)) {
    return absl::InvalidArgumentError("--max-fraction must be in (0, 1]");
  }
  if (cells.size() != map.cells().size()) {
    return absl::InternalError("cell loads do not match the map");
  }
  RemovalPlan plan;
  auto refuse = [&plan](RemovalRefusal why, std::string reason) {
    plan.refusal = why;
    plan.reason = std::move(reason);
    return plan;
  };
  std::vector<std::string> known;
  for (const auto& [h, dir] : inv.hosts) known.push_back(h);

  // 1. Which hosts.
  std::set<std::string> removed;
  if (!req.match.empty()) {
    for (const std::string& h : known) {
      if (fnmatch(req.match.c_str(), h.c_str(), 0) == 0) removed.insert(h);
    }
    plan.hosts.assign(removed.begin(), removed.end());
    if (removed.empty()) {
      return refuse(RemovalRefusal::kMatchCount,
                    absl::StrCat("pattern \"", req.match, "\" matches no host (hosts: ", List(known), ")"));
    }
    if (!req.expect.has_value() && removed.size() > 1) {
      return refuse(RemovalRefusal::kMatchCount,
                    absl::StrCat("pattern \"", req.match, "\" matches ", removed.size(), " hosts (",
                                 List(plan.hosts), "); give --expect ", removed.size(),
                                 " to mean them all"));
    }
    if (req.expect.has_value() && removed.size() != *req.expect) {
      return refuse(RemovalRefusal::kMatchCount,
                    absl::StrCat("pattern \"", req.match, "\" matches ", removed.size(),
                                 " hosts (", List(plan.hosts), "), not the ", *req.expect,
                                 " expected"));
    }
  } else {
    for (const std::string& h : req.hosts) {
      if (!inv.hosts.count(h)) {
        return refuse(RemovalRefusal::kUnknownHost,
                      absl::StrCat("unknown host \"", h, "\" (hosts: ", List(known), ")"));
      }
      removed.insert(h);
    }
    plan.hosts.assign(removed.begin(), removed.end());
  }

  // Pools, and the steps (max_step hosts each, in name order).
  const std::vector<Pool> pools = EffectivePools(inv);
  std::map<std::string, const Pool*> pool_of;
  for (const Pool& p : pools) {
    for (const std::string& h : p.hosts) pool_of[h] = &p;
  }
  for (size_t i = 0; i < plan.hosts.size(); i += req.max_step) {
    plan.steps.emplace_back(plan.hosts.begin() + i,
                            plan.hosts.begin() + std::min(plan.hosts.size(), i + req.max_step));
  }
  // 2. Pool minimums: hosts, and spare places after the cells have moved.
  std::map<std::string, HostLoad> load;
  for (const std::string& h : known) load[h];
  for (size_t i = 0; i < map.cells().size(); ++i) {
    HostLoad& l = load[map.cells()[i].host];
    ++l.cells;
    l.bytes += cells[i].bytes;
  }
  if (removed.size() == known.size()) {
    return refuse(RemovalRefusal::kBelowPoolMinimum,
                  absl::StrCat("removing all ", known.size(),
                               " hosts would leave none to serve the cells"));
  }
  for (const Pool& p : pools) {
    PoolCapacity c = CapacityOf(p, load, removed);
    if (c.hosts_after < c.hosts_before && c.hosts_after < p.min_hosts) {
      return refuse(RemovalRefusal::kBelowPoolMinimum,
                    absl::StrCat("pool ", p.name, " would keep ", c.hosts_after, " of its ",
                                 c.hosts_before, " hosts, below its minimum of ", p.min_hosts));
    }
  }

  // 3. Where each moved cell goes, step by step.
  auto room = [&](const std::string& host, uint64_t bytes) {
    const Pool* p = pool_of.at(host);
    const HostLoad& l = load[host];
    return (p->max_cells_per_host == 0 || l.cells + 1 <= p->max_cells_per_host) &&
           (p->max_bytes_per_host == 0 || l.bytes + bytes <= p->max_bytes_per_host);
  };
  std::vector<std::string> survivors;
  for (const std::string& h : known) {
    if (!removed.count(h)) survivors.push_back(h);
  }
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    for (const std::string& from : plan.steps[s]) {
      for (size_t i = 0; i < map.cells().size(); ++i) {
        if (map.cells()[i].host != from) continue;
        const uint64_t bytes = cells[i].bytes;
        const Pool* own = pool_of.at(from);
        const std::string* best = nullptr;
        for (int pass = 0; pass < 2 && best == nullptr; ++pass) {
          for (const std::string& h : survivors) {
            if ((pass == 0) != (pool_of.at(h) == own) || !room(h, bytes)) continue;
            if (best == nullptr || load[h].cells < load[*best].cells) best = &h;
          }
        }
        if (best == nullptr) {
          return refuse(RemovalRefusal::kSurvivorsFull,
                        absl::StrCat("cell ", map.cells()[i].id, " (", bytes, " bytes) from host ",
                                     from, " fits on no surviving host (",
                                     List(survivors), ") under their pools' per-host limits"));
        }
        HostLoad& from_load = load[from];
        --from_load.cells;
        from_load.bytes -= bytes;
        ++load[*best].cells;
        load[*best].bytes += bytes;
        plan.moves.push_back({map.cells()[i].id, from, *best, bytes, s});
      }
    }
  }
  // 4. Spare places after the moves.
  {
    std::map<std::string, HostLoad> before;
    for (const std::string& h : known) before[h];
    for (size_t i = 0; i < map.cells().size(); ++i) ++before[map.cells()[i].host].cells;
    for (const Pool& p : pools) {
      PoolCapacity c = CapacityOf(p, before, removed);
      for (const std::string& h : p.hosts) {
        if (!removed.count(h)) c.cells_after += load[h].cells;
      }
      if (p.max_cells_per_host > 0) {
        const uint64_t places = p.max_cells_per_host * c.hosts_after;
        c.spare_after = places > c.cells_after ? places - c.cells_after : 0;
      }
      plan.pools.push_back(c);
    }
    for (const PoolCapacity& c : plan.pools) {
      const bool touched = c.hosts_after != c.hosts_before || c.cells_after != c.cells_before;
      if (touched && c.spare_after.has_value() && *c.spare_after < c.min_spare_cells) {
        return refuse(RemovalRefusal::kBelowPoolMinimum,
                      absl::StrCat("pool ", c.pool, " would keep ", *c.spare_after,
                                   " spare cell places, below its minimum of ",
                                   c.min_spare_cells));
      }
    }
  }

  // 5. Health.
  for (size_t i = 0; i < cells.size(); ++i) {
    if (!cells[i].healthy) {
      return refuse(RemovalRefusal::kUnhealthyCell,
                    absl::StrCat("cell ", map.cells()[i].id, " is not healthy (",
                                 cells[i].condition, "); no host is removed until every cell serves"));
    }
  }
  // 6. No step takes too much of a pool.
  {
    std::map<std::string, uint64_t> remaining;  // hosts per pool at the step's start
    for (const Pool& p : pools) remaining[p.name] = p.hosts.size();
    for (size_t s = 0; s < plan.steps.size(); ++s) {
      std::map<std::string, uint64_t> taken;
      for (const std::string& h : plan.steps[s]) ++taken[pool_of.at(h)->name];
      for (const auto& [pool, n] : taken) {
        const double share = static_cast<double>(n) / static_cast<double>(remaining[pool]);
        if (share > req.max_fraction + 1e-9) {
          return refuse(RemovalRefusal::kStepTooLarge,
                        absl::StrCat("step ", s + 1, " would remove ", n, " of the ",
                                     remaining[pool], " hosts of pool ", pool, " at once (",
                                     static_cast<int>(share * 100 + 0.5), "% > --max-fraction ",
                                     static_cast<int>(req.max_fraction * 100 + 0.5),
                                     "%); use a smaller --max-step"));
        }
      }
      for (const auto& [pool, n] : taken) remaining[pool] -= n;
    }
  }

  return plan;
}

absl::StatusOr<RebalancePlan> PlanRebalance(const CellMap& map, const Inventory& inv,
                                            const std::vector<CellLoad>& cells,
                                            const RebalanceRequest& req) {
  if (req.pause < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the pause must not be negative (", absl::FormatDuration(req.pause), ")"));
  }
  if (req.health_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("the health wait must not be negative (",
                                                   absl::FormatDuration(req.health_wait), ")"));
  }
  if (cells.size() != map.cells().size()) {
    return absl::InternalError(absl::StrCat("cell loads (", cells.size(),
                                            ") do not match the map's cells (",
                                            map.cells().size(), ")"));
  }
  std::vector<Pool> pools = EffectivePools(inv);
  if (!req.pool.empty()) {
    pools.erase(std::remove_if(pools.begin(), pools.end(),
                               [&req](const Pool& p) { return p.name != req.pool; }),
                pools.end());
    if (pools.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown pool \"", req.pool, "\""));
    }
  }
  RebalancePlan plan;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (!cells[i].healthy) {
      plan.refusal = RemovalRefusal::kUnhealthyCell;
      plan.reason = absl::StrCat("cell ", map.cells()[i].id, " is not healthy (",
                                 cells[i].condition, "); no cell moves until every cell serves");
      return plan;
    }
  }
  std::map<std::string, HostLoad> load;
  for (const auto& [h, dir] : inv.hosts) load[h];
  std::map<std::string, std::vector<size_t>> held;  // host -> cells, by index
  for (size_t i = 0; i < map.cells().size(); ++i) {
    const std::string& host = map.cells()[i].host;
    ++load[host].cells;
    load[host].bytes += cells[i].bytes;
    held[host].push_back(i);
  }
  // The smallest of `from`'s cells that fits on `to`, or nullopt.
  auto pick = [&](const Pool& pool, const std::string& from,
                  const std::string& to) -> std::optional<size_t> {
    if (pool.max_cells_per_host != 0 && load[to].cells + 1 > pool.max_cells_per_host) {
      return std::nullopt;
    }
    std::optional<size_t> best;
    for (size_t i : held[from]) {
      const uint64_t bytes = cells[i].bytes;
      if (pool.max_bytes_per_host != 0 && load[to].bytes + bytes > pool.max_bytes_per_host) {
        continue;
      }
      if (!best || bytes < cells[*best].bytes) best = i;
    }
    return best;
  };
  const uint64_t limit = req.max_moves == 0 ? UINT64_MAX : req.max_moves;
  for (const Pool& pool : pools) {
    auto more = [&](const std::string& a, const std::string& b) {
      const HostLoad& la = load[a];
      const HostLoad& lb = load[b];
      return la.cells != lb.cells ? la.cells > lb.cells : la.bytes > lb.bytes;
    };
    // Each move lowers the sum of squared cell counts, so this ends.
    while (plan.moves.size() < limit) {
      std::vector<std::string> hosts = pool.hosts;
      std::stable_sort(hosts.begin(), hosts.end(), more);
      bool moved = false;
      for (auto d = hosts.begin(); d != hosts.end() && !moved; ++d) {
        for (auto r = hosts.rbegin(); r != hosts.rend() && *r != *d && !moved; ++r) {
          if (load[*d].cells <= load[*r].cells + 1) break;  // the rest are fuller
          const std::optional<size_t> i = pick(pool, *d, *r);
          if (!i) continue;
          const std::string from = *d, to = *r;
          std::vector<size_t>& from_cells = held[from];
          from_cells.erase(std::find(from_cells.begin(), from_cells.end(), *i));
          held[to].push_back(*i);
          load[from].cells--;
          load[from].bytes -= cells[*i].bytes;
          load[to].cells++;
          load[to].bytes += cells[*i].bytes;
          plan.moves.push_back({map.cells()[*i].id, from, to, cells[*i].bytes, plan.moves.size()});
          moved = true;
        }
      }
      if (!moved) break;
    }
  }
  return plan;
}

}  // namespace cellindex
