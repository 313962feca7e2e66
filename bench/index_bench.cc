// Index vs raw RocksDB, Put and Get throughput, in one binary.
//
// Both sides run RocksDB with the options of one cell (MakeCellDbOptions on
// MakeCellResources: same block cache, bloom filter, write buffer, threads)
// and the same durability:
//
//   put/sync/*      Index Durability::kSync      vs RocksDB WAL on, sync=true
//   put/buffered/*  Index Durability::kBuffered  vs RocksDB WAL on, sync=false
//   get/*           random Gets of kGetKeys preloaded keys
//
// The raw baseline stores the bytes the Index stores for a record:
// EncodeRecord(record) under EncodeKey(key). It does no more than that, so the
// ratio prices everything the Index adds: validation, routing, the
// read-before-write for preconditions and versions, the reverse-location
// entries, the applied_seq/count keys, the journal framing, and on Get the
// record decode (get/rocksdb+decode shows that part alone).
//
// put/buffered/rocksdb_cell_batch is a diagnostic: raw RocksDB doing the
// RocksDB work of one Index put (see index/cell.h), without the Index's code.
//
// Each writer thread writes its own keys; every Put run starts from an empty
// store in a fresh temporary directory. The Get stores are loaded once, fully
// compacted and read through once, so both serve from a warm block cache.
//
// A summary of ratios computed from the medians is printed last. On a shared
// machine repeat, and interleave the repetitions so that a neighbour's burst
// of load does not land on one side of a comparison only:
//
//   index_bench --benchmark_repetitions=7 --benchmark_report_aggregates_only=true \
//               --benchmark_enable_random_interleaving=true
//
// The default run (one repetition) takes under a minute.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "benchmark/benchmark.h"
#include "index/cell/cell.h"
#include "index/cell/cell_keys.h"
#include "index/base/coding.h"
#include "index/base/file_util.h"
#include "index/index.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "index/model/options.h"
#include "index/cell/cell_resources.h"
#include "index/model/write_batch.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace cellindex::bench {
namespace {

constexpr char kBucket[] = "bench-bucket";
constexpr size_t kGetKeys = 100000;
constexpr size_t kLoadBatch = 1000;
// Per run. Sync puts are fdatasync-bound (about 0.3-3 ms on a shared VM disk):
// prefer more repetitions to longer runs.
constexpr double kMinSeconds = 1.0;

// Every run's stores live in a new directory under /tmp, removed after.
struct ScratchDir : TempDir {
  ScratchDir() : TempDir("/tmp", "cellindex-bench") {}
};

ObjectKey PutKey(int thread, uint64_t i) {
  return {kBucket, absl::StrFormat("w%02d/photos/2024/img-%010d.jpg", thread, i)};
}

ObjectKey GetKey(uint64_t i) { return {kBucket, absl::StrFormat("photos/2024/img-%010d.jpg", i)}; }

Options IndexOptions(const std::string& dir, Durability durability, size_t cells) {
  Options o;
  o.data_dir = dir;
  o.durability = durability;
  o.resize_check_interval = absl::ZeroDuration();  // a fixed layout: no splits mid-run
  // 8 cells for 16 writers: two writer threads (w00, w01, ...) per cell.
  for (size_t c = 1; c < cells; ++c) {
    o.cell_boundaries.push_back(EncodeKey({kBucket, absl::StrFormat("w%02d", 16 * c / cells)}));
  }
  return o;
}

// Raw RocksDB with exactly one cell's options, but its own WAL on.
struct RawStore {
  RawStore(const std::string& dir, Durability durability) {
    Options o;  // defaults, as the Index benchmarks use
    resources = MakeCellResources(o);
    Check(OpenCellDb(o, resources, dir, &db, &locations), "open rocksdb");
    write_options.disableWAL = false;
    write_options.sync = durability == Durability::kSync;
  }

