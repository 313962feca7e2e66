// The drill's phases and what they share (tools/drill.cc runs them in order;
// tools/drill_report.cc prints what they measured).
#ifndef CELLINDEX_TOOLS_DRILL_INTERNAL_H_
#define CELLINDEX_TOOLS_DRILL_INTERNAL_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "index/index.h"
#include "tools/command_util.h"
#include "tools/drill.h"
#include "tools/drill_timeline.h"
#include "tools/workload.h"

namespace cellindex::tools {

// The index under test. A cold start replaces it, so workers borrow it per
// request; between close and reopen there is none (requests are unavailable).
class IndexHolder {
 public:
  std::shared_ptr<Index> Get();
  void Set(std::shared_ptr<Index> index);
  // Takes the index away and closes it once no request uses it.
  void Close();

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

// What the drill measured, for the report.
// The stats of cell `id` (ids are not positions once cells split or
// merge); null when the cell is gone (split or merged since).
inline const CellStats* CellById(const IndexStats& s, CellId id) {
  for (const CellStats& c : s.cells) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

struct DrillResult {
  absl::Duration load_time, checkpoint_time, close_time, verify_time;
  size_t cells_created = 0, cells_after_load = 0;  // more when cells split during the load
  uint64_t load_retries = 0;  // load writes tried again after Unavailable (BulkLoad)
  uint64_t checkpoint_bytes = 0;
  std::vector<std::string> lost_hosts;
  std::vector<CellId> recovering;  // the cells that had to come back
  absl::Duration first_available = absl::InfiniteDuration(), full_available;
  IndexStats stats;                // after recovery and validation
  uint64_t writes_acked = 0;
  uint64_t checked = 0, lost = 0;
  std::vector<std::string> lost_examples;
};

class Drill {
 public:
  explicit Drill(const DrillOptions& options) : d_(options) {}
  ~Drill();  // stops the workers if a phase failed

  // The phases, in order.
  absl::Status SetUp();
  absl::Status Load();
  absl::Status CheckpointAll();
  void StartWorkers();  // writers and readers run until StopWorkers
  absl::Status LoseHosts();
  void AwaitRecovery();
  void StopWorkers();
  void AwaitValidation();
  void Verify();

  const DrillResult& result() const { return r_; }
  const Outcomes& outcomes() const { return outcomes_; }
  // From StartWorkers on, when a report was asked for; null otherwise.
  const DrillTimeline* timeline() const { return timeline_.get(); }

 private:
  void Classify(const absl::Status& s, CellId cell);
  // A request that found no index (a cold start between close and reopen).
  void NoIndex();
  // Samples every cell's state into the timeline until the workers stop.
  void Sampler();
  void Writer(int w);
  void Reader(int r);

  const DrillOptions& d_;
  const Workload workload_;
  Options options_;
  IndexHolder holder_;
  DrillResult r_;
  Outcomes outcomes_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> measuring_{false};
  absl::Mutex lost_mu_;
  absl::flat_hash_set<CellId> lost_cells_ ABSL_GUARDED_BY(lost_mu_);
  // Per writer (each writes its own keys): each key's last acknowledged
  // write, and the keys in the order first written.
  std::vector<absl::flat_hash_map<std::string, AckedWrite>> acked_;
  std::vector<std::vector<ObjectKey>> acked_keys_;
  std::atomic<uint64_t> writes_acked_{0};
  std::vector<std::thread> workers_;
  absl::Time loss_start_;
  std::unique_ptr<DrillTimeline> timeline_;
};

// The figures the report prints, from the result.
struct PhaseStat {
  absl::Duration median, max;
};
struct DrillSummary {
  uint64_t failed_cells = 0, bytes_fetched = 0, bytes_in_store = 0, records_replayed = 0;
  uint64_t requests = 0, healthy = 0;        // during recovery; to cells never lost
  double availability = 100, healthy_availability = 100;  // percent ok
  std::vector<std::pair<const char*, PhaseStat>> phases;  // per recovered cell
};
DrillSummary Summarize(const DrillResult& result, const Outcomes& outcomes);
double Seconds(absl::Duration d);

// The report as JSON (what --json prints).
Json DrillJson(const DrillOptions& options, const DrillResult& result, const Outcomes& outcomes);
// Prints the result (text or JSON as `options.json` says).
void ReportDrill(const DrillOptions& options, const DrillResult& result,
                 const Outcomes& outcomes);

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_DRILL_INTERNAL_H_
