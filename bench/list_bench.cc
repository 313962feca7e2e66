// Listing: Index::List against a raw RocksDB iterator, and delimiter listings
// whose cost follows the number of common prefixes, not of keys.
//
//   page/index              Index::List of 1000 keys after a random start_after
//   page/rocksdb            the same 1000 entries by a raw iterator: Seek, then
//                           Next, copying each key and value out (a page a
//                           caller could use)
//   page/rocksdb+decode     the same, also decoding each record (DecodeRecord)
//   delimiter/gG/kK         Index::List with delimiter "/" over a bucket of K
//                           keys in G common prefixes: one page holding all G
//   all_keys/k100000        every key of the 100k-key bucket, 100 pages of List
//
// One index of one cell holds every bucket; the raw side opens that cell's
// RocksDB read-only, so both read the very same files (compacted once) with
// the same options, each with a block cache of the cells' size, warmed first.
//
//   list_bench --benchmark_repetitions=7 --benchmark_report_aggregates_only=true \
//              --benchmark_enable_random_interleaving=true
//
// Setting up (410k keys) takes about half a minute; a summary of ratios from
// the medians is printed last.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "index/cell.h"
#include "index/index.h"
#include "index/rocksdb_util.h"
#include "rocksdb/db.h"

namespace cellindex {
namespace {

constexpr int kPageKeys = 1000;
constexpr char kPageBucket[] = "g100-k100000";
// Buckets of delimiter listings: {common prefixes, keys}.
constexpr std::pair<int, int> kShapes[] = {
    {10, 100000}, {100, 100000}, {1000, 100000}, {100, 10000}};

[[noreturn]] void Die(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "list_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

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

Options IndexOptions(const std::string& dir) {
  Options o;
  o.data_dir = dir + "/data";
  o.durability = Durability::kBuffered;
  o.background_checkpoints = false;
  o.validate_after_recovery = false;
  return o;
}

// The index, and the same cell's RocksDB opened read-only.
struct Stores {
  std::string dir;
  std::unique_ptr<Index> index;
  CellResources raw_resources;
  std::unique_ptr<rocksdb::DB> raw;
  std::vector<std::string> page_starts;  // start_after values, each 1000+ keys before the end

  ~Stores() {
    raw.reset();
    index.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Stores* stores = nullptr;

void Load(Index& index) {
  for (const auto& [groups, keys] : kShapes) {
    WriteBatch batch;
    for (int i = 0; i < keys; ++i) {
      batch.Put({BucketName(groups, keys), KeyOf(groups, keys, i)}, RecordOf(i));
      if (batch.size() == 1000 || i + 1 == keys) {
        if (absl::Status s = index.Write(batch).status(); !s.ok()) Die("load", s);
        batch.Clear();
      }
    }
  }
}

void SetUp() {
  if (stores != nullptr) return;
  stores = new Stores;
  std::string tmpl = (std::filesystem::temp_directory_path() / "list-bench-XXXXXX").string();
  stores->dir = ::mkdtemp(tmpl.data());
  const Options options = IndexOptions(stores->dir);
  {
    absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(options);
    if (!index.ok()) Die("open", index.status());
    Load(**index);
  }  // closing flushes the memtable
  const std::string cell_dir = options.data_dir + "/cells/00000";
  stores->raw_resources = MakeCellResources(options);
  const rocksdb::Options raw_options = MakeCellDbOptions(options, stores->raw_resources);
  {
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(raw_options, cell_dir, &db);
    if (!s.ok()) Die("open cell for compaction", FromRocks(s, cell_dir));
    s = db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
    if (!s.ok()) Die("compact", FromRocks(s, cell_dir));
    delete db;
  }
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(options);
  if (!index.ok()) Die("reopen", index.status());
  stores->index = *std::move(index);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(raw_options, cell_dir, &raw);
  if (!s.ok()) Die("open read-only", FromRocks(s, cell_dir));
  stores->raw.reset(raw);

  for (int i = 0; i < 64; ++i) {
    const int start = static_cast<int>((i * 7919ull) % (100000 - kPageKeys - 1));
    stores->page_starts.push_back(KeyOf(100, 100000, start));
  }
  // Warm both block caches.
  for (const auto& [groups, keys] : kShapes) {
    ListOptions o;
    do {
      absl::StatusOr<ListResult> r = stores->index->List(BucketName(groups, keys), o);
      if (!r.ok()) Die("warm", r.status());
      o.continuation_token = r->next_continuation_token;
    } while (!o.continuation_token.empty());
  }
  std::unique_ptr<rocksdb::Iterator> it(stores->raw->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) benchmark::DoNotOptimize(it->value().size());
}

void BM_IndexPage(benchmark::State& state) {
  SetUp();
  size_t n = 0;
  for (auto _ : state) {
    ListOptions o;
    o.start_after = stores->page_starts[n++ % stores->page_starts.size()];
    absl::StatusOr<ListResult> r = stores->index->List(kPageBucket, o);
    if (!r.ok() || r->key_count != kPageKeys) Die("list", r.status());
    benchmark::DoNotOptimize(r->contents.data());
  }
  state.SetItemsProcessed(state.iterations() * kPageKeys);
}

// What a caller of raw RocksDB would do for the same page.
void BM_RawPage(benchmark::State& state, bool decode) {
  SetUp();
  const std::string bucket_prefix = EncodeBucketPrefix(kPageBucket);
  const std::string upper = absl::StrCat(std::string(1, kRecordPrefix), kPageBucket, "\x01");
  const rocksdb::Slice upper_slice(upper);
  size_t n = 0;
  for (auto _ : state) {
    const std::string start =
        absl::StrCat(std::string(1, kRecordPrefix), bucket_prefix,
                     stores->page_starts[n++ % stores->page_starts.size()], std::string(1, '\0'));
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(stores->raw->NewIterator(ro));
    std::vector<std::pair<std::string, std::string>> page;
    page.reserve(kPageKeys);
    for (it->Seek(start); it->Valid() && page.size() < kPageKeys; it->Next()) {
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
  state.SetItemsProcessed(state.iterations() * kPageKeys);
}

void BM_DelimiterList(benchmark::State& state, int groups, int keys) {
  SetUp();
  ListOptions o;
  o.delimiter = "/";
  for (auto _ : state) {
    absl::StatusOr<ListResult> r = stores->index->List(BucketName(groups, keys), o);
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
      absl::StatusOr<ListResult> r = stores->index->List(BucketName(100, 100000), o);
      if (!r.ok()) Die("list all", r.status());
      listed += r->key_count;
      o.continuation_token = r->next_continuation_token;
    } while (!o.continuation_token.empty());
    if (listed != 100000) Die("list all", absl::InternalError("wrong count"));
  }
  state.SetItemsProcessed(state.iterations() * 100000);
}

void RegisterAll() {
  benchmark::RegisterBenchmark("page/index", BM_IndexPage)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("page/rocksdb", BM_RawPage, false)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("page/rocksdb+decode", BM_RawPage, true)
      ->Unit(benchmark::kMicrosecond);
  for (const auto& [groups, keys] : kShapes) {
    benchmark::RegisterBenchmark(absl::StrFormat("delimiter/g%d/k%d", groups, keys).c_str(),
                                 BM_DelimiterList, groups, keys)
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("all_keys/k100000", BM_AllKeys)->Unit(benchmark::kMicrosecond);
}

// The console output, then the ratios that matter, from the medians of the
// repetitions (or the single run). On a shared machine real time swings with
// the neighbours' load; CPU time per page swings much less, so the page
// comparison gives both.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      Samples& s = samples_[r.run_name.function_name];
      // With --benchmark_report_aggregates_only only the aggregates come.
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") {
        s.median_real = r.GetAdjustedRealTime();
        s.median_cpu = r.GetAdjustedCPUTime();
      } else if (r.run_type != Run::RT_Aggregate) {
        s.real.push_back(r.GetAdjustedRealTime());
        s.cpu.push_back(r.GetAdjustedCPUTime());
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    out << "\nSummary (medians over repetitions; times per call in us):\n";
    const Samples* index = Find("page/index");
    const Samples* raw = Find("page/rocksdb");
    const Samples* decoded = Find("page/rocksdb+decode");
    if (index != nullptr && raw != nullptr) {
      const double real = Real(*raw) / Real(*index);
      out << absl::StrFormat(
          "  1000-key page: index %.0f (cpu %.0f), raw iterator %.0f (cpu %.0f)\n"
          "    throughput index/raw: real time %.2f, cpu time %.2f (target >= 0.90: %s)\n",
          Real(*index), Cpu(*index), Real(*raw), Cpu(*raw), real, Cpu(*raw) / Cpu(*index),
          real >= 0.9 ? "met" : "NOT met");
      if (decoded != nullptr) {
        out << absl::StrFormat("    raw iterator + DecodeRecord: %.0f (cpu %.0f)\n", Real(*decoded),
                               Cpu(*decoded));
      }
    }
    for (const auto& [groups, keys] : kShapes) {
      if (const Samples* d = Find(absl::StrFormat("delimiter/g%d/k%d", groups, keys))) {
        const double t = Real(*d);
        out << absl::StrFormat(
            "  delimiter listing, %4d groups over %6d keys: %8.1f  "
            "(%.2f per group, %.4f per key)\n",
            groups, keys, t, t / groups, t / keys);
      }
    }
    const Samples* all = Find("all_keys/k100000");
    const Samples* d100 = Find("delimiter/g100/k100000");
    if (all != nullptr && d100 != nullptr) {
      out << absl::StrFormat(
          "  every key of the 100-group bucket (100 pages): %.0f, %.0fx its "
          "delimiter listing\n",
          Real(*all), Real(*all) / Real(*d100));
    }
  }

 private:
  struct Samples {
    std::vector<double> real, cpu;  // per repetition
    std::optional<double> median_real, median_cpu;
  };
  const Samples* Find(const std::string& name) const {
    auto it = samples_.find(name);
    if (it == samples_.end()) return nullptr;
    const Samples& s = it->second;
    return s.real.empty() && !s.median_real ? nullptr : &s;
  }
  static double Median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  static double Real(const Samples& s) { return s.median_real ? *s.median_real : Median(s.real); }
  static double Cpu(const Samples& s) { return s.median_cpu ? *s.median_cpu : Median(s.cpu); }

  std::map<std::string, Samples> samples_;
};

}  // namespace
}  // namespace cellindex

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  cellindex::RegisterAll();
  cellindex::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  delete cellindex::stores;
  benchmark::Shutdown();
  return 0;
}