  CellResources resources;
  std::unique_ptr<rocksdb::DB> db;  // destroyed before `resources`
  std::unique_ptr<rocksdb::ColumnFamilyHandle> locations;  // destroyed before `db`
  rocksdb::WriteOptions write_options;
};

// ---- Put ----------------------------------------------------------------
//
// Thread 0 opens the store before the timing loop and closes it after. The
// loop's start and end are barriers across all threads of a run, so the other
// threads only see the store once it is open and are done with it before it
// closes.

struct RawPutRun {
  ScratchDir dir;
  std::unique_ptr<RawStore> store;
};
RawPutRun* raw_put = nullptr;

void BM_RawPut(benchmark::State& state, Durability durability) {
  if (state.thread_index() == 0) {
    raw_put = new RawPutRun;
    raw_put->store = std::make_unique<RawStore>(raw_put->dir.path() + "/db", durability);
  }
  const std::string value = EncodeRecord(BenchRecord());
  const int thread = state.thread_index();
  uint64_t i = 0;
  for (auto _ : state) {
    const std::string key = EncodeKey(PutKey(thread, i++));
    Check(raw_put->store->db->Put(raw_put->store->write_options, key, value), "rocksdb put");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete raw_put;
    raw_put = nullptr;
  }
}

// The RocksDB work a cell does for one single-put group (index/cell.h):
// read the old record, then one batch with the record, two reverse-location
// entries per extent (in the locations column family) and the state key.
void BM_RawPutCellBatch(benchmark::State& state, Durability durability) {
  if (state.thread_index() == 0) {
    raw_put = new RawPutRun;
    raw_put->store = std::make_unique<RawStore>(raw_put->dir.path() + "/db", durability);
  }
  const ObjectRecord record = BenchRecord();
  const std::string value = EncodeRecord(record);
  const int thread = state.thread_index();
  uint64_t i = 0;
  for (auto _ : state) {
    rocksdb::DB* db = raw_put->store->db.get();
    const std::string key = EncodeKey(PutKey(thread, i++));
    const std::string record_key = RecordKey(key);
    rocksdb::PinnableSlice old;
    rocksdb::Status gs =
        db->Get(rocksdb::ReadOptions(), db->DefaultColumnFamily(), record_key, &old);
    if (!gs.IsNotFound()) Check(gs, "rocksdb get");
    rocksdb::WriteBatch b;
    AddMutations(key, nullptr, &record, value, raw_put->store->locations.get(), &b);
    AddState({i, i}, &b);  // the cell's state key
    Check(db->Write(raw_put->store->write_options, &b), "rocksdb write");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete raw_put;
    raw_put = nullptr;
  }
}

struct IndexPutRun {
  ScratchDir dir;
  std::unique_ptr<Index> index;
};
IndexPutRun* index_put = nullptr;

void BM_IndexPut(benchmark::State& state, Durability durability, size_t cells) {
  if (state.thread_index() == 0) {
    index_put = new IndexPutRun;
    index_put->index = OpenIndex(IndexOptions(index_put->dir.path(), durability, cells));
  }
  const ObjectRecord record = BenchRecord();
  const int thread = state.thread_index();
  uint64_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<uint64_t> v = index_put->index->Put(PutKey(thread, i++), record);
    if (!v.ok()) Die("index put", v.status());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    if (durability == Durability::kSync) {
      uint64_t puts = 0, syncs = 0;
      for (const CellStats& c : index_put->index->Stats().cells) {
        puts += c.puts;
        syncs += c.journal_syncs;
      }
      // Group commit at work: writes acknowledged per journal fdatasync.
      state.counters["puts_per_sync"] = syncs == 0 ? 0.0 : static_cast<double>(puts) / syncs;
    }
    delete index_put;
    index_put = nullptr;
  }
}

// ---- Get ----------------------------------------------------------------

// Both stores hold the same kGetKeys records, fully compacted, cache warm.
struct GetStores {
  GetStores();

  ScratchDir dir;
  std::vector<ObjectKey> keys;
  std::vector<std::string> encoded;
  std::unique_ptr<RawStore> raw;
  std::unique_ptr<Index> index;
};
GetStores* get_stores = nullptr;  // loaded by the first Get benchmark

void CompactAll(rocksdb::DB* db) {
  rocksdb::CompactRangeOptions c;
  c.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  Check(db->CompactRange(c, nullptr, nullptr), "compact");
}

// The one RocksDB directory (it holds CURRENT) under a 1-cell index's data_dir.
std::string FindCellDb(const std::string& data_dir) {
  std::vector<std::string> found;
  ForEachFile(data_dir, [&](const std::string& path) {
    if (absl::EndsWith(path, "/CURRENT")) found.push_back(ParentDir(path));
  });
  if (found.size() != 1) {
    Die("find the cell's rocksdb",
        absl::NotFoundError(absl::StrCat(found.size(), " RocksDB directories in ", data_dir)));
  }
  return found[0];
}

