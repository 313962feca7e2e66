// Listing: ListObjects (what Index::List runs) against a raw RocksDB
// iterator, and delimiter listings whose cost follows the number of common
// prefixes, not of keys.
//
//   page/index              a 1000-key page after a random start_after
//   page/scan               the same entries through CellScan alone (List's
//                           cross-cell scan, no record decoding), copied out
//   page/rocksdb            the same entries by a raw iterator: Seek, then Next,
//                           copying each key and value out (a page a caller
//                           could use)
//   page/rocksdb+decode     the same, also decoding each record (DecodeRecord)
//   page/in_turn            raw, scan and List on the same page one after the
//                           other, timed by the thread's CPU clock, the order
//                           rotating: the comparison a noisy machine cannot skew
//   delimiter/gG/kK         delimiter "/" over a bucket of K keys in G common
//                           prefixes: one page holding all G
//   all_keys/k100000        every key of the 100k-key bucket, 100 pages
//
// One cell, opened directly, holds every bucket (compacted once): every side
// reads the very same RocksDB instance and block cache, warmed first.
// Index::List adds to ListObjects only the lookup of each serving cell it
// enters. List verifies each record's checksum and decodes its listed fields;
// the raw iterator does neither.
//
//   list_bench --benchmark_repetitions=7 --benchmark_report_aggregates_only=true \
//              --benchmark_enable_random_interleaving=true
//
// Setting up (310k keys) takes about half a minute; a summary from the
// medians is printed last.
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "benchmark/benchmark.h"
#include "index/cell/cell.h"
#include "index/cell/cell_scan.h"
#include "index/cell/listing.h"
#include "index/cell/cell_resources.h"
#include "rocksdb/db.h"

