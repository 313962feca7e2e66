#include "tools/drill_processes.h"

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"
#include "index/rpc/cluster/cluster_client.h"
#include "recovery/coord/cluster_coord.h"
#include "recovery/coord/etcd_client.h"
#include "rocksdb/file_system.h"
#include "tools/bulk_load.h"
#include "tools/command_util.h"
#include "tools/exit_codes.h"
#include "tools/local_cluster.h"
#include "tools/progress.h"
#include "tools/workload.h"

namespace cellindex::tools {
namespace {

// A bound on the wait for every cell to serve, so that a drill that
// cannot finish says so.
constexpr absl::Duration kSettle = absl::Seconds(300);
// Loaded objects read back at the end, at most.
constexpr uint64_t kSampleChecks = 20000;
// Reads at the end that get no answer, at most, before the check stops.
constexpr uint64_t kUnreadable = 20;

// Requests of one kind (to the cells the kill took, or to the others).
struct Requests {
  std::atomic<uint64_t> ok{0}, failed{0};
  std::atomic<int64_t> max_us{0};
  void Record(bool success, absl::Duration took) {
    (success ? ok : failed).fetch_add(1);
    const int64_t us = absl::ToInt64Microseconds(took);
    int64_t seen = max_us.load();
    while (us > seen && !max_us.compare_exchange_weak(seen, us)) {
    }
  }
  Json ToJson() const {
    return {{"total", ok.load() + failed.load()},
            {"ok", ok.load()},
            {"failed", failed.load()},
            {"max_latency_ms", max_us.load() / 1000.0}};
  }
};

class ProcessDrill {
 public:
  explicit ProcessDrill(const ProcessDrillOptions& o) : o_(o) {}

  int Run();

 private:
  absl::Status Preload();
  absl::Status FindProbes();
  bool Settled();
  void Load(int thread, bool writer);
  absl::Status KillAndWatch();
  void Verify();
  int Report();
  absl::Duration RestoreMedian() const {
    return restore_.empty() ? absl::ZeroDuration() : restore_[restore_.size() / 2];
  }
  absl::Duration RestoreMax() const {
    return restore_.empty() ? absl::ZeroDuration() : restore_.back();
  }

  const ProcessDrillOptions o_;
  const Workload workload_;
  std::string store_;
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<ClusterClient> load_client_, probe_client_;
  std::map<uint32_t, ObjectKey> probe_;  // a key in each cell

  // The load.
  std::atomic<bool> stop_load_{false};
  absl::Mutex lost_mu_;
  std::set<uint32_t> lost_cells_ ABSL_GUARDED_BY(lost_mu_);
  Requests affected_, unaffected_;
  std::atomic<uint64_t> wrong_reads_{0};
  absl::Mutex acked_mu_;
  std::vector<std::pair<uint64_t, uint64_t>> acked_ ABSL_GUARDED_BY(acked_mu_);  // object, version