GetStores::GetStores() {
  const ObjectRecord record = BenchRecord();
  const std::string value = EncodeRecord(record);
  keys.reserve(kGetKeys);
  encoded.reserve(kGetKeys);
  for (uint64_t i = 0; i < kGetKeys; ++i) {
    keys.push_back(GetKey(i));
    encoded.push_back(EncodeKey(keys.back()));
  }

  raw = std::make_unique<RawStore>(dir.path() + "/rocksdb", Durability::kBuffered);
  const Options index_options = IndexOptions(dir.path() + "/index", Durability::kBuffered, 1);
  index = OpenIndex(index_options);
  for (size_t start = 0; start < kGetKeys; start += kLoadBatch) {
    rocksdb::WriteBatch rb;
    WriteBatch ib;
    for (size_t i = start; i < std::min(kGetKeys, start + kLoadBatch); ++i) {
      Check(rb.Put(encoded[i], value), "batch put");
      ib.Put(keys[i], record);
    }
    Check(raw->db->Write(raw->write_options, &rb), "rocksdb load");
    if (absl::Status s = index->Write(ib).status(); !s.ok()) Die("index load", s);
  }
  CompactAll(raw->db.get());
  // The Index does not expose its cell's RocksDB: close it (which flushes),
  // compact the cell's RocksDB directly, and reopen.
  index.reset();
  {
    RawStore cell(FindCellDb(index_options.data_dir), Durability::kBuffered);
    CompactAll(cell.db.get());
  }
  index = OpenIndex(index_options);

  for (size_t i = 0; i < kGetKeys; ++i) {
    rocksdb::PinnableSlice v;
    Check(raw->db->Get(rocksdb::ReadOptions(), raw->db->DefaultColumnFamily(), encoded[i], &v),
          "rocksdb warm");
    if (absl::Status s = index->Get(keys[i]).status(); !s.ok()) Die("index warm", s);
  }
}

void LoadGetStores(const benchmark::State& state) {
  if (state.thread_index() == 0 && get_stores == nullptr) get_stores = new GetStores;
}