namespace cellindex::bench {
namespace {

constexpr int kPageKeys = 1000;
constexpr char kPageBucket[] = "g100-k100000";
// Buckets of delimiter listings: {common prefixes, keys}.
constexpr std::pair<int, int> kShapes[] = {
    {10, 100000}, {100, 100000}, {1000, 100000}, {100, 10000}};

std::string BucketName(int groups, int keys) { return absl::StrFormat("g%d-k%d", groups, keys); }

std::string KeyOf(int groups, int keys, int i) {
  const int per_group = keys / groups;
  return absl::StrFormat("dir-%04d/object-%07d.bin", i / per_group, i % per_group);
}

ObjectRecord RecordOf(int i) {
  ObjectRecord r;
  r.size = 4096 + i;
  r.etag = absl::StrFormat("\"%032x\"", i * 2654435761u);
  r.content_type = "application/octet-stream";
  r.storage_class = "STANDARD";
  r.user_metadata = {{"uploader", "svc-07"}};
  for (int k = 0; k < 3; ++k) {
    const int node = (i + 7 * k) % 24;
    r.locations.push_back({absl::StrFormat("node-%02d", node),
                           absl::StrFormat("vol-%02d-%02d", node, i % 12), 4096ull * i, r.size});
  }
  return r;
}

// One cell over the whole key space, opened directly, and the cell lookup
// ListObjects reads through.
struct Stores {
  // First, so destroyed last: removed once the cell has closed.
  TempDir dir{std::filesystem::temp_directory_path().string(), "list-bench"};
  CellMap map;
  Options options;
  CellResources resources;
  std::shared_ptr<Cell> cell;
  ServingCellFn serving;
  std::vector<std::string> page_starts;  // start_after values, each 1000+ keys before the end
};

Stores* stores = nullptr;

absl::StatusOr<ListResult> List(absl::string_view bucket, const ListOptions& o) {
  return ListObjects(stores->map, stores->serving, bucket, o);
}

void Load(Cell& cell) {
  for (const auto& [groups, keys] : kShapes) {
    std::vector<CellOp> ops;
    for (int i = 0; i < keys; ++i) {
      CellOp& op = ops.emplace_back();
      op.encoded_key = EncodeKey({BucketName(groups, keys), KeyOf(groups, keys, i)});
      op.record = RecordOf(i);
      if (ops.size() == 1000 || i + 1 == keys) {
        if (absl::Status s = cell.Write(std::move(ops)).status(); !s.ok()) Die("load", s);
        ops.clear();
      }
    }
  }
}

void SetUp() {
  if (stores != nullptr) return;
  stores = new Stores;
  absl::StatusOr<CellMap> map = CellMap::FromBoundaries({});
  if (!map.ok()) Die("cell map", map.status());
  stores->map = *std::move(map);
  const std::string& dir = stores->dir.path();
  stores->options.data_dir = dir;
  stores->options.durability = Durability::kBuffered;
  stores->resources = MakeCellResources(stores->options);
  absl::StatusOr<std::unique_ptr<Cell>> cell =
      Cell::Open({"bench", stores->map.cells()[0]},
                 {dir + "/db", dir + "/journal", dir + "/JOURNAL-HEAD"},
                 stores->options, stores->resources);
  if (!cell.ok()) Die("open cell", cell.status());
  stores->cell = *std::move(cell);
  stores->serving = [](size_t) -> absl::StatusOr<std::shared_ptr<Cell>> { return stores->cell; };
  Load(*stores->cell);
  rocksdb::Status s =
      stores->cell->db()->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
  if (!s.ok()) Die("compact", FromRocks(s, "compact"));

  for (int i = 0; i < 64; ++i) {
    const int start = static_cast<int>((i * 7919ull) % (100000 - kPageKeys - 1));
    stores->page_starts.push_back(KeyOf(100, 100000, start));
  }
  // Warm the block cache.
  for (const auto& [groups, keys] : kShapes) {
    ListOptions o;
    do {
      absl::StatusOr<ListResult> r = List(BucketName(groups, keys), o);
      if (!r.ok()) Die("warm", r.status());
      o.continuation_token = r->next_continuation_token;
    } while (!o.continuation_token.empty());
  }
}

// One page of List after `start`.
void IndexPage(const std::string& start) {
  ListOptions o;
  o.start_after = start;
  absl::StatusOr<ListResult> r = List(kPageBucket, o);
  if (!r.ok() || r->key_count != kPageKeys) Die("list", r.status());
  benchmark::DoNotOptimize(r->contents.data());
}

// The same entries through CellScan alone (the cross-cell scan List reads
// with), copying keys and values out: List's layering without its decoding.
void ScanPage(const std::string& start) {
  const std::string bucket_prefix = EncodeBucketPrefix(kPageBucket);
  CellScan scan(stores->map, stores->serving, CellScan::Family::kRecords,
                std::string(1, kRecordPrefix),
                PrefixSuccessor(bucket_prefix));
  std::vector<std::pair<std::string, std::string>> page;
  page.reserve(kPageKeys);
  absl::Status s = scan.Seek(absl::StrCat(bucket_prefix, start, std::string(1, '\0')));
  while (s.ok() && scan.Valid() && page.size() < kPageKeys) {
    page.emplace_back(std::string(scan.encoded_key().substr(bucket_prefix.size())),
                      std::string(scan.value()));
    s = scan.Next();
  }
  if (!s.ok() || page.size() != kPageKeys) Die("scan page", s);
  benchmark::DoNotOptimize(page.data());
}

// What a caller of raw RocksDB would do for the same page.
void RawPage(const std::string& start, bool decode) {
  const std::string bucket_prefix = EncodeBucketPrefix(kPageBucket);
  const std::string upper = absl::StrCat(std::string(1, kRecordPrefix), kPageBucket, "\x01");
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(stores->cell->db()->NewIterator(ro));
  std::vector<std::pair<std::string, std::string>> page;
  page.reserve(kPageKeys);
  const std::string first =
      absl::StrCat(std::string(1, kRecordPrefix), bucket_prefix, start, std::string(1, '\0'));
  for (it->Seek(first); it->Valid() && page.size() < kPageKeys; it->Next()) {
    const rocksdb::Slice k = it->key(), v = it->value();
    page.emplace_back(
        std::string(k.data() + 1 + bucket_prefix.size(), k.size() - 1 - bucket_prefix.size()),
        v.ToString());
    if (decode) {
      absl::StatusOr<ObjectRecord> r = DecodeRecord(page.back().second);
      if (!r.ok()) Die("decode", r.status());
      benchmark::DoNotOptimize(r->size);
    }
  }
  if (page.size() != kPageKeys) Die("raw page", absl::InternalError("short page"));
  benchmark::DoNotOptimize(page.data());
}

void BM_Page(benchmark::State& state, int kind) {
  SetUp();
  size_t n = 0;
  for (auto _ : state) {
    const std::string& start = stores->page_starts[n++ % stores->page_starts.size()];
    switch (kind) {
      case 0:
        IndexPage(start);
        break;
      case 1:
        ScanPage(start);
        break;
      default:
        RawPage(start, kind == 3);
        break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kPageKeys);
}

double ThreadCpuMicros() {
  timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

// The same pages by List, CellScan and the raw iterator, in turn, timed by
// this thread's CPU clock: a neighbour's load lands on all three alike.
void BM_PagesInTurn(benchmark::State& state) {
  SetUp();
  // The first to read a page warms the CPU caches for the others: the order
  // rotates, so each goes first as often.
  double us[3] = {0, 0, 0};  // raw, scan, index
  size_t n = 0;
  for (auto _ : state) {
    const std::string& start = stores->page_starts[n % stores->page_starts.size()];
    for (int k = 0; k < 3; ++k) {
      const int which = static_cast<int>((n + k) % 3);
      const double t0 = ThreadCpuMicros();
      switch (which) {
        case 0:
          RawPage(start, false);
          break;
        case 1:
          ScanPage(start);
          break;
        default:
          IndexPage(start);
          break;
      }
      us[which] += ThreadCpuMicros() - t0;
    }
    ++n;
  }
  const double raw_us = us[0], scan_us = us[1], index_us = us[2];
  const double pages = static_cast<double>(state.iterations());
  state.counters["raw_us"] = raw_us / pages;
  state.counters["scan_us"] = scan_us / pages;
  state.counters["index_us"] = index_us / pages;
  state.counters["index/raw"] = raw_us / index_us;
}

void BM_DelimiterList(benchmark::State& state, int groups, int keys) {
  SetUp();
  ListOptions o;
  o.delimiter = "/";
  for (auto _ : state) {
    absl::StatusOr<ListResult> r = List(BucketName(groups, keys), o);
    if (!r.ok() || r->common_prefixes.size() != static_cast<size_t>(groups) || r->is_truncated) {
      Die("delimiter list", r.status());
    }
  }
  state.SetItemsProcessed(state.iterations() * groups);
  state.counters["keys"] = keys;
  state.counters["groups"] = groups;
}

void BM_AllKeys(benchmark::State& state) {
  SetUp();
  for (auto _ : state) {
    ListOptions o;
    int listed = 0;
    do {
      absl::StatusOr<ListResult> r = List(BucketName(100, 100000), o);
      if (!r.ok()) Die("list all", r.status());
      listed += r->key_count;
      o.continuation_token = r->next_continuation_token;
    } while (!o.continuation_token.empty());
    if (listed != 100000) Die("list all", absl::InternalError("wrong count"));
  }
  state.SetItemsProcessed(state.iterations() * 100000);
}

void RegisterAll() {
  benchmark::RegisterBenchmark("page/index", BM_Page, 0)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("page/scan", BM_Page, 1)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("page/rocksdb", BM_Page, 2)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("page/rocksdb+decode", BM_Page, 3)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("page/in_turn", BM_PagesInTurn)->Unit(benchmark::kMicrosecond);
  for (const auto& [groups, keys] : kShapes) {
    benchmark::RegisterBenchmark(absl::StrFormat("delimiter/g%d/k%d", groups, keys).c_str(),
                                 BM_DelimiterList, groups, keys)
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("all_keys/k100000", BM_AllKeys)->Unit(benchmark::kMicrosecond);
}

// The console output, then the figures that matter, from the medians of the
// repetitions (or the single run).
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      Samples& s = samples_[r.run_name.function_name];
      // With --benchmark_report_aggregates_only only the aggregates come.
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type == Run::RT_Aggregate && !median) continue;
      if (median) s = Samples{};
      s.values["real"].push_back(r.GetAdjustedRealTime());
      s.values["cpu"].push_back(r.GetAdjustedCPUTime());
      for (const auto& [name, counter] : r.counters) s.values[name].push_back(counter.value);
      s.final = median;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    out << "\nSummary (medians over repetitions; microseconds per call):\n";
    auto get = [&](const std::string& bench, const std::string& value) -> std::optional<double> {
      auto it = samples_.find(bench);
      if (it == samples_.end() || it->second.final_missing(value)) return std::nullopt;
      return Median(it->second.values.at(value));
    };
    const auto raw = get("page/in_turn", "raw_us"), scan = get("page/in_turn", "scan_us"),
               index = get("page/in_turn", "index_us");
    if (raw && scan && index) {
      out << absl::StrFormat(
          "  1000-key page, CPU time, taken in turn: List %.0f, CellScan alone %.0f, raw "
          "iterator %.0f\n    List/raw throughput %.2f (target >= 0.90: %s); CellScan/raw %.2f\n",
          *index, *scan, *raw, *raw / *index, *raw / *index >= 0.9 ? "met" : "NOT met",
          *raw / *scan);
    }
    const auto alone = get("page/index", "real"), raw_alone = get("page/rocksdb", "real"),
               decoded = get("page/rocksdb+decode", "real");
    if (alone && raw_alone) {
      out << absl::StrFormat("  run apart, real time: List %.0f, raw iterator %.0f (%.2f)", *alone,
                             *raw_alone, *raw_alone / *alone);
      if (decoded) out << absl::StrFormat(", raw iterator + DecodeRecord %.0f", *decoded);
      out << "\n";
    }
    for (const auto& [groups, keys] : kShapes) {
      if (const auto t = get(absl::StrFormat("delimiter/g%d/k%d", groups, keys), "real")) {
        out << absl::StrFormat(
            "  delimiter listing, %4d groups over %6d keys: %7.1f  (%.2f per group)\n", groups,
            keys, *t, *t / groups);
      }
    }
    const auto all = get("all_keys/k100000", "real"), d100 = get("delimiter/g100/k100000", "real");
    if (all && d100) {
      out << absl::StrFormat(
          "  every key of that 100-group bucket (100 pages): %.0f, %.0fx its delimiter listing\n",
          *all, *all / *d100);
    }
  }

 private:
  struct Samples {
    std::map<std::string, std::vector<double>> values;  // per repetition, or the median
    bool final = false;
    bool final_missing(const std::string& v) const {
      auto it = values.find(v);
      return it == values.end() || it->second.empty();
    }
  };
  std::map<std::string, Samples> samples_;
};

}  // namespace
}  // namespace cellindex::bench

int main(int argc, char** argv) {
  cellindex::bench::SetProgramName("list_bench");
  benchmark::Initialize(&argc, argv);
  cellindex::bench::RegisterAll();
  cellindex::bench::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  delete cellindex::bench::stores;
  benchmark::Shutdown();
  return 0;
}
