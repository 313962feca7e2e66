// The drill's report: what it measured, as text or JSON.
#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/command_util.h"
#include "tools/drill_internal.h"
#include "tools/progress.h"

namespace cellindex::tools {
namespace {

PhaseStat MedianMax(std::vector<absl::Duration> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.back()};
}

}  // namespace

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

DrillSummary Summarize(const DrillResult& r, const Outcomes& outcomes) {
  DrillSummary m;
  std::vector<absl::Duration> fetch, verify, open, replay, validate, serve;
  for (CellId id : r.recovering) {
    const CellStats* found = CellById(r.stats, id);
    if (found == nullptr) continue;  // split or merged since
    const CellStats& c = *found;
    if (c.state == CellPhase::kFailed) ++m.failed_cells;
    fetch.push_back(c.recovery.fetch_time);
    verify.push_back(c.recovery.verify_time);
    open.push_back(c.recovery.open_time);
    replay.push_back(c.recovery.replay_time);
    validate.push_back(c.recovery.validate_time);
    serve.push_back(c.recovery.time_to_serve);
    m.bytes_fetched += c.recovery.bytes_fetched;
    m.bytes_in_store += c.recovery.bytes_in_store;
    m.records_replayed += c.recovery.records_replayed;
  }
  m.requests = outcomes.ok + outcomes.unavailable + outcomes.errors;
  m.healthy = outcomes.healthy_ok + outcomes.healthy_failed;
  m.availability = m.requests ? 100.0 * outcomes.ok / m.requests : 100.0;
  m.healthy_availability = m.healthy ? 100.0 * outcomes.healthy_ok / m.healthy : 100.0;
  m.phases = {{"fetch", MedianMax(fetch)},       {"verify", MedianMax(verify)},
              {"open", MedianMax(open)},         {"replay", MedianMax(replay)},
              {"validate", MedianMax(validate)}, {"time to serve", MedianMax(serve)}};
  return m;
}

Json DrillJson(const DrillOptions& d, const DrillResult& r, const Outcomes& outcomes) {
  const DrillSummary m = Summarize(r, outcomes);
  Json j;
  j["hosts"] = d.hosts;
  j["cells"] = r.stats.cells.size();
  j["objects"] = d.objects;
  j["lost_hosts"] = r.lost_hosts;
  j["cold_start"] = d.all;
  j["cells_recovered"] = r.recovering.size();
  j["recovered_cell_ids"] = r.recovering;
  j["cells_failed"] = m.failed_cells;
  j["cells_created"] = r.cells_created;
  j["cells_after_load"] = r.cells_after_load;  // more than created: cells split during the load
  j["split_keys"] = d.split_keys;
  j["load_seconds"] = Seconds(r.load_time);
  j["load_retries"] = r.load_retries;
  j["checkpoint_seconds"] = Seconds(r.checkpoint_time);
  j["checkpoint_bytes"] = r.checkpoint_bytes;
  if (d.all) j["close_seconds"] = Seconds(r.close_time);
  j["time_to_first_availability_seconds"] = Seconds(r.first_available);
  j["time_to_full_availability_seconds"] = Seconds(r.full_available);
  for (const auto& [name, p] : m.phases) {
    j["phases"][name] = {{"median_seconds", Seconds(p.median)}, {"max_seconds", Seconds(p.max)}};
  }
  j["restore_mode"] = d.restore_mode == RestoreMode::kCopy ? "copy" : "in_place";
  j["bytes_fetched"] = m.bytes_fetched;
  j["bytes_served_from_store"] = m.bytes_in_store;
  j["journal_records_replayed"] = m.records_replayed;
  j["requests"] = {{"total", m.requests},
                   {"ok", outcomes.ok.load()},
                   {"unavailable", outcomes.unavailable.load()},
                   {"errors", outcomes.errors.load()},
                   {"availability_percent", m.availability},
                   {"healthy_cells_total", m.healthy},
                   {"healthy_cells_availability_percent", m.healthy_availability}};
  j["writes_acknowledged_during_drill"] = r.writes_acked;
  j["acknowledged_writes_checked"] = r.checked;
  j["acknowledged_writes_lost"] = r.lost;
  j["verify_seconds"] = Seconds(r.verify_time);
  return j;
}

void ReportDrill(const DrillOptions& d, const DrillResult& r, const Outcomes& outcomes) {
  if (d.json) {
    PrintJson(DrillJson(d, r, outcomes));
    return;
  }
  const DrillSummary m = Summarize(r, outcomes);
  {
    std::cout << absl::StrFormat(
        "cellindex drill: %d hosts, %d cells, %d objects; %s\n\n", d.hosts, r.stats.cells.size(),
        d.objects,
        d.all ? std::string("cold start of every host")
              : absl::StrCat("lost ", d.lose, " host(s): ", absl::StrJoin(r.lost_hosts, ", ")));
    if (r.cells_after_load != r.cells_created) {
      std::cout << absl::StrFormat("  cells split during the load: %d -> %d (split at %d objects)\n",
                                   r.cells_created, r.cells_after_load, d.split_keys);
    }
    std::cout << absl::StrFormat("  %-28s %10s\n", "load", HumanDuration(r.load_time));
    if (r.load_retries > 0) {
      std::cout << absl::StrFormat("  %-28s %10d  (writes refused Unavailable, tried again)\n",
                                   "load retries", r.load_retries);
    }
    std::cout << absl::StrFormat("  %-28s %10s  %s copied\n", "checkpoint (all cells)",
                                 HumanDuration(r.checkpoint_time), HumanBytes(r.checkpoint_bytes));
    if (d.all) {
      std::cout << absl::StrFormat("  %-28s %10s\n", "close (before cold start)",
                                   HumanDuration(r.close_time));
    }
    std::cout << absl::StrFormat("  %-28s %10s\n", "time to first availability",
                                 HumanDuration(r.first_available))
              << absl::StrFormat("  %-28s %10s  %d cells recovered, %d failed\n",
                                 "time to full availability", HumanDuration(r.full_available),
                                 r.recovering.size(), m.failed_cells)
              << absl::StrFormat("  %-28s %10s  %d acknowledged writes checked\n", "verify",
                                 HumanDuration(r.verify_time), r.checked)
              << "\n  per recovered cell        median        max\n";
    for (const auto& [name, p] : m.phases) {
      std::cout << absl::StrFormat("  %-20s %11s %10s\n", name, HumanDuration(p.median),
                                   HumanDuration(p.max));
    }
    std::cout << absl::StrFormat(
                     "\n  restore %s: bytes fetched: %s; served from the store while copied: "
                     "%s; journal records replayed: %d\n",
                     d.restore_mode == RestoreMode::kCopy ? "by copy" : "in place",
                     HumanBytes(m.bytes_fetched), HumanBytes(m.bytes_in_store), m.records_replayed)
              << absl::StrFormat(
                     "  requests during recovery: %d, %.2f%% ok, %d unavailable, %d errors;\n"
                     "  requests to cells never lost: %d, %.2f%% ok\n",
                     m.requests, m.availability, outcomes.unavailable.load(),
                     outcomes.errors.load(), m.healthy, m.healthy_availability)
              << absl::StrFormat("  writes acknowledged during the drill: %d\n", r.writes_acked)
              << "\n  acknowledged writes lost: " << r.lost << "\n";
    for (const std::string& e : r.lost_examples) std::cout << "    lost " << e << "\n";
  }
}

}  // namespace cellindex::tools
