// Index::Metrics: the health of the index as Prometheus text exposition,
// built with prometheus-cpp's core library. Gauges are a snapshot taken at
// each call (a registry of their own); request counters and latency
// histograms accumulate in RequestMetrics.
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "index/index_impl.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace cellindex {
namespace {

constexpr CellPhase kPhases[] = {CellPhase::kQueued,  CellPhase::kFetch,  CellPhase::kVerify,
                                 CellPhase::kOpen,    CellPhase::kReplay, CellPhase::kValidate,
                                 CellPhase::kServing, CellPhase::kFailed};
constexpr ValidationState kValidations[] = {ValidationState::kOff, ValidationState::kPending,
                                            ValidationState::kRunning, ValidationState::kOk,
                                            ValidationState::kFailed};

prometheus::Family<prometheus::Gauge>& Gauge(prometheus::Registry& r, const std::string& name,
                                             const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

}  // namespace

std::string IndexImpl::Metrics() const {
  prometheus::Registry r;
  auto& state = Gauge(r, "cellindex_cell_state",
                      "1 for the phase the cell is in (serving, failed, or a recovery phase)");
  auto& validation = Gauge(r, "cellindex_cell_validation_state",
                           "1 for the state of the cell's deep validation since its recovery");
  auto& keys = Gauge(r, "cellindex_cell_keys", "Objects in the cell");
  auto& bytes = Gauge(r, "cellindex_cell_bytes", "RocksDB files and memtables of the cell");
  auto& journal = Gauge(r, "cellindex_cell_journal_bytes_since_checkpoint",
                        "Journal bytes a restore of the cell would replay");
  auto& age = Gauge(r, "cellindex_cell_last_checkpoint_age_seconds",
                    "Since the cell's last checkpoint (or the start of its recovery)");
  auto& phase_time = Gauge(r, "cellindex_cell_recovery_phase_seconds",
                           "Time of each phase of the cell's last recovery");
  auto& to_serve = Gauge(r, "cellindex_cell_recovery_time_to_serve_seconds",
                         "From the start of the cell's last recovery until it served");
  auto& by_state = Gauge(r, "cellindex_cells", "Cells by state");
  auto& hosts = Gauge(r, "cellindex_hosts", "Hosts of the index");
  auto& epoch = Gauge(r, "cellindex_cell_map_epoch", "The cell map's epoch");
  auto& first = Gauge(r, "cellindex_last_recovery_first_available_seconds",
                      "Last recovery (open or host loss): until its first cell served");
  auto& full = Gauge(r, "cellindex_last_recovery_full_available_seconds",
                     "Last recovery (open or host loss): until all its cells served");
  auto& recovering = Gauge(r, "cellindex_last_recovery_cells", "Cells the last recovery brought back");
  auto& pool_hosts = Gauge(r, "cellindex_pool_hosts", "Hosts of a pool");
  auto& pool_min_hosts = Gauge(r, "cellindex_pool_min_hosts", "A pool's minimum of hosts");
  auto& pool_cells = Gauge(r, "cellindex_pool_cells", "Cells on a pool's hosts");
  auto& pool_spare = Gauge(r, "cellindex_pool_spare_cells",
                           "Free cell places on a pool's hosts (pools with a per-host limit)");
  auto& pool_min_spare = Gauge(r, "cellindex_pool_min_spare_cells", "A pool's minimum of spare cell places");

  const absl::Time now = absl::Now();
  std::map<CellPhase, int> counts;
  CellMap map;
  size_t host_count;
  absl::Time recovery_start;
  std::vector<CellId> recovery_cells;
  std::vector<PoolCapacity> pools;
  {
    absl::MutexLock lock(&map_mu_);
    map = map_;
    host_count = inventory_.hosts.size();
    recovery_start = last_recovery_start_;
    recovery_cells = last_recovery_cells_;
    pools = cellindex::PoolCapacities(map_, inventory_);
  }
  for (size_t i = 0; i < map.cells().size(); ++i) {
    const CellId cell = map.cells()[i].id;
    const CellStats c = cells_->Stats(cell);
    const std::string id = std::to_string(cell);
    ++counts[c.state];
    for (CellPhase p : kPhases) {
      state.Add({{"cell", id}, {"host", map.cells()[i].host}, {"state", CellPhaseName(p)}})
          .Set(p == c.state ? 1 : 0);
    }
    for (ValidationState v : kValidations) {
      validation.Add({{"cell", id}, {"state", ValidationStateName(v)}})
          .Set(v == c.validation ? 1 : 0);
    }
    keys.Add({{"cell", id}}).Set(static_cast<double>(c.keys));
    bytes.Add({{"cell", id}}).Set(static_cast<double>(c.sst_bytes + c.memtable_bytes));
    journal.Add({{"cell", id}}).Set(static_cast<double>(c.journal_bytes_since_checkpoint));
    age.Add({{"cell", id}}).Set(absl::ToDoubleSeconds(now - cells_->LastCheckpointTime(cell)));
    const RecoveryReport& rr = c.recovery;
    const std::pair<const char*, absl::Duration> phases[] = {
        {"fetch", rr.fetch_time},   {"verify", rr.verify_time},     {"open", rr.open_time},
        {"replay", rr.replay_time}, {"validate", rr.validate_time}};
    for (const auto& [name, d] : phases) {
      phase_time.Add({{"cell", id}, {"phase", name}}).Set(absl::ToDoubleSeconds(d));
    }
    to_serve.Add({{"cell", id}}).Set(absl::ToDoubleSeconds(rr.time_to_serve));
  }
  for (CellPhase p : kPhases) by_state.Add({{"state", CellPhaseName(p)}}).Set(counts[p]);
  hosts.Add({}).Set(static_cast<double>(host_count));
  epoch.Add({}).Set(static_cast<double>(map.epoch()));
  recovering.Add({}).Set(static_cast<double>(recovery_cells.size()));
  // First and full availability: from the cells' serving times, once they
  // serve since the recovery began.
  absl::Duration first_at = absl::InfiniteDuration(), full_at = absl::ZeroDuration();
  bool all = !recovery_cells.empty();
  for (CellId i : recovery_cells) {
    if (cells_->Retired(i)) continue;  // split or merged since
    const absl::Time since = cells_->ServingSince(i);
    if (since < recovery_start) {
      all = false;
      continue;
    }
    first_at = std::min(first_at, since - recovery_start);
    full_at = std::max(full_at, since - recovery_start);
  }
  if (first_at != absl::InfiniteDuration()) first.Add({}).Set(absl::ToDoubleSeconds(first_at));
  if (all) full.Add({}).Set(absl::ToDoubleSeconds(full_at));
  for (const PoolCapacity& p : pools) {
    pool_hosts.Add({{"pool", p.pool}}).Set(static_cast<double>(p.hosts_before));
    pool_min_hosts.Add({{"pool", p.pool}}).Set(static_cast<double>(p.min_hosts));
    pool_cells.Add({{"pool", p.pool}}).Set(static_cast<double>(p.cells_before));
    pool_min_spare.Add({{"pool", p.pool}}).Set(static_cast<double>(p.min_spare_cells));
    if (p.spare_before) pool_spare.Add({{"pool", p.pool}}).Set(static_cast<double>(*p.spare_before));
  }

  std::vector<prometheus::MetricFamily> families = r.Collect();
  std::vector<prometheus::MetricFamily> requests = requests_->Collect();
  families.insert(families.end(), requests.begin(), requests.end());
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace cellindex
