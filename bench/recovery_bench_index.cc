#include "bench/recovery_bench_index.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_util.h"
#include "bench/recovery_bench_data.h"

namespace cellindex::bench::recovery_bench {
namespace {

// Waits (up to a minute) until the cells' SST bytes stop changing: no
// flush or compaction left from the load.
void WaitQuietIndex(Index& index) {
  const Clock::time_point start = Clock::now();
  uint64_t last = 0;
  int stable = 0;
  while (Since(start) < 60 && stable < 3) {
    uint64_t sst = 0;
    for (const CellStats& c : index.Stats().cells) sst += c.sst_bytes + c.memtable_bytes;
    stable = sst == last ? stable + 1 : 0;
    last = sst;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// Polls a Get of one stored key per cell in `want` every millisecond until
// each answers; returns seconds since t0 per cell.
std::map<CellId, double> Probe(Index& index, const std::map<CellId, ObjectKey>& keys,
                               const std::vector<CellId>& want, Clock::time_point t0) {
  std::map<CellId, double> ready;
  while (ready.size() < want.size()) {
    for (CellId id : want) {
      if (ready.count(id)) continue;
      absl::StatusOr<ObjectRecord> r = index.Get(keys.at(id));
      if (r.ok()) {
        ready[id] = Since(t0);
      } else if (!absl::IsUnavailable(r.status())) {
        Die(absl::StrCat("probe cell ", id), r.status());
      }
    }
    if (ready.size() < want.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return ready;
}

// Polls Stats() until every cell in `cells` has validation "ok".
double WaitValidated(Index& index, const std::vector<CellId>& cells, Clock::time_point t0) {
  while (true) {
    size_t ok = 0;
    for (const CellStats& c : index.Stats().cells) {
      if (std::find(cells.begin(), cells.end(), c.id) == cells.end()) continue;
      if (c.validation == ValidationState::kFailed) Die("validation", absl::DataLossError(c.error));
      ok += c.validation == ValidationState::kOk;
    }
    if (ok == cells.size()) return Since(t0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Every tail write is in the restored index.
void CheckTail(Index& index, const Flags& f) {
  uint64_t missing = 0;
  for (uint64_t k = 0; k < f.tail; ++k) {
    const uint64_t i = TailObject(k, f.objects);
    absl::StatusOr<ObjectRecord> r = index.Get(KeyOf(i));
    if (!r.ok() && !absl::IsNotFound(r.status())) Die("check tail key", r.status());
    missing += !r.ok() || r->size != RecordOf(i, 1).size;
  }
  if (missing > 0) {
    Die("check restored index",
        absl::DataLossError(absl::StrCat(missing, " of ", f.tail, " tail writes are missing")));
  }
}

// The file-system operations since `fs` was reset: per cell in `recovered`,
// the rest together.
void AddFsCounts(const CountingFileSystem& fs, const std::vector<CellId>& recovered,
                 IndexRun* r) {
  r->fs = fs.Total();
  const std::map<int, FsCounts> by_cell = fs.ByCell();
  for (CellId id : recovered) {
    auto it = by_cell.find(static_cast<int>(id));
    r->fs_cells.push_back(it == by_cell.end() ? FsCounts() : it->second);
  }
  for (const auto& [cell, counts] : by_cell) {
    if (cell == kNoCell ||
        std::find(recovered.begin(), recovered.end(), static_cast<CellId>(cell)) ==
            recovered.end()) {
      r->fs_other += counts;
    }
  }
}

void ApplyValidation(Validation v, Options* o) {
  o->validate_after_recovery = v == Validation::kBackground;
  o->paranoid = v == Validation::kParanoid;
}

// Adds what recovering cell `c` read and replayed to `r` (and its report to
// `phases` unless that is null); dies, naming `scenario`, unless it serves.
void AddRecovered(const CellStats& c, const IndexBuild& build, absl::string_view scenario,
                  IndexRun* r, Phases* phases) {
  if (c.state != CellPhase::kServing) Die(scenario, absl::InternalError(c.error));
  r->bytes_fetched += c.recovery.bytes_fetched;
  r->records_replayed += c.recovery.records_replayed;
  r->journal_bytes += build.cell_journal_bytes.at(c.id);
  r->sources.push_back(RecoverySourceName(c.recovery.source));
  if (phases != nullptr) phases->Add(c.recovery);
}

}  // namespace

const char* ValidationName(Validation v) {
  return v == Validation::kOff ? "off" : v == Validation::kBackground ? "background" : "paranoid";
}

IndexBuild BuildIndex(const Flags& f, const Layout& l) {
  IndexBuild b;
  Options o = IndexOptions(f, l);
  o.num_cells = f.cells;
  // About 200 sampled keys per cell: boundaries at their quantiles.
  const uint64_t step = std::max<uint64_t>(1, f.objects / (200 * f.cells));
  for (uint64_t i = 0; i < f.objects; i += step) o.boundary_sample.push_back(KeyOf(i));
  std::unique_ptr<Index> index = OpenIndex(o);
  const CellMap map = index->cell_map();  // by value: cells() must not outlive it
  for (const CellRange& c : map.cells()) b.cell_host[c.id] = c.host;

  absl::Mutex mu;
  Clock::time_point t = Clock::now();
  Parallel(f.load_threads, f.objects, [&](int, uint64_t begin, uint64_t end) {
    absl::flat_hash_map<CellId, WriteBatch> batches;
    auto write = [&](WriteBatch& batch) {
      absl::StatusOr<std::vector<uint64_t>> v = index->Write(batch);
      if (!v.ok()) Die("index load", v.status());
      batch.Clear();
    };
    for (uint64_t i = begin; i < end; ++i) {
      ObjectKey key = KeyOf(i);
      const CellId cell = index->CellFor(key);
      if (i == begin || batches.find(cell) == batches.end()) {
        absl::MutexLock lock(&mu);
        b.probe_key.emplace(cell, key);
      }
      WriteBatch& batch = batches[cell];
      batch.Put(std::move(key), RecordOf(i, 0));
      if (batch.size() >= kLoadBatch) write(batch);
    }
    for (auto& [cell, batch] : batches) {
      if (!batch.empty()) write(batch);
    }
  });
  WaitQuietIndex(*index);
  b.load_s = Since(t);

  t = Clock::now();
  absl::StatusOr<std::vector<CheckpointReport>> reports = index->Checkpoint();
  if (!reports.ok()) Die("checkpoint", reports.status());
  b.checkpoint_s = Since(t);
  for (const CheckpointReport& r : *reports) {
    b.checkpoint_bytes += r.total_bytes;
    b.cell_checkpoint_bytes[r.cell] = r.total_bytes;
  }

  // CellStats::journal_bytes_since_checkpoint is not filled in (it reads
  // 0), so the tail's size is the journal's growth over the tail.
  std::map<CellId, uint64_t> journal_before;
  for (const CellStats& c : index->Stats().cells) journal_before[c.id] = c.journal_bytes;
  t = Clock::now();
  Parallel(f.load_threads, f.tail, [&](int, uint64_t begin, uint64_t end) {
    for (uint64_t k = begin; k < end; ++k) {
      const uint64_t i = TailObject(k, f.objects);
      absl::StatusOr<uint64_t> v = index->Put(KeyOf(i), RecordOf(i, 1));
      if (!v.ok()) Die("index tail", v.status());
    }
  });
  b.tail_s = Since(t);
  for (const CellStats& c : index->Stats().cells) {
    b.journal_bytes += c.journal_bytes;
    const uint64_t tail = c.journal_bytes - journal_before[c.id];
    b.journal_tail_bytes += tail;
    b.cell_journal_bytes[c.id] = c.journal_bytes;
    b.cell_tail_bytes[c.id] = tail;
  }
  index.reset();  // syncs the journals; the cells flush their memtables
  b.host_bytes = TreeBytes(l.index() + "/hosts");
  std::error_code ec;
  std::filesystem::rename(l.index(), l.index_kept(), ec);
  if (ec) Die("rename", absl::ErrnoToStatus(ec.value(), l.index()));
  return b;
}

IndexRun RunLoseHost(const Flags& f, const Layout& l, const IndexBuild& build, Validation v,
                     Phases* phases) {
  RemoveTree(l.index());
  CloneTree(l.index_kept(), l.index(), LinkSstAndStore);
  Options o = IndexOptions(f, l);
  ApplyValidation(v, &o);
  auto counting = std::make_shared<CountingFileSystem>();
  InternalOptions in;
  in.file_system = counting;
  std::unique_ptr<Index> index = bench::OpenIndex(o, in);  // every cell reopens its local state
  for (const CellStats& c : index->Stats().cells) {
    if (c.state != CellPhase::kServing) Die("reopen", absl::InternalError(absl::StrCat("cell ", c.id)));
  }
  if (v == Validation::kBackground) {
    std::vector<CellId> all;
    for (const CellStats& c : index->Stats().cells) all.push_back(c.id);
    WaitValidated(*index, all, Clock::now());  // the reopen's own validation, not timed
  }
  DropFromPageCache(l.store());

  IndexRun r;
  counting->Reset();
  const double cpu0 = CpuSeconds();
  const Clock::time_point t0 = Clock::now();
  absl::StatusOr<std::vector<CellId>> moved = index->LoseHost(f.lose);
  r.lose_call_s = Since(t0);
  if (!moved.ok()) Die("lose host", moved.status());
  std::map<CellId, double> ready = Probe(*index, build.probe_key, *moved, t0);
  index->WaitForRecovery();
  r.wait_s = Since(t0);
  r.cpu_s = CpuSeconds() - cpu0;
  AddFsCounts(*counting, *moved, &r);
  if (v == Validation::kBackground) r.validated_s = WaitValidated(*index, *moved, t0);
  r.cells = moved->size();
  r.first_s = 1e9;
  for (const auto& [id, s] : ready) {
    r.first_s = std::min(r.first_s, s);
    r.full_s = std::max(r.full_s, s);
  }
  r.lib_first_s = 1e9;
  for (const CellStats& c : index->Stats().cells) {
    if (std::find(moved->begin(), moved->end(), c.id) == moved->end()) continue;
    AddRecovered(c, build, "lose host", &r, phases);
    const double serve = r.lose_call_s + absl::ToDoubleSeconds(c.recovery.time_to_serve);
    r.lib_first_s = std::min(r.lib_first_s, serve);
    r.lib_full_s = std::max(r.lib_full_s, serve);
  }
  CheckTail(*index, f);
  return r;
}

IndexRun RunColdStart(const Flags& f, const Layout& l, const IndexBuild& build, Validation v,
                      Phases* phases) {
  RemoveTree(l.index());
  // The durable store only: every host directory is gone.
  CloneTree(l.index_kept() + "/store", l.store(), LinkSstAndStore);
  MakeDirs(l.index() + "/data");
  Options o = IndexOptions(f, l);
  ApplyValidation(v, &o);
  o.wait_for_recovery = false;
  auto counting = std::make_shared<CountingFileSystem>();
  InternalOptions in;
  in.file_system = counting;
  DropFromPageCache(l.store());

  IndexRun r;
  const double cpu0 = CpuSeconds();
  const Clock::time_point t0 = Clock::now();
  std::unique_ptr<Index> index = bench::OpenIndex(o, in);
  r.open_return_s = Since(t0);
  std::vector<CellId> all;
  const CellMap map = index->cell_map();  // by value: cells() must not outlive it
  for (const CellRange& c : map.cells()) all.push_back(c.id);
  std::map<CellId, double> ready = Probe(*index, build.probe_key, all, t0);
  index->WaitForRecovery();
  r.wait_s = Since(t0);
  r.cpu_s = CpuSeconds() - cpu0;
  AddFsCounts(*counting, all, &r);
  if (v == Validation::kBackground) r.validated_s = WaitValidated(*index, all, t0);
  r.probe_first_s = 1e9;
  for (const auto& [id, s] : ready) {
    r.probe_first_s = std::min(r.probe_first_s, s);
    r.probe_full_s = std::max(r.probe_full_s, s);
  }
  const IndexStats stats = index->Stats();
  r.first_s = absl::ToDoubleSeconds(stats.time_to_first_cell);
  r.full_s = absl::ToDoubleSeconds(stats.time_to_all_cells);
  r.cells = stats.cells.size();
  for (const CellStats& c : stats.cells) AddRecovered(c, build, "cold start", &r, phases);
  CheckTail(*index, f);
  return r;
}

}  // namespace cellindex::bench::recovery_bench
