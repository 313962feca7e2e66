// Through cellindex::Client (gRPC on loopback, `cellindex serve`'s server in
// this process) and through cellindex::ClusterClient (etcd and a `cellindex
// host` process on loopback) against the in-process Index, Put and Get, in
// one binary: the ratio prices the RPC (serialization, HTTP/2 on loopback,
// gRPC's threads; for the cluster also the routing by etcd's owners and the
// host's fencing), and the difference of the times per call is the RPC's
// overhead per call.
//
//   get/index, get/client, get/cluster   random Gets of kGetKeys preloaded keys
//   put/index, put/client, put/cluster   Puts of new keys, Durability::kSync
//                                        (each acknowledged write on disk),
//                                        each thread its own
//
// One index (4 cells) and one server serve the index and client runs; the
// cluster's host serves an index of the same layout and keys, loaded in
// the same way (its own store: a host process owns its cells). The cluster
// side needs etcd on PATH and is left out, saying so, without it. A summary
// of ratios and per-call overheads, from the medians when there are
// repetitions, is printed last. On a shared machine:
//
//   rpc_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
//             --benchmark_enable_random_interleaving=true
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "index/index.h"
#include "index/model/object_key.h"
#include "index/rpc/client.h"
#include "index/rpc/cluster/cluster_client.h"
#include "tools/local_cluster.h"
#include "tools/rpc_service.h"

namespace cellindex::bench {
namespace {

constexpr char kBucket[] = "bench-bucket";
constexpr size_t kGetKeys = 20000;
constexpr double kMinSeconds = 1.0;

ObjectKey GetKey(uint64_t i) { return {kBucket, absl::StrFormat("get/img-%010d.jpg", i)}; }

struct Served {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Index> index;
  std::unique_ptr<tools::RpcServer> server;
  std::unique_ptr<Client> client;
  std::unique_ptr<tools::LocalCluster> cluster;
  std::unique_ptr<ClusterClient> cluster_client;  // null: no cluster side
};
Served* served = nullptr;

// The layout both indexes have, in `dir`, loaded with the Get keys.
std::unique_ptr<Index> OpenLoaded(const std::string& dir, const std::string& store) {
  Options o;
  o.data_dir = dir;
  o.store_dir = store;
  o.durability = Durability::kSync;
  o.resize_check_interval = absl::ZeroDuration();  // a fixed layout
  for (const char* b : {"get/img-0000005000", "get/img-0000010000", "put/"}) {
    o.cell_boundaries.push_back(EncodeKey({kBucket, b}));
  }
  std::unique_ptr<Index> index = OpenIndex(o);
  const ObjectRecord record = BenchRecord();
  for (size_t i = 0; i < kGetKeys; i += 500) {
    WriteBatch batch;
    for (size_t k = i; k < i + 500 && k < kGetKeys; ++k) batch.Put(GetKey(k), record);
    if (absl::Status s = index->Write(batch).status(); !s.ok()) Die("load", s);
  }
  return index;
}

// etcd and one host process serving a copy of the layout and keys; the
// cluster client routed to it. Leaves served->cluster_client null, saying
// why, when etcd cannot start.
void StartCluster() {
  const std::string dir = served->dir->path() + "/cluster";
  const std::string store = dir + "/store";
  {
    std::unique_ptr<Index> seed = OpenLoaded(dir + "/seed", store);
    if (absl::Status s = seed->Checkpoint().status(); !s.ok()) Die("checkpoint", s);
  }
  tools::LocalClusterOptions lo;
  lo.dir = dir;
  lo.store = store;
  lo.hosts = 1;
  lo.cellindex = CELLINDEX_CLI_PATH;
  served->cluster = std::make_unique<tools::LocalCluster>(lo);
  if (absl::Status s = served->cluster->StartEtcd(); !s.ok()) {
    std::fprintf(stderr, "rpc_bench: no cluster side: %s\n", std::string(s.message()).c_str());
    served->cluster.reset();
    return;
  }
  if (absl::Status s = served->cluster->StartHosts(); !s.ok()) Die("start the host", s);
  ClusterClientOptions co;
  co.etcd_endpoints = {served->cluster->endpoint()};
  absl::StatusOr<std::unique_ptr<ClusterClient>> c = ClusterClient::Connect(co);
  if (!c.ok()) Die("connect to the cluster", c.status());
  served->cluster_client = *std::move(c);
  absl::Status up = tools::WaitFor(
      "every cell serving on the host", absl::Seconds(120),
      [] {
        return served->cluster->Balanced(4) &&
               served->cluster_client->Get(GetKey(0)).ok() &&
               served->cluster_client->Get(GetKey(kGetKeys - 1)).ok();
      },
      [] { return served->cluster->AllRunning(); });
  if (!up.ok()) Die("the cluster", up);
}

void Setup() {
  served = new Served;
  served->dir = std::make_unique<TempDir>("/tmp", "cellindex-rpc-bench");
  served->index = OpenLoaded(served->dir->path() + "/index", "");
  absl::StatusOr<std::unique_ptr<tools::RpcServer>> server =
      tools::RpcServer::Start(served->index.get(), "127.0.0.1:0");
  if (!server.ok()) Die("serve", server.status());
  served->server = *std::move(server);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(served->server->address());
  if (!client.ok()) Die("connect", client.status());
  served->client = *std::move(client);
  StartCluster();
}

template <typename Side>
void BM_Get(benchmark::State& state, Side* side) {
  uint64_t x = 0x9e3779b97f4a7c15ull * (state.thread_index() + 1);
  for (auto _ : state) {
    absl::StatusOr<ObjectRecord> r = side->Get(GetKey(SplitMix64(&x) % kGetKeys));
    if (!r.ok()) Die("get", r.status());
    benchmark::DoNotOptimize(r->size);
  }
  state.SetItemsProcessed(state.iterations());
}

template <typename Side>
void BM_Put(benchmark::State& state, Side* side, const char* name) {
  const ObjectRecord record = BenchRecord();
  static std::atomic<uint64_t> next{0};  // every key new, across runs and threads
  for (auto _ : state) {
    const ObjectKey key{kBucket, absl::StrFormat("put/%s/%012d", name, next.fetch_add(1))};
    absl::StatusOr<uint64_t> v = side->Put(key, record);
    if (!v.ok()) Die("put", v.status());
  }
  state.SetItemsProcessed(state.iterations());
}

// The console output, then each client/index pair: items/s of both, their
// ratio, and the client's extra time per call (at one thread: the RPC's
// overhead per call).
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (r.error_occurred || it == r.counters.end()) continue;
      const std::string name = absl::StrCat(r.run_name.function_name, "/", r.run_name.threads);
      if (r.run_type == Run::RT_Aggregate) {
        if (r.aggregate_name == "median") median_[name] = it->second.value;
      } else {
        rates_[name].push_back(it->second.value);
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    out << "\nSummary (medians): client and cluster client / index, and their extra time "
           "per call\n";
    for (const char* op : {"get", "put"}) {
      for (int threads : {1, 8}) {
        const std::optional<double> i = Rate(absl::StrCat(op, "/index/threads:", threads));
        if (!i || *i <= 0) continue;
        for (const char* side : {"client", "cluster"}) {
          const std::optional<double> c = Rate(absl::StrCat(op, "/", side, "/threads:", threads));
          if (!c || *c <= 0) continue;
          out << absl::StrFormat(
              "  %s, %d thread(s): %-7s %9.0f/s, index %9.0f/s, ratio %.3f, +%.1f us per call\n",
              op, threads, side, *c, *i, *c / *i, threads * (1e6 / *c - 1e6 / *i));
        }
      }
    }
  }

