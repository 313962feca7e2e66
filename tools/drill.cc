#include "tools/drill.h"

#include <algorithm>
#include <atomic>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "index/index.h"
#include "index/base/file_util.h"
#include "rocksdb/file_system.h"
#include "tools/bulk_load.h"
#include "tools/command_util.h"
#include "tools/exit_codes.h"
#include "tools/progress.h"
#include "tools/workload.h"

namespace cellindex::tools {
namespace {

// The index under test. A cold start replaces it, so workers borrow it per
// request; between close and reopen there is none (requests are unavailable).
class IndexHolder {
 public:
  std::shared_ptr<Index> Get() {
    absl::MutexLock lock(&mu_);
    return index_;
  }
  void Set(std::shared_ptr<Index> index) {
    absl::MutexLock lock(&mu_);
    index_ = std::move(index);
  }
  // Takes the index away and closes it once no request uses it.
  void Close() {
    std::shared_ptr<Index> old;
    {
      absl::MutexLock lock(&mu_);
      old = std::move(index_);
    }
    while (old != nullptr && old.use_count() > 1) absl::SleepFor(absl::Milliseconds(1));
  }

 private:
  absl::Mutex mu_;
  std::shared_ptr<Index> index_ ABSL_GUARDED_BY(mu_);
};

// Request outcomes while hosts are lost and recover.
struct Outcomes {
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> unavailable{0};  // the cell (or the index) was recovering
  std::atomic<uint64_t> healthy_ok{0};   // requests to cells that were never lost
  std::atomic<uint64_t> healthy_failed{0};
  std::atomic<uint64_t> errors{0};       // anything else: must stay 0
};

struct AckedWrite {
  uint64_t version;
  std::string etag;
};

struct PhaseStat {
  absl::Duration median, max;
};

PhaseStat Summarize(std::vector<absl::Duration> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.back()};
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

}  // namespace

int RunDrill(const DrillOptions& d) {
  if (d.hosts < 2 && !d.all) {
    std::cerr << "cellindex: drill needs at least 2 hosts (or --all)\n";
    return kExitInvalid;
  }
  if (!d.all && (d.lose < 1 || d.lose >= d.hosts)) {
    std::cerr << "cellindex: --lose must be between 1 and hosts - 1 (" << d.hosts - 1
              << "); use --all for a cold start\n";
    return kExitInvalid;
  }
  if (absl::Status s = RemoveAll(*rocksdb::FileSystem::Default(), d.dir); !s.ok()) return ReportError(s);
  const Workload workload;
  Options o;
  o.data_dir = d.dir;
  o.store_dir = d.dir + "/store";
  for (int h = 0; h < d.hosts; ++h) {
    o.host_dirs[absl::StrCat("h", h)] = absl::StrCat(d.dir, "/hosts/h", h);
  }
  o.num_cells = d.cells;
  o.boundary_sample = workload.Sample(std::max<uint64_t>(4096, d.cells * 64));
  o.durability = Durability::kSync;
  o.background_checkpoints = false;  // the drill checkpoints once, explicitly
  o.recovery_parallelism = d.recovery_parallelism;
  o.paranoid = d.paranoid;
  o.validate_after_recovery = !d.paranoid;

  IndexHolder holder;
  absl::Duration load_time, checkpoint_time;
  uint64_t checkpoint_bytes = 0;
  {
    absl::StatusOr<std::unique_ptr<Index>> opened = Index::Open(o);
    if (!opened.ok()) return ReportError(opened.status());
    holder.Set(std::shared_ptr<Index>(*std::move(opened)));
  }

  // 1. Load.
  {
    const absl::Time start = absl::Now();
    std::atomic<uint64_t> done{0};
    std::atomic<bool> finished{false};
    absl::Status load_status;  // the loader's until `finished`, then ours
    std::thread loader([&] {
      load_status = BulkLoad(*holder.Get(), workload, 0, d.objects, 0, &done);
      finished = true;
    });
    Progress progress("loading", d.objects);
    while (!finished.load()) {
      progress.Update(done.load());
      absl::SleepFor(absl::Milliseconds(50));
    }
    loader.join();
    if (!load_status.ok()) return ReportError(load_status);
    load_time = absl::Now() - start;
  }
  // 2. Checkpoint every cell.
  {
    const absl::Time start = absl::Now();
    absl::StatusOr<std::vector<CheckpointReport>> reports = holder.Get()->Checkpoint();
    if (!reports.ok()) return ReportError(reports.status());
    for (const CheckpointReport& r : *reports) checkpoint_bytes += r.bytes_copied;
    checkpoint_time = absl::Now() - start;
  }

  // 3. A running load: writers put new objects and overwrite loaded ones
  //    (each writer its own keys, so its acks give each key's last state);
  //    readers get loaded objects.
  std::atomic<bool> stop{false};
  std::atomic<bool> measuring{false};
  absl::Mutex lost_mu;
  absl::flat_hash_set<CellId> lost_cells;  // guarded by lost_mu
  Outcomes outcomes;
  std::vector<absl::flat_hash_map<std::string, AckedWrite>> acked(d.writers);
  std::vector<std::vector<ObjectKey>> acked_keys(d.writers);
  std::atomic<uint64_t> writes_acked{0};
  auto classify = [&](const absl::Status& s, CellId cell) {
    if (!measuring.load()) return;
    bool lost;
    {
      absl::MutexLock lock(&lost_mu);
      lost = lost_cells.contains(cell);
    }
    if (s.ok() || absl::IsNotFound(s)) {
      ++outcomes.ok;
      if (!lost) ++outcomes.healthy_ok;
    } else if (absl::IsUnavailable(s)) {
      ++outcomes.unavailable;
      if (!lost) ++outcomes.healthy_failed;
    } else {
      ++outcomes.errors;
      if (!lost) ++outcomes.healthy_failed;
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < d.writers; ++w) {
    workers.emplace_back([&, w] {
      std::mt19937_64 rng(w + 1);
      for (uint64_t n = 0; !stop.load(); ++n) {
        // Alternate: a new object, an overwrite of a loaded one.
        const uint64_t i = n % 2 == 0 ? d.objects + n / 2 * d.writers + w
                                      : (rng() % std::max<uint64_t>(1, d.objects / d.writers)) *
                                                d.writers + w;
        ObjectKey key = workload.Key(i);
        ObjectRecord rec = workload.Record(i);
        rec.etag = absl::StrFormat("\"drill-%d-%d\"", w, n);
        std::shared_ptr<Index> index = holder.Get();
        if (index == nullptr) {
          if (measuring.load()) ++outcomes.unavailable;
          absl::SleepFor(absl::Milliseconds(1));
          continue;
        }
        absl::StatusOr<uint64_t> v = index->Put(key, rec);
        classify(v.status(), index->CellFor(key));
        if (v.ok()) {
          ++writes_acked;
          const std::string encoded = EncodeKey(key);
          auto [it, inserted] = acked[w].try_emplace(encoded, AckedWrite{*v, rec.etag});
          if (inserted) {
            acked_keys[w].push_back(key);
          } else {
            it->second = {*v, rec.etag};
          }
        } else if (absl::IsUnavailable(v.status())) {
          absl::SleepFor(absl::Microseconds(200));  // back off, as a client would
        }
      }
    });
  }
  for (int r = 0; r < d.readers; ++r) {
    workers.emplace_back([&, r] {
      std::mt19937_64 rng(1000 + r);
      while (!stop.load()) {
        const ObjectKey key = workload.Key(rng() % d.objects);
        std::shared_ptr<Index> index = holder.Get();
        if (index == nullptr) {
          if (measuring.load()) ++outcomes.unavailable;
          absl::SleepFor(absl::Milliseconds(1));
          continue;
        }
        absl::Status s = index->Get(key).status();
        classify(s, index->CellFor(key));
        if (absl::IsUnavailable(s)) absl::SleepFor(absl::Microseconds(200));
      }
    });
  }
  absl::SleepFor(d.before);

  // 4. Lose hosts (or everything), and watch the lost cells come back.
  const CellMap& map = holder.Get()->cell_map();
  std::vector<CellId> recovering;
  std::vector<std::string> lost_hosts;
  absl::Time loss_start;
  absl::Duration close_time;
  measuring = true;
  if (d.all) {
    for (const CellRange& c : map.cells()) recovering.push_back(c.id);
    {
      absl::MutexLock lock(&lost_mu);
      lost_cells.insert(recovering.begin(), recovering.end());
    }
    const absl::Time close_start = absl::Now();
    holder.Close();
    close_time = absl::Now() - close_start;
    for (const auto& [host, dir] : o.host_dirs) {
      lost_hosts.push_back(host);
      if (absl::Status s = RemoveAll(*rocksdb::FileSystem::Default(), dir); !s.ok()) return ReportError(s);
    }
    loss_start = absl::Now();
    Options cold = o;
    cold.wait_for_recovery = false;
    absl::StatusOr<std::unique_ptr<Index>> reopened = Index::Open(cold);
    if (!reopened.ok()) {
      stop = true;
      for (std::thread& t : workers) t.join();
      return ReportError(reopened.status());
    }
    holder.Set(std::shared_ptr<Index>(*std::move(reopened)));
  } else {
    std::shared_ptr<Index> index = holder.Get();
    for (int h = 0; h < d.lose; ++h) {
      const std::string host = absl::StrCat("h", h);
      for (const CellStats& c : index->Stats().cells) {
        if (c.host == host) {
          absl::MutexLock lock(&lost_mu);
          lost_cells.insert(c.id);
        }
      }
    }
    for (int h = 0; h < d.lose; ++h) lost_hosts.push_back(absl::StrCat("h", h));
    loss_start = absl::Now();
    absl::StatusOr<std::vector<CellId>> moved = index->LoseHosts(lost_hosts);
    if (!moved.ok()) {
      stop = true;
      for (std::thread& t : workers) t.join();
      return ReportError(moved.status());
    }
    recovering = *moved;
  }
  absl::Duration first_available = absl::InfiniteDuration(), full_available;
  {
    Progress progress("recovering cells", recovering.size());
    std::shared_ptr<Index> index = holder.Get();
    while (true) {
      size_t serving = 0, failed = 0;
      IndexStats s = index->Stats();
      for (CellId id : recovering) {
        if (s.cells[id].state == CellPhase::kServing) ++serving;
        if (s.cells[id].state == CellPhase::kFailed) ++failed;
      }
      const absl::Duration now = absl::Now() - loss_start;
      if (serving > 0 && first_available == absl::InfiniteDuration()) first_available = now;
      progress.Update(serving);
      if (serving + failed == recovering.size()) {
        full_available = now;
        break;
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  }
  absl::SleepFor(d.after);
  measuring = false;
  stop = true;
  for (std::thread& t : workers) t.join();

  // 5. Let the background validation of the recovered cells finish.
  std::shared_ptr<Index> index = holder.Get();
  index->WaitForRecovery();
  const absl::Time validation_deadline = absl::Now() + absl::Minutes(5);
  IndexStats stats;
  while (true) {
    stats = index->Stats();
    bool pending = false;
    for (CellId id : recovering) {
      pending |= stats.cells[id].validation == ValidationState::kPending || stats.cells[id].validation == ValidationState::kRunning;
    }
    if (!pending || absl::Now() > validation_deadline) break;
    absl::SleepFor(absl::Milliseconds(20));
  }

  // 6. Read back every acknowledged write: the load, then the drill's.
  uint64_t checked = 0, lost = 0;
  std::vector<std::string> lost_examples;
  auto note_lost = [&](const ObjectKey& key, const std::string& why) {
    ++lost;
    if (lost_examples.size() < 5) lost_examples.push_back(absl::StrCat(key.bucket, "/", key.key, ": ", why));
  };
  absl::flat_hash_set<std::string> overwritten;
  for (const auto& per_writer : acked) {
    for (const auto& [encoded, a] : per_writer) overwritten.insert(encoded);
  }
  const absl::Time verify_start = absl::Now();
  {
    Progress progress("verifying acknowledged writes", d.objects + overwritten.size());
    for (uint64_t i = 0; i < d.objects; ++i) {
      const ObjectKey key = workload.Key(i);
      if (overwritten.contains(EncodeKey(key))) continue;
      absl::StatusOr<ObjectRecord> r = index->Get(key);
      ObjectRecord want = workload.Record(i);
      if (!r.ok()) {
        note_lost(key, r.status().ToString());
      } else {
        want.version = r->version;
        if (!(*r == want)) note_lost(key, "record differs");
      }
      progress.Update(++checked);
    }
    for (int w = 0; w < d.writers; ++w) {
      for (const ObjectKey& key : acked_keys[w]) {
        const AckedWrite& a = acked[w].at(EncodeKey(key));
        absl::StatusOr<ObjectRecord> r = index->Get(key);
        if (!r.ok()) {
          note_lost(key, r.status().ToString());
        } else if (r->version != a.version || r->etag != a.etag) {
          note_lost(key, absl::StrCat("version ", r->version, " etag ", r->etag, ", acknowledged ",
                                      a.version, " ", a.etag));
        }
        progress.Update(++checked);
      }
    }
  }
  const absl::Duration verify_time = absl::Now() - verify_start;

  // 7. Report.
  std::vector<absl::Duration> fetch, verify, open, replay, validate, serve;
  uint64_t bytes_fetched = 0, records_replayed = 0, failed_cells = 0;
  for (CellId id : recovering) {
    const CellStats& c = stats.cells[id];
    if (c.state == CellPhase::kFailed) ++failed_cells;
    fetch.push_back(c.recovery.fetch_time);
    verify.push_back(c.recovery.verify_time);
    open.push_back(c.recovery.open_time);
    replay.push_back(c.recovery.replay_time);
    validate.push_back(c.recovery.validate_time);
    serve.push_back(c.recovery.time_to_serve);
    bytes_fetched += c.recovery.bytes_fetched;
    records_replayed += c.recovery.records_replayed;
  }
  const uint64_t requests = outcomes.ok + outcomes.unavailable + outcomes.errors;
  const uint64_t healthy = outcomes.healthy_ok + outcomes.healthy_failed;
  const double availability = requests ? 100.0 * outcomes.ok / requests : 100.0;
  const double healthy_availability = healthy ? 100.0 * outcomes.healthy_ok / healthy : 100.0;
  const std::vector<std::pair<const char*, PhaseStat>> phases = {
      {"fetch", Summarize(fetch)},   {"verify", Summarize(verify)},
      {"open", Summarize(open)},     {"replay", Summarize(replay)},
      {"validate", Summarize(validate)}, {"time to serve", Summarize(serve)}};

  if (d.json) {
    Json j;
    j["hosts"] = d.hosts;
    j["cells"] = stats.cells.size();
    j["objects"] = d.objects;
    j["lost_hosts"] = lost_hosts;
    j["cold_start"] = d.all;
    j["cells_recovered"] = recovering.size();
    j["cells_failed"] = failed_cells;
    j["load_seconds"] = Seconds(load_time);
    j["checkpoint_seconds"] = Seconds(checkpoint_time);
    j["checkpoint_bytes"] = checkpoint_bytes;
    if (d.all) j["close_seconds"] = Seconds(close_time);
    j["time_to_first_availability_seconds"] = Seconds(first_available);
    j["time_to_full_availability_seconds"] = Seconds(full_available);
    for (const auto& [name, p] : phases) {
      j["phases"][name] = {{"median_seconds", Seconds(p.median)}, {"max_seconds", Seconds(p.max)}};
    }
    j["bytes_fetched"] = bytes_fetched;
    j["journal_records_replayed"] = records_replayed;
    j["requests"] = {{"total", requests},
                     {"ok", outcomes.ok.load()},
                     {"unavailable", outcomes.unavailable.load()},
                     {"errors", outcomes.errors.load()},
                     {"availability_percent", availability},
                     {"healthy_cells_total", healthy},
                     {"healthy_cells_availability_percent", healthy_availability}};
    j["writes_acknowledged_during_drill"] = writes_acked.load();
    j["acknowledged_writes_checked"] = checked;
    j["acknowledged_writes_lost"] = lost;
    j["verify_seconds"] = Seconds(verify_time);
    PrintJson(j);
  } else {
    std::cout << absl::StrFormat(
        "cellindex drill: %d hosts, %d cells, %d objects; %s\n\n", d.hosts, stats.cells.size(),
        d.objects,
        d.all ? std::string("cold start of every host")
              : absl::StrCat("lost ", d.lose, " host(s): ", absl::StrJoin(lost_hosts, ", ")));
    std::cout << absl::StrFormat("  %-28s %10s\n", "load", HumanDuration(load_time))
              << absl::StrFormat("  %-28s %10s  %s copied\n", "checkpoint (all cells)",
                                 HumanDuration(checkpoint_time), HumanBytes(checkpoint_bytes));
    if (d.all) {
      std::cout << absl::StrFormat("  %-28s %10s\n", "close (before cold start)",
                                   HumanDuration(close_time));
    }
    std::cout << absl::StrFormat("  %-28s %10s\n", "time to first availability",
                                 HumanDuration(first_available))
              << absl::StrFormat("  %-28s %10s  %d cells recovered, %d failed\n",
                                 "time to full availability", HumanDuration(full_available),
                                 recovering.size(), failed_cells)
              << absl::StrFormat("  %-28s %10s  %d acknowledged writes checked\n", "verify",
                                 HumanDuration(verify_time), checked)
              << "\n  per recovered cell        median        max\n";
    for (const auto& [name, p] : phases) {
      std::cout << absl::StrFormat("  %-20s %11s %10s\n", name, HumanDuration(p.median),
                                   HumanDuration(p.max));
    }
    std::cout << absl::StrFormat("\n  bytes fetched: %s; journal records replayed: %d\n",
                                 HumanBytes(bytes_fetched), records_replayed)
              << absl::StrFormat(
                     "  requests during recovery: %d, %.2f%% ok, %d unavailable, %d errors;\n"
                     "  requests to cells never lost: %d, %.2f%% ok\n",
                     requests, availability, outcomes.unavailable.load(), outcomes.errors.load(),
                     healthy, healthy_availability)
              << absl::StrFormat("  writes acknowledged during the drill: %d\n", writes_acked.load())
              << "\n  acknowledged writes lost: " << lost << "\n";
    for (const std::string& e : lost_examples) std::cout << "    lost " << e << "\n";
  }
  if (lost > 0 || failed_cells > 0) return kExitDataLoss;
  return outcomes.errors > 0 ? kExitOther : kExitOk;
}

}  // namespace cellindex::tools