// The raw baseline: encoded key in hand, value bytes out, nothing else;
// with `decode`, plus DecodeRecord.
void BM_RawGet(benchmark::State& state, bool decode) {
  LoadGetStores(state);  // before the loop's barrier, as for Put
  uint64_t rng = 0x5eed0000ull + state.thread_index();
  for (auto _ : state) {
    const size_t i = SplitMix64(&rng) % kGetKeys;
    rocksdb::DB* db = get_stores->raw->db.get();
    rocksdb::PinnableSlice v;
    Check(db->Get(rocksdb::ReadOptions(), db->DefaultColumnFamily(), get_stores->encoded[i], &v),
          "rocksdb get");
    if (decode) {
      absl::StatusOr<ObjectRecord> r = DecodeRecord(absl::string_view(v.data(), v.size()));
      if (!r.ok()) Die("decode", r.status());
      benchmark::DoNotOptimize(r->size);
    } else {
      benchmark::DoNotOptimize(v.data());
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_IndexGet(benchmark::State& state) {
  LoadGetStores(state);
  uint64_t rng = 0x5eed0000ull + state.thread_index();
  for (auto _ : state) {
    const size_t i = SplitMix64(&rng) % kGetKeys;
    absl::StatusOr<ObjectRecord> r = get_stores->index->Get(get_stores->keys[i]);
    if (!r.ok()) Die("index get", r.status());
    benchmark::DoNotOptimize(r->size);
  }
  state.SetItemsProcessed(state.iterations());
}

void RegisterAll() {
  auto threads = [](benchmark::internal::Benchmark* b, double min_time) {
    b->Threads(1)->Threads(16)->UseRealTime()->MinTime(min_time);
  };
  threads(benchmark::RegisterBenchmark("put/sync/rocksdb", BM_RawPut, Durability::kSync),
          kMinSeconds);
  threads(benchmark::RegisterBenchmark("put/sync/index", BM_IndexPut, Durability::kSync, 1),
          kMinSeconds);
  // Parallel cells: 16 writers spread over 8 cells, 8 journals syncing at once.
  benchmark::RegisterBenchmark("put/sync/index_8cells", BM_IndexPut, Durability::kSync, 8)
      ->Threads(16)
      ->UseRealTime()
      ->MinTime(kMinSeconds);
  threads(benchmark::RegisterBenchmark("put/buffered/rocksdb", BM_RawPut, Durability::kBuffered),
          kMinSeconds);
  threads(benchmark::RegisterBenchmark("put/buffered/index", BM_IndexPut, Durability::kBuffered,
                                       1),
          kMinSeconds);
  threads(benchmark::RegisterBenchmark("put/buffered/rocksdb_cell_batch", BM_RawPutCellBatch,
                                       Durability::kBuffered),
          kMinSeconds);
  threads(benchmark::RegisterBenchmark("get/rocksdb", BM_RawGet, false), kMinSeconds);
  threads(benchmark::RegisterBenchmark("get/rocksdb+decode", BM_RawGet, true), kMinSeconds);
  threads(benchmark::RegisterBenchmark("get/index", BM_IndexGet), kMinSeconds);
}

// The console output, then a summary: Index vs RocksDB ratios and sync
// scaling, from the medians when there are repetitions. On a shared machine
// real time swings with the neighbours' load; for one thread the summary also
// gives the ratio of CPU time per operation, which swings much less.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (r.error_occurred || it == r.counters.end()) continue;
      Samples& s = samples_[absl::StrCat(r.run_name.function_name, "/", r.run_name.threads)];
      if (r.run_type == Run::RT_Aggregate) {
        if (r.aggregate_name == "median") {
          s.median_rate = it->second.value;
          s.median_cpu = r.GetAdjustedCPUTime();
        }
        if (r.aggregate_name == "cv") s.cv = it->second.value;
      } else {
        s.rate.push_back(it->second.value);
        s.cpu.push_back(r.GetAdjustedCPUTime());
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    out << "\nSummary: items/s, the median over repetitions (cv: their coefficient of "
           "variation)\n";
    for (const char* op : {"put/sync", "put/buffered", "get"}) {
      const double target = absl::string_view(op) == "get" ? 0.95 : 0.90;
      for (const char* t : {"threads:1", "threads:16"}) {
        Ratio(out, absl::StrCat(op, "/index/", t), absl::StrCat(op, "/rocksdb/", t), target);
      }
    }
    for (const char* t : {"threads:1", "threads:16"}) {
      Ratio(out, absl::StrCat("put/buffered/rocksdb_cell_batch/", t),
            absl::StrCat("put/buffered/rocksdb/", t), 0);
      Ratio(out, absl::StrCat("put/buffered/index/", t),
            absl::StrCat("put/buffered/rocksdb_cell_batch/", t), 0);
      Ratio(out, absl::StrCat("get/index/", t), absl::StrCat("get/rocksdb+decode/", t), 0);
    }
    Ratio(out, "put/sync/index/threads:16", "put/sync/index/threads:1", 5.0);
    Ratio(out, "put/sync/index_8cells/threads:16", "put/sync/index/threads:1", 5.0);
    Ratio(out, "put/sync/rocksdb/threads:16", "put/sync/rocksdb/threads:1", 0);
  }

 private:
  struct Samples {
    std::vector<double> rate, cpu;  // per repetition
    std::optional<double> median_rate, median_cpu, cv;
  };

  static std::optional<double> MedianOf(const std::vector<double>& v) {
    if (v.empty()) return std::nullopt;
    return Median(v);
  }
  std::optional<double> Rate(const Samples& s) const {
    return s.median_rate ? s.median_rate : MedianOf(s.rate);
  }
  std::optional<double> Cpu(const Samples& s) const {
    return s.median_cpu ? s.median_cpu : MedianOf(s.cpu);
  }

  // "123456/s cv 12%".
  static std::string Describe(const Samples& s, double rate) {
    return s.cv ? absl::StrFormat("%8.0f/s cv %3.0f%%", rate, 100 * *s.cv)
                : absl::StrFormat("%8.0f/s", rate);
  }

  // Prints a / b; with a target, whether the ratio reaches it.
  void Ratio(std::ostream& out, const std::string& a, const std::string& b, double target) {
    auto ia = samples_.find(a), ib = samples_.find(b);
    if (ia == samples_.end() || ib == samples_.end()) return;
    const std::optional<double> ra = Rate(ia->second), rb = Rate(ib->second);
    if (!ra || !rb || *rb <= 0) return;
    std::string extra;
    if (target > 0) {
      extra = absl::StrFormat("  target >= %.2f: %s", target, *ra / *rb >= target ? "met"
                                                                                  : "NOT met");
    }
    const std::optional<double> ca = Cpu(ia->second), cb = Cpu(ib->second);
    const bool single = absl::EndsWith(a, "/threads:1") && absl::EndsWith(b, "/threads:1");
    if (single && ca && cb && *ca > 0) {
      absl::StrAppendFormat(&extra, "  (cpu time/op ratio %.3f)", *cb / *ca);
    }
    out << absl::StrFormat("  %-42s %-18s / %-42s %-18s = %6.3f%s\n", a, Describe(ia->second, *ra),
                           b, Describe(ib->second, *rb), *ra / *rb, extra);
  }

  std::map<std::string, Samples> samples_;
};

}  // namespace
}  // namespace cellindex::bench

int main(int argc, char** argv) {
  cellindex::bench::SetProgramName("index_bench");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  cellindex::bench::RegisterAll();
  benchmark::AddCustomContext(
      "record_bytes",
      std::to_string(cellindex::EncodeRecord(cellindex::bench::BenchRecord()).size()));
  benchmark::AddCustomContext("get_keys", std::to_string(cellindex::bench::kGetKeys));
  cellindex::bench::SummaryReporter reporter(::isatty(STDOUT_FILENO)
                                          ? benchmark::ConsoleReporter::OO_ColorTabular
                                          : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  delete cellindex::bench::get_stores;
  return 0;
}