  // What happened.
  std::string victim_;
  std::vector<uint32_t> lost_;
  absl::Duration preload_, start_, detection_, claim_, full_, verify_;
  std::map<uint32_t, absl::Duration> cell_back_, cell_claimed_;
  std::vector<absl::Duration> restore_;  // per lost cell, sorted
  uint64_t acked_checked_ = 0, acked_lost_ = 0, sample_checked_ = 0, sample_wrong_ = 0;
  uint64_t unreadable_ = 0;  // reads at the end that got no answer (not counted as lost)
  int unclean_stops_ = 0;
};

absl::Status ProcessDrill::Preload() {
  const absl::Time start = absl::Now();
  GlobalFlags f;
  f.data_dir = o_.dir + "/seed";
  f.store_dir = store_;
  f.cells = o_.cells;
  absl::StatusOr<std::unique_ptr<Index>> index =
      OpenIndex(f, /*create=*/true, /*bulk=*/true,
                workload_.Sample(std::max<uint64_t>(4096, o_.cells * 64)));
  if (!index.ok()) return index.status();
  if (absl::Status s = BulkLoadWithProgress(
          **index, workload_, 0, o_.objects,
          std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
      !s.ok()) {
    return s;
  }
  // Every cell checkpointed, so that a restore is its checkpoint and a
  // short journal tail, as in the in-process drill.
  if (absl::StatusOr<std::vector<CheckpointReport>> c = (*index)->Checkpoint(); !c.ok()) {
    return c.status();
  }
  index->reset();
  preload_ = absl::Now() - start;
  return absl::OkStatus();
}

absl::Status ProcessDrill::FindProbes() {
  // Reads of a key that need not exist: NotFound from a serving cell is
  // an answer. Loaded objects first, then any key of the workload.
  for (uint64_t i = 0; probe_.size() < static_cast<size_t>(o_.cells) && i < o_.objects + 1000000;
       ++i) {
    const ObjectKey key = workload_.Key(i);
    absl::StatusOr<uint32_t> cell = probe_client_->CellOf(key);
    if (!cell.ok()) return cell.status();
    probe_.emplace(*cell, key);
  }
  if (probe_.size() < static_cast<size_t>(o_.cells)) {
    return absl::InternalError("no workload key found for every cell");
  }
  return absl::OkStatus();
}

bool ProcessDrill::Settled() {
  if (!cluster_->Balanced(o_.cells)) return false;
  if (probe_.size() < static_cast<size_t>(o_.cells) && !FindProbes().ok()) {
    probe_.clear();
    return false;
  }
  for (const auto& [cell, key] : probe_) {
    absl::StatusOr<ObjectRecord> r = probe_client_->Get(key);
    if (!r.ok() && !absl::IsNotFound(r.status())) return false;
  }
  return true;
}

void ProcessDrill::Load(int thread, bool writer) {
  std::mt19937_64 rng(thread * 7919 + 1);
  uint64_t next = o_.objects + thread;
  while (!stop_load_.load()) {
    const uint64_t i = writer ? next : rng() % o_.objects;
    const ObjectKey key = workload_.Key(i);
    const absl::Time start = absl::Now();
    bool ok = false;
    if (writer) {
      absl::StatusOr<uint64_t> v = load_client_->Put(key, workload_.Record(i));
      ok = v.ok();
      if (ok) {
        absl::MutexLock lock(&acked_mu_);
        acked_.emplace_back(i, *v);
      }
      next += o_.writers;
    } else {
      absl::StatusOr<ObjectRecord> r = load_client_->Get(key);
      ok = r.ok();
      if (ok) {
        ObjectRecord got = *r;
        got.version = 0;
        if (!(got == workload_.Record(i))) wrong_reads_.fetch_add(1);
      } else if (absl::IsNotFound(r.status())) {
        wrong_reads_.fetch_add(1);  // every loaded object exists
        ok = true;                  // an answer, if a wrong one
      }
    }
    const absl::Time end = absl::Now();
    // Classed once it has ended: one that started before the kill and
    // waited through it counts for the lost cells.
    absl::StatusOr<uint32_t> cell = load_client_->CellOf(key);
    bool affected = false;
    if (cell.ok()) {
      absl::MutexLock lock(&lost_mu_);
      affected = lost_cells_.count(*cell) > 0;
    }
    (affected ? affected_ : unaffected_).Record(ok, end - start);
  }
}

absl::Status ProcessDrill::KillAndWatch() {
  // The victim: the newest host that is not the controller.
  absl::StatusOr<std::string> controller = cluster_->coord().Controller();
  if (!controller.ok()) return controller.status();
  int v = o_.hosts - 1;
  if (absl::StrCat("h", v) == *controller) --v;
  victim_ = absl::StrCat("h", v);
  absl::StatusOr<std::map<uint32_t, CellOwner>> owners = cluster_->coord().Owners();
  if (!owners.ok()) return owners.status();
  for (const auto& [cell, owner] : *owners) {
    if (owner.host == victim_) lost_.push_back(cell);
  }
  {
    absl::MutexLock lock(&lost_mu_);
    lost_cells_.insert(lost_.begin(), lost_.end());
  }
  const absl::Time kill = absl::Now();
  cluster_->KillHost(v);
  std::optional<absl::Duration> detected, claimed;
  std::set<uint32_t> waiting(lost_.begin(), lost_.end());
  const absl::Duration bound = absl::Seconds(60) + 3 * o_.lease_ttl;
  while (!waiting.empty()) {
    if (absl::Now() - kill > bound) {
      return absl::DeadlineExceededError(absl::StrCat(
          waiting.size(), " of the lost cells did not serve again within ",
          absl::FormatDuration(bound), ": ", absl::StrJoin(waiting, ",")));
    }
    if (!detected) {
      absl::StatusOr<std::map<std::string, std::string>> live = cluster_->coord().Hosts();
      if (live.ok() && live->count(victim_) == 0) detected = absl::Now() - kill;
    }
    // Only cells a survivor has claimed are probed: a probe of an unclaimed
    // cell would spend its whole deadline and delay the others' times.
    std::set<uint32_t> taken;
    if (detected) {
      absl::StatusOr<std::map<uint32_t, CellOwner>> now = cluster_->coord().Owners();
      if (now.ok()) {
        for (uint32_t c : lost_) {
          auto it = now->find(c);
          if (it != now->end() && it->second.host != victim_) {
            taken.insert(c);
            cell_claimed_.try_emplace(c, absl::Now() - kill);
          }
        }
        if (!claimed && taken.size() == lost_.size()) claimed = absl::Now() - kill;
      }
    }
    if (detected) {
      for (auto it = waiting.begin(); it != waiting.end();) {
        if (taken.count(*it) == 0) {
          ++it;
          continue;
        }
        absl::StatusOr<ObjectRecord> r = probe_client_->Get(probe_.at(*it));
        if (r.ok() || absl::IsNotFound(r.status())) {
          cell_back_[*it] = absl::Now() - kill;
          it = waiting.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (!waiting.empty()) absl::SleepFor(kClusterPoll);
  }
  detection_ = detected.value_or(absl::ZeroDuration());
  full_ = absl::ZeroDuration();
  for (const auto& [cell, back] : cell_back_) full_ = std::max(full_, back);
  // Claimed between the last look at the owners and the probes that found
  // every cell back: a cell that answers was claimed by then.
  claim_ = std::min(claimed.value_or(full_), full_);
  // Each cell's restore: from its claim seen to its first answer.
  for (const auto& [cell, back] : cell_back_) {
    restore_.push_back(std::max(absl::ZeroDuration(), back - cell_claimed_.at(cell)));
  }
  std::sort(restore_.begin(), restore_.end());
  return absl::OkStatus();
}

void ProcessDrill::Verify() {
  const absl::Time start = absl::Now();
  std::vector<std::pair<uint64_t, uint64_t>> acked;
  {
    absl::MutexLock lock(&acked_mu_);
    acked = acked_;
  }
  Progress progress("verifying", acked.size());
  for (const auto& [i, version] : acked) {
    ObjectRecord want = workload_.Record(i);
    want.version = version;
    // Through the load's client (its full deadline): a slow answer is not a loss.
    absl::StatusOr<ObjectRecord> got = load_client_->Get(workload_.Key(i));
    ++acked_checked_;
    progress.Update(acked_checked_);
    if (got.ok() || absl::IsNotFound(got.status())) {
      if (!got.ok() || !(*got == want)) ++acked_lost_;
      continue;
    }
    // No answer is not a loss; but past kUnreadable of them the cluster is
    // not serving, and reading on would only wait out each deadline.
    if (++unreadable_ >= kUnreadable) break;
  }
  const uint64_t step = std::max<uint64_t>(1, o_.objects / kSampleChecks);
  for (uint64_t i = 0; i < o_.objects && unreadable_ < kUnreadable; i += step) {
    absl::StatusOr<ObjectRecord> got = load_client_->Get(workload_.Key(i));
    ++sample_checked_;
    if (absl::IsNotFound(got.status())) {
      ++sample_wrong_;
      continue;
    }
    if (!got.ok()) {
      ++unreadable_;
      continue;
    }
    ObjectRecord g = *got;
    g.version = 0;
    if (!(g == workload_.Record(i))) ++sample_wrong_;
  }
  progress.Finish();
  verify_ = absl::Now() - start;
}

int ProcessDrill::Run() {
  if (absl::Status s = RemoveAll(*rocksdb::FileSystem::Default(), o_.dir); !s.ok()) {
    return ReportError(s);
  }
  if (absl::Status s = CreateDirs(*rocksdb::FileSystem::Default(), o_.dir); !s.ok()) {
    return ReportError(s);
  }
  store_ = o_.dir + "/store";
  if (absl::Status s = Preload(); !s.ok()) return ReportError(s);
  const absl::Time start = absl::Now();
  LocalClusterOptions lo;
  lo.dir = o_.dir;
  lo.store = store_;
  lo.hosts = o_.hosts;
  lo.lease_ttl = o_.lease_ttl;
  lo.etcd_binary = o_.etcd_binary;
  lo.cellindex = o_.self;
  cluster_ = std::make_unique<LocalCluster>(lo);
  if (absl::Status s = cluster_->StartEtcd(); !s.ok()) return ReportError(s);
  if (absl::Status s = cluster_->StartHosts(); !s.ok()) return ReportError(s);
  ClusterClientOptions co;
  co.etcd_endpoints = {cluster_->endpoint()};
  absl::StatusOr<std::unique_ptr<ClusterClient>> c = ClusterClient::Connect(co);
  if (!c.ok()) return ReportError(c.status());
  load_client_ = *std::move(c);
  // The probe: short attempts and backoff, so that a cell is seen back soon.
  co.deadline = absl::Milliseconds(200);
  co.attempt_deadline = absl::Milliseconds(100);
  co.max_backoff = absl::Milliseconds(10);
  c = ClusterClient::Connect(co);
  if (!c.ok()) return ReportError(c.status());
  probe_client_ = *std::move(c);
  if (absl::Status s = WaitFor("every cell serving on balanced hosts", kSettle,
                               [&] { return Settled(); }, [&] { return cluster_->AllRunning(); });
      !s.ok()) {
    return ReportError(absl::Status(s.code(), absl::StrCat(s.message(), " (logs in ", o_.dir, ")")));
  }
  start_ = absl::Now() - start;

  std::vector<std::thread> load;
  for (int t = 0; t < o_.writers; ++t) load.emplace_back([this, t] { Load(t, true); });
  for (int t = 0; t < o_.readers; ++t) load.emplace_back([this, t] { Load(t, false); });
  absl::SleepFor(o_.before);
  absl::Status watched = KillAndWatch();
  if (watched.ok()) absl::SleepFor(o_.after);
  stop_load_ = true;
  for (std::thread& t : load) t.join();
  if (!watched.ok()) {
    (void)ReportError(watched);
    return kExitUnavailable;
  }
  Verify();
  // SIGTERM: each survivor releases its cells and its lease, and exits 0.
  unclean_stops_ = cluster_->StopHosts();
  return Report();
}

int ProcessDrill::Report() {
  const bool lost = acked_lost_ > 0 || sample_wrong_ > 0 || wrong_reads_.load() > 0;
  const bool unavailable = unaffected_.failed.load() > 0 || unreadable_ > 0;
  uint64_t acked_total = 0;
  {
    absl::MutexLock lock(&acked_mu_);
    acked_total = acked_.size();
  }
  if (o_.json) {
    Json cells = Json::object();
    for (const auto& [cell, back] : cell_back_) {
      cells[absl::StrCat(cell)] = absl::ToDoubleSeconds(back);
    }
    PrintJson({{"hosts", o_.hosts},
               {"cells", o_.cells},
               {"objects", o_.objects},
               {"lease_ttl_seconds", absl::ToDoubleSeconds(o_.lease_ttl)},
               {"killed_host", victim_},
               {"lost_cells", lost_},
               {"preload_seconds", absl::ToDoubleSeconds(preload_)},
               {"start_seconds", absl::ToDoubleSeconds(start_)},
               {"kill_to_detection_seconds", absl::ToDoubleSeconds(detection_)},
               {"kill_to_claim_seconds", absl::ToDoubleSeconds(claim_)},
               {"kill_to_full_availability_seconds", absl::ToDoubleSeconds(full_)},
               {"kill_to_cell_serving_seconds", cells},
               {"restore_seconds_median", absl::ToDoubleSeconds(RestoreMedian())},
               {"restore_seconds_max", absl::ToDoubleSeconds(RestoreMax())},
               {"requests",
                {{"unaffected_cells", unaffected_.ToJson()}, {"lost_cells", affected_.ToJson()}}},
               {"wrong_reads", wrong_reads_.load()},
               {"writes_acknowledged", acked_total},
               {"acknowledged_writes_checked", acked_checked_},
               {"acknowledged_writes_lost", acked_lost_},
               {"loaded_objects_checked", sample_checked_},
               {"loaded_objects_wrong", sample_wrong_},
               {"unreadable_at_verify", unreadable_},
               {"verify_seconds", absl::ToDoubleSeconds(verify_)},
               {"hosts_stopped_uncleanly", unclean_stops_}});
  } else {
    auto requests = [](const Requests& r) {
      return absl::StrFormat("%d ok, %d failed (slowest %.1f ms)", r.ok.load(), r.failed.load(),
                             r.max_us.load() / 1000.0);
    };
    std::cout << absl::StrFormat(
        "process drill: %d objects in %d cells on %d host processes (lease TTL %s); killed %s "
        "(cells %s)\n",
        o_.objects, o_.cells, o_.hosts, HumanDuration(o_.lease_ttl), victim_,
        absl::StrJoin(lost_, ","));
    std::cout << absl::StrFormat("  %-34s %10s\n", "preload and checkpoint", HumanDuration(preload_));
    std::cout << absl::StrFormat("  %-34s %10s\n", "etcd and hosts up, cells serving",
                                 HumanDuration(start_));
    std::cout << absl::StrFormat("  %-34s %10s\n", "kill -> detection (lease expired)",
                                 HumanDuration(detection_));
    std::cout << absl::StrFormat("  %-34s %10s\n", "kill -> cells claimed", HumanDuration(claim_));
    std::cout << absl::StrFormat("  %-34s %10s\n", "kill -> full availability",
                                 HumanDuration(full_));
    std::cout << absl::StrFormat("  %-34s %10s (max %s)\n", "restore per cell, claim -> serving",
                                 HumanDuration(RestoreMedian()), HumanDuration(RestoreMax()));
    std::cout << "  requests to other cells:  " << requests(unaffected_) << "\n";
    std::cout << "  requests to lost cells:   " << requests(affected_) << "\n";
    std::cout << absl::StrFormat(
        "  acknowledged writes: %d (%d checked), lost %d; loaded objects checked: %d, wrong %d; "
        "wrong reads during the load: %d; reads unanswered at the end: %d\n",
        acked_total, acked_checked_, acked_lost_, sample_checked_, sample_wrong_,
        wrong_reads_.load(), unreadable_);
  }
  if (lost) return kExitDataLoss;
  if (unavailable || unclean_stops_ > 0) return kExitUnavailable;
  return kExitOk;
}

}  // namespace

int RunProcessDrill(const ProcessDrillOptions& options) { return ProcessDrill(options).Run(); }

}  // namespace cellindex::tools