 private:
  std::optional<double> Rate(const std::string& name) const {
    if (auto m = median_.find(name); m != median_.end()) return m->second;
    auto r = rates_.find(name);
    if (r == rates_.end() || r->second.empty()) return std::nullopt;
    return Median(r->second);
  }
  std::map<std::string, double> median_;
  std::map<std::string, std::vector<double>> rates_;
};

}  // namespace
}  // namespace cellindex::bench

int main(int argc, char** argv) {
  using namespace cellindex::bench;
  SetProgramName("rpc_bench");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  Setup();
  for (int threads : {1, 8}) {
    benchmark::RegisterBenchmark("get/index", BM_Get<cellindex::Index>, served->index.get())
        ->Threads(threads)->MinTime(kMinSeconds)->UseRealTime();
    benchmark::RegisterBenchmark("get/client", BM_Get<cellindex::Client>, served->client.get())
        ->Threads(threads)->MinTime(kMinSeconds)->UseRealTime();
    benchmark::RegisterBenchmark("put/index", BM_Put<cellindex::Index>, served->index.get(),
                                 "index")
        ->Threads(threads)->MinTime(kMinSeconds)->UseRealTime();
    benchmark::RegisterBenchmark("put/client", BM_Put<cellindex::Client>, served->client.get(),
                                 "client")
        ->Threads(threads)->MinTime(kMinSeconds)->UseRealTime();
    if (served->cluster_client != nullptr) {
      benchmark::RegisterBenchmark("get/cluster", BM_Get<cellindex::ClusterClient>,
                                   served->cluster_client.get())
          ->Threads(threads)->MinTime(kMinSeconds)->UseRealTime();
      benchmark::RegisterBenchmark("put/cluster", BM_Put<cellindex::ClusterClient>,
                                   served->cluster_client.get(), "cluster")
          ->Threads(threads)->MinTime(kMinSeconds)->UseRealTime();
    }
  }
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  served->cluster_client.reset();
  if (served->cluster != nullptr) {
    if (int unclean = served->cluster->StopHosts(); unclean > 0) {
      std::fprintf(stderr, "rpc_bench: the host did not stop cleanly (logs below %s/cluster)\n",
                   served->dir->path().c_str());
    }
    served->cluster.reset();
  }
  served->client.reset();
  served->server->Shutdown(absl::Seconds(1));
  served->server.reset();
  served->index.reset();
  delete served;
  return 0;
}
