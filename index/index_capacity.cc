// Capacity as an operation: removing hosts (planned by the capacity guard,
// drained step by step), adding hosts, pools, and the audit log that
// records each of them.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"
#include "index/index_impl.h"
#include "recovery/audit_log.h"
#include "recovery/capacity_guard.h"
#include "recovery/inventory_file.h"
#include "recovery/store/cell_map_file.h"
#include "recovery/store/layout.h"
#include "rocksdb/file_system.h"

namespace cellindex {
namespace {

using Json = nlohmann::ordered_json;

// How long a request to a cell being moved waits for it.
constexpr absl::Duration kMoveHold = absl::Seconds(10);

std::string ProcessUser() {
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[1024];
  if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return absl::StrCat("uid ", getuid());
}

}  // namespace

absl::Status IndexImpl::Audit(const std::string& user, const Json& entry) const {
  Json line;
  line["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  line["user"] = user.empty() ? ProcessUser() : user;
  for (const auto& [k, v] : entry.items()) line[k] = v;
  absl::Status s = AppendAuditLine(*internal_.file_system, options_.store_dir + "/" + kAuditLogFile,
                                    line.dump(-1, ' ', false, Json::error_handler_t::replace));
  RequestStatusPage();  // every audited change shows on the page
  return s;
}

absl::Status IndexImpl::AuditPlan(const std::string& user, Json entry, const absl::Status& valid,
                                  RemovalRefusal refusal, const std::string& reason,
                                  const std::string& plan_json, bool execute) const {
  if (!valid.ok()) {
    entry["outcome"] = "invalid";
    entry["reason"] = std::string(valid.message());
  } else {
    entry["plan"] = Json::parse(plan_json);
    if (refusal != RemovalRefusal::kNone) {
      entry["outcome"] = "refused";
      entry["refusal"] = RemovalRefusalName(refusal);
      entry["reason"] = reason;
    } else {
      entry["outcome"] = execute ? "accepted" : "planned";
    }
  }
  return Audit(user, entry);
}

absl::StatusOr<std::vector<std::string>> IndexImpl::AuditLog() const {
  return ReadAuditLog(*internal_.file_system, options_.store_dir + "/" + kAuditLogFile);
}

Inventory IndexImpl::inventory() const {
  absl::MutexLock lock(&map_mu_);
  return inventory_;
}

std::vector<PoolCapacity> IndexImpl::PoolCapacities() const {
  absl::MutexLock lock(&map_mu_);
  return cellindex::PoolCapacities(map_, inventory_);
}

std::vector<CellLoad> IndexImpl::CellLoads(absl::Duration wait) const {
  const absl::Time deadline = absl::Now() + wait;
  // Under capacity_mu_ (the caller's): the cells do not change meanwhile.
  std::vector<CellId> ids;
  for (const CellRange& c : map_.cells()) ids.push_back(c.id);
  std::vector<CellLoad> loads(ids.size());
  for (;;) {
    bool settling = false;
    for (size_t i = 0; i < loads.size(); ++i) {
      CellLoad& l = loads[i];
      l.condition.clear();
      l.healthy = cells_->Healthy(ids[i], &l.condition);
      // Failed (or failed validation) stays so: no point waiting for it.
      if (!l.healthy && l.condition.rfind("failed", 0) != 0 &&
          l.condition != "validation failed") {
        settling = true;
      }
    }
    if (!settling || absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  for (size_t i = 0; i < loads.size(); ++i) {
    CellStats st = cells_->Stats(ids[i]);
    loads[i].bytes = st.sst_bytes + st.memtable_bytes;
  }
  return loads;
}

absl::StatusOr<RemovalPlan> IndexImpl::RemoveHosts(const HostRemoval& request) {
  if (absl::Status s = RefuseInCluster(); !s.ok()) return s;
  absl::MutexLock capacity_lock(&capacity_mu_);
  std::vector<CellLoad> loads = CellLoads(request.health_wait);
  absl::StatusOr<RemovalPlan> plan = [&] {
    absl::MutexLock lock(&map_mu_);
    return PlanRemoval(map_, inventory_, loads, request);
  }();
  Json entry;
  entry["op"] = "remove-hosts";
  entry["execute"] = request.execute;
  if (!request.arguments.empty()) entry["arguments"] = request.arguments;
  if (!request.hosts.empty()) entry["request_hosts"] = request.hosts;
  if (!request.match.empty()) entry["match"] = request.match;
  if (request.expect) entry["expect"] = *request.expect;
  entry["max_step"] = request.max_step;
  entry["max_fraction"] = request.max_fraction;
  if (absl::Status s = AuditPlan(request.user, std::move(entry), plan.status(),
                                 plan.ok() ? plan->refusal : RemovalRefusal::kNone,
                                 plan.ok() ? plan->reason : "",
                                 plan.ok() ? RemovalPlanJson(*plan) : "", request.execute);
      !s.ok()) {
    return s;
  }
  if (!plan.ok()) return plan.status();
  if (plan->refusal != RemovalRefusal::kNone || !request.execute) return plan;
  NoteCapacityChange();
  absl::Status done = ExecuteRemoval(&*plan, request);
  Json end;
  end["op"] = "remove-hosts-done";
  end["hosts"] = plan->hosts;
  end["outcome"] = done.ok() ? "done" : "stopped";
  if (!done.ok()) end["reason"] = std::string(done.message());
  if (absl::Status s = Audit(request.user, end); !s.ok() && done.ok()) return s;
  if (!done.ok()) return done;
  return plan;
}

std::string IndexImpl::FirstUnhealthyCell(absl::Duration wait) const {
  std::vector<CellLoad> loads = CellLoads(wait);
  for (size_t i = 0; i < loads.size(); ++i) {
    if (!loads[i].healthy) {
      return absl::StrCat("cell ", map_.cells()[i].id, " is not healthy (", loads[i].condition,
                          ")");
    }
  }
  return "";
}

std::string IndexImpl::AwaitHealthy(size_t i, absl::Duration wait) const {
  const absl::Time deadline = absl::Now() + wait;
  std::string condition;
  while (!cells_->Healthy(map_.cells()[i].id, &condition)) {
    if (absl::Now() >= deadline) {
      return absl::StrCat("moved cell ", map_.cells()[i].id, " is not healthy (", condition, ")");
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return "";
}

void IndexImpl::NoteCapacityChange() {
  absl::MutexLock lock(&changes_mu_);
  ++capacity_changes_;
}

uint64_t IndexImpl::capacity_changes() const {
  absl::MutexLock lock(&changes_mu_);
  return capacity_changes_;
}

absl::StatusOr<RebalancePlan> IndexImpl::Rebalance(const RebalanceRequest& request) {
  if (absl::Status s = RefuseInCluster(); !s.ok()) return s;
  absl::StatusOr<RebalancePlan> plan;
  uint64_t changes = 0;
  {
    absl::MutexLock capacity_lock(&capacity_mu_);
    std::vector<CellLoad> loads = CellLoads(request.health_wait);
    plan = [&] {
      absl::MutexLock lock(&map_mu_);
      return PlanRebalance(map_, inventory_, loads, request);
    }();
    changes = capacity_changes();
    Json entry;
    entry["op"] = "rebalance";
    entry["execute"] = request.execute;
    if (!request.arguments.empty()) entry["arguments"] = request.arguments;
    if (!request.pool.empty()) entry["pool"] = request.pool;
    entry["max_moves"] = request.max_moves;
    entry["pause_ms"] = absl::ToDoubleMilliseconds(request.pause);
    if (absl::Status s = AuditPlan(request.user, std::move(entry), plan.status(),
                                   plan.ok() ? plan->refusal : RemovalRefusal::kNone,
                                   plan.ok() ? plan->reason : "",
                                   plan.ok() ? RebalancePlanJson(*plan) : "", request.execute);
        !s.ok()) {
      return s;
    }
    if (!plan.ok()) return plan.status();
    if (plan->refusal != RemovalRefusal::kNone || !request.execute) return plan;
  }
  absl::Status done = ExecuteRebalance(&*plan, request, changes);
  Json end;
  end["op"] = "rebalance-done";
  end["moved"] = plan->unavailable.size();
  end["outcome"] = done.ok() ? "done" : "stopped";
  if (!done.ok()) end["reason"] = std::string(done.message());
  absl::MutexLock capacity_lock(&capacity_mu_);
  if (absl::Status s = Audit(request.user, end); !s.ok() && done.ok()) return s;
  if (!done.ok()) return done;
  return plan;
}

absl::Status IndexImpl::ExecuteRebalance(RebalancePlan* plan, const RebalanceRequest& request,
                                         uint64_t changes) {
  plan->executed = true;
  for (size_t k = 0; k < plan->moves.size(); ++k) {
    const CellMove& m = plan->moves[k];
    std::string error;
    if (k > 0) {
      // The pace, without holding capacity_mu_: a host lost meanwhile is
      // handled now, not after the rebalance, and ends the pause.
      struct Since {
        const uint64_t* now;
        uint64_t then;
      } since{&capacity_changes_, changes};
      absl::MutexLock lock(&changes_mu_);
      changes_mu_.AwaitWithTimeout(
          absl::Condition(+[](Since* s) { return *s->now != s->then; }, &since), request.pause);
    }
    absl::MutexLock capacity_lock(&capacity_mu_);
    if (capacity_changes() != changes) {
      error = "the hosts or pools changed since the plan was made; plan the rebalance again";
    }
    if (error.empty() && k > 0) error = FirstUnhealthyCell(request.health_wait);
    std::optional<size_t> i;
    if (error.empty()) {
      absl::MutexLock lock(&map_mu_);
      i = map_.IndexOf(m.cell);
      if (!i || map_.cells()[*i].host != m.from || !inventory_.hosts.count(m.to)) {
        error = absl::StrCat("cell ", m.cell, " is no longer on ", m.from, " or ", m.to,
                             " is gone");
      }
    }
    if (error.empty()) {
      if (internal_.move_hook) internal_.move_hook(m.cell, MoveEvent::kStart);
      absl::StatusOr<absl::Duration> window = DrainCell(m.cell, m.to, m.from);
      if (window.ok()) {
        plan->unavailable.push_back(*window);
        error = AwaitHealthy(*i, std::max(request.health_wait, absl::Seconds(30)));
      } else {
        error = std::string(window.status().message());
      }
    }
    Json entry;
    entry["op"] = "rebalance-step";
    entry["step"] = k + 1;
    entry["cell"] = m.cell;
    entry["from"] = m.from;
    entry["to"] = m.to;
    entry["outcome"] = error.empty() ? "done" : "stopped";
    if (!error.empty()) entry["reason"] = error;
    if (plan->unavailable.size() == k + 1) {
      entry["unavailable_ms"] = absl::ToDoubleMilliseconds(plan->unavailable.back());
    }
    if (absl::Status st = Audit(request.user, entry); !st.ok()) return st;
    if (!error.empty()) {
      plan->error = error;
      return absl::AbortedError(absl::StrCat("move ", k + 1, " (cell ", m.cell, " ", m.from,
                                             " -> ", m.to, ") stopped: ", error));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> IndexImpl::DrainCell(CellId id, const std::string& to,
                                                    const std::string& from,
                                                    bool lock_capacity) {
  rocksdb::FileSystem& fs = *internal_.file_system;
  std::string old_dir;
  auto switch_place = [&]() -> absl::Status {
    if (internal_.move_hook) internal_.move_hook(id, MoveEvent::kBeforeSwitch);
    absl::MutexLock lock(&map_mu_);
    // Found again: a split's child is chosen to move outside capacity_mu_,
    // so the map may have changed since.
    const std::optional<size_t> i = map_.IndexOf(id);
    if (!i) return absl::FailedPreconditionError(absl::StrCat("cell ", id, " left the map"));
    const std::string& host = map_.cells()[*i].host;
    if (!from.empty() && host != from) {
      return absl::AbortedError(absl::StrCat("cell ", id, " moved from ", from, " to ", host,
                                             " meanwhile"));
    }
    if (!inventory_.hosts.count(to)) {
      return absl::UnavailableError(absl::StrCat("host ", to, " is gone"));
    }
    auto it = inventory_.hosts.find(host);
    if (it != inventory_.hosts.end()) old_dir = CellDbDir(it->second, id);
    CellMap next = map_;
    next.MoveCell(*i, to);
    if (absl::Status s = SaveCellMap(fs, options_.store_dir + "/" + kCellMapFile, next); !s.ok()) {
      return s;
    }
    map_.MoveCell(*i, to);
    PublishMapLocked();
    return absl::OkStatus();
  };
  absl::StatusOr<absl::Duration> window =
      cells_->Move(id, switch_place, kMoveHold, lock_capacity ? &capacity_mu_ : nullptr);
  if (internal_.move_hook) internal_.move_hook(id, MoveEvent::kAfterOpen);
  if (window.ok() && !old_dir.empty()) {
    // The state left behind is stale now; the journal and checkpoint in
    // the store hold everything it did. The move is done either way: a
    // directory that could not go now goes at the next open
    // (RemoveStaleCellDirs), so its failure does not fail the move.
    (void)RemoveAll(fs, old_dir);
  }
  return window;
}

absl::Status IndexImpl::ExecuteRemoval(RemovalPlan* plan, const HostRemoval& request) {
  rocksdb::FileSystem& fs = *internal_.file_system;
  plan->executed = true;
  for (size_t s = 0; s < plan->steps.size(); ++s) {
    RemovalStepReport report;
    report.hosts = plan->steps[s];
    // Every cell healthy before the step starts (the plan checked before
    // the first).
    if (s > 0) report.error = FirstUnhealthyCell(request.health_wait);
    std::vector<size_t> moved;
    for (const CellMove& m : plan->moves) {
      if (m.step != s || !report.error.empty()) continue;
      const std::optional<size_t> found = map_.IndexOf(m.cell);  // under capacity_mu_
      if (!found) {
        report.error = absl::StrCat("cell ", m.cell, " is no longer in the cell map");
        break;
      }
      const size_t i = *found;
      if (internal_.move_hook) internal_.move_hook(m.cell, MoveEvent::kStart);
      absl::StatusOr<absl::Duration> window = DrainCell(m.cell, m.to);
      if (!window.ok()) {
        report.error = absl::StrCat("cell ", m.cell, " to ", m.to, ": ", window.status().message());
        break;
      }
      report.unavailable.push_back(*window);
      moved.push_back(i);
    }
    // Every moved cell serves and validates before the next step.
    if (report.error.empty()) {
      const absl::Time deadline = absl::Now() + std::max(request.health_wait, absl::Seconds(30));
      for (size_t i : moved) {
        report.error = AwaitHealthy(i, std::max(deadline - absl::Now(), absl::ZeroDuration()));
        if (!report.error.empty()) break;
      }
    }
    if (report.error.empty()) {
      // The hosts hold no cell now: out of the inventory.
      absl::MutexLock lock(&map_mu_);
      for (const std::string& h : report.hosts) inventory_.RemoveHost(h);
      if (absl::Status st = SaveInventory(fs, inventory_path(), inventory_); !st.ok()) {
        report.error = std::string(st.message());
      }
    }
    report.done = report.error.empty();
    Json entry;
    entry["op"] = "remove-hosts-step";
    entry["step"] = s + 1;
    entry["hosts"] = report.hosts;
    entry["outcome"] = report.done ? "done" : "stopped";
    if (!report.done) entry["reason"] = report.error;
    Json windows = Json::array();
    for (absl::Duration d : report.unavailable) windows.push_back(absl::ToDoubleMilliseconds(d));
    entry["unavailable_ms"] = windows;
    const std::string error = report.error;
    plan->step_reports.push_back(std::move(report));
    if (absl::Status st = Audit(request.user, entry); !st.ok()) return st;
    if (!error.empty()) {
      return absl::AbortedError(absl::StrCat("step ", s + 1, " stopped: ", error));
    }
  }
  return absl::OkStatus();
}

absl::Status IndexImpl::AddHost(const std::string& name, const std::string& dir,
                                const std::string& pool, const std::string& user) {
  if (absl::Status s = RefuseInCluster(); !s.ok()) return s;
  absl::MutexLock capacity_lock(&capacity_mu_);
  rocksdb::FileSystem& fs = *internal_.file_system;
  absl::Status result = [&]() -> absl::Status {
    if (name.empty() || dir.empty()) {
      return absl::InvalidArgumentError("a host needs a name and a directory");
    }
    Inventory next;
    {
      absl::MutexLock lock(&map_mu_);
      if (inventory_.hosts.count(name)) {
        return absl::InvalidArgumentError(absl::StrCat("host ", name, " exists already"));
      }
      next = inventory_;
    }
    // Kept absolute: later opens may run elsewhere.
    const std::string abs = NormalPath(fs, dir);
    next.hosts[name] = abs;
    if (absl::Status s = CheckDirectories(next.hosts); !s.ok()) return s;
    if (!pool.empty()) {
      // The host and its pool in one change: never added to the wrong pool.
      Pool p;
      p.name = pool;
      if (const Pool* old = next.FindPool(pool)) p = *old;
      // Members that are gone (an inventory written before losses left
      // pools) go now.
      p.hosts.erase(std::remove_if(p.hosts.begin(), p.hosts.end(),
                                   [&next](const std::string& h) { return !next.hosts.count(h); }),
                    p.hosts.end());
      p.hosts.push_back(name);
      if (absl::Status s = ValidatePool(p); !s.ok()) return s;
      next.SetPool(std::move(p));
    }
    if (absl::Status s = CreateDirs(fs, abs); !s.ok()) return s;
    absl::MutexLock lock(&map_mu_);
    if (absl::Status s = SaveInventory(fs, inventory_path(), next); !s.ok()) return s;
    inventory_ = std::move(next);
    return absl::OkStatus();
  }();
  if (result.ok()) NoteCapacityChange();
  Json entry;
  entry["op"] = "add-host";
  entry["host"] = name;
  entry["dir"] = dir;
  if (!pool.empty()) entry["pool"] = pool;
  entry["outcome"] = result.ok() ? "done" : "refused";
  if (!result.ok()) entry["reason"] = std::string(result.message());
  if (absl::Status s = Audit(user, entry); !s.ok() && result.ok()) return s;
  return result;
}

absl::Status IndexImpl::SetPool(const Pool& pool, const std::string& user) {
  if (absl::Status s = RefuseInCluster(); !s.ok()) return s;
  absl::MutexLock capacity_lock(&capacity_mu_);
  absl::Status result = [&]() -> absl::Status {
    if (absl::Status s = ValidatePool(pool); !s.ok()) return s;
    absl::MutexLock lock(&map_mu_);
    for (const std::string& h : pool.hosts) {
      if (!inventory_.hosts.count(h)) {
        return absl::InvalidArgumentError(
            absl::StrCat("pool ", pool.name, ": unknown host \"", h, "\""));
      }
    }
    Inventory next = inventory_;
    next.SetPool(pool);
    if (absl::Status s = SaveInventory(*internal_.file_system, inventory_path(), next); !s.ok()) {
      return s;
    }
    inventory_ = std::move(next);
    return absl::OkStatus();
  }();
  if (result.ok()) NoteCapacityChange();
  Json entry;
  entry["op"] = "set-pool";
  entry["pool"] = pool.name;
  entry["hosts"] = pool.hosts;
  entry["min_hosts"] = pool.min_hosts;
  entry["min_spare_cells"] = pool.min_spare_cells;
  entry["max_cells_per_host"] = pool.max_cells_per_host;
  entry["max_bytes_per_host"] = pool.max_bytes_per_host;
  entry["outcome"] = result.ok() ? "done" : "refused";
  if (!result.ok()) entry["reason"] = std::string(result.message());
  if (absl::Status s = Audit(user, entry); !s.ok() && result.ok()) return s;
  return result;
}

}  // namespace cellindex
