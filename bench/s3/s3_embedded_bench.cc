// The embedded side of the cellindex-s3 benchmark (bench/s3/s3_bench.py runs
// the HTTP side and puts the two together): the same small-object PUT and GET
// and LIST pages of 1000 keys, in the same layout (IndexOptions of the
// server's config, sync durability), measured at two depths:
//
//   index:   Index::Put / Get / List alone (a record with one extent)
//   service: S3Service::Handle in process: volume write (fsync, rename, dir
//            fsync), index calls, XML; no HTTP, no signature
//
// Usage: s3_embedded_bench --objects N --threads T --size BYTES --dir DIR
// Prints JSON: per phase, the median and p99 latency (µs) and ops/s.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "tools/s3/config.h"
#include "tools/s3/handlers.h"
#include "tools/s3/volumes.h"

namespace cellindex::bench {
namespace {

struct Phase {
  std::string name;
  std::vector<double> micros;
  double seconds = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// Runs op(i) for i in [0, n) on `threads` threads; records each latency.
template <typename Op>
Phase Run(const std::string& name, int n, int threads, Op op) {
  Phase phase{name, {}, 0};
  std::vector<std::vector<double>> per_thread(threads);
  std::atomic<int> next{0};
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = next++; i < n; i = next++) {
        const Clock::time_point s = Clock::now();
        op(i);
        per_thread[t].push_back(Since(s) * 1e6);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  phase.seconds = Since(start);
  for (auto& v : per_thread) phase.micros.insert(phase.micros.end(), v.begin(), v.end());
  return phase;
}

std::string Key(int i) { return absl::StrFormat("obj/%08d", i); }

int Main(int argc, char** argv) {
  SetProgramName("s3_embedded_bench");
  int objects = 2000, threads = 8, size = 1024;
  std::string parent = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    int* target = flag == "--objects" ? &objects : flag == "--threads" ? &threads
                : flag == "--size"    ? &size    : nullptr;
    if (flag == "--dir") {
      parent = argv[i + 1];
    } else if (target == nullptr || !absl::SimpleAtoi(argv[i + 1], target) || *target <= 0) {
      std::cerr << "usage: s3_embedded_bench --objects N --threads T --size BYTES --dir DIR\n";
      return 2;
    }
  }
  TempDir dir(parent, "s3-embedded-bench");
  RemoveOnDie(dir.path());
  s3::Config config;
  config.data_dir = dir.path() + "/index";
  config.store_dir = dir.path() + "/store";
  config.cells = 4;
  config.volumes = {{"vol-0", dir.path() + "/vol-0"}, {"vol-1", dir.path() + "/vol-1"}};
  std::unique_ptr<Index> index = OpenIndex(s3::IndexOptions(config));
  absl::StatusOr<std::unique_ptr<s3::Volumes>> volumes =
      s3::Volumes::Open(config.node, config.volumes, 1);
  if (!volumes.ok()) Die("volumes", volumes.status());
  s3::S3Service service(index.get(), volumes->get(), config.region);
  const std::string body(size, 'x');

  std::vector<Phase> phases;
  phases.push_back(Run("index_put", objects, threads, [&](int i) {
    ObjectRecord r;
    r.size = size;
    r.etag = "0123456789abcdef0123456789abcdef";
    r.locations = {{"node-1", "vol-0", static_cast<uint64_t>(i) * size, static_cast<uint64_t>(size)}};
    absl::StatusOr<uint64_t> v = index->Put({"idx-bench", Key(i)}, r);
    if (!v.ok()) Die("put", v.status());
  }));
  phases.push_back(Run("index_get", objects, threads, [&](int i) {
    absl::StatusOr<ObjectRecord> r = index->Get({"idx-bench", Key(i)});
    if (!r.ok()) Die("get", r.status());
  }));
  const int pages = (objects + kMaxListKeys - 1) / kMaxListKeys;
  std::vector<std::string> tokens(pages);
  {
    ListOptions o;
    for (int p = 0; p < pages; ++p) {
      tokens[p] = o.continuation_token;
      absl::StatusOr<ListResult> page = index->List("idx-bench", o);
      if (!page.ok()) Die("list", page.status());
      o.continuation_token = page->next_continuation_token;
    }
  }
  const int list_reps = std::max(20, pages);
  phases.push_back(Run("index_list_1000", list_reps, threads, [&](int i) {
    ListOptions o;
    o.continuation_token = tokens[i % pages];
    absl::StatusOr<ListResult> page = index->List("idx-bench", o);
    if (!page.ok()) Die("list", page.status());
  }));

  auto handle = [&](const std::string& method, const std::string& path, const std::string& query,
                    const std::string& payload, int want) {
    s3::S3Request r;
    r.method = method;
    r.raw_path = path;
    r.raw_query = query;
    r.body = payload;
    if (s3::ParseTarget(&r)) Die("target", absl::InvalidArgumentError(path));
    s3::S3Response out = service.Handle(r);
    if (out.status != want) {
      Die(absl::StrCat(method, " ", path), absl::InternalError(out.body));
    }
    return out;
  };
  handle("PUT", "/svc-bench", "", "", 200);
  phases.push_back(Run("service_put", objects, threads, [&](int i) {
    handle("PUT", "/svc-bench/" + Key(i), "", body, 200);
  }));
  phases.push_back(Run("service_get", objects, threads, [&](int i) {
    handle("GET", "/svc-bench/" + Key(i), "", "", 200);
  }));
  phases.push_back(Run("service_list_1000", list_reps, threads, [&](int i) {
    // Page i % pages, by start-after (the HTTP side pages the same way).
    const int first = (i % pages) * kMaxListKeys;
    handle("GET", "/svc-bench", first == 0 ? "list-type=2" :
           absl::StrCat("list-type=2&start-after=obj%2F", absl::StrFormat("%08d", first - 1)),
           "", 200);
  }));

  std::printf("{\"objects\": %d, \"threads\": %d, \"size\": %d, \"phases\": {", objects, threads,
              size);
  for (size_t i = 0; i < phases.size(); ++i) {
    const Phase& p = phases[i];
    std::printf("%s\"%s\": {\"median_us\": %.1f, \"p99_us\": %.1f, \"ops_per_s\": %.1f}",
                i ? ", " : "", p.name.c_str(), Median(p.micros), Percentile(p.micros, 0.99),
                p.micros.size() / p.seconds);
  }
  std::printf("}}\n");
  return 0;
}

}  // namespace
}  // namespace cellindex::bench

int main(int argc, char** argv) { return cellindex::bench::Main(argc, argv); }
