// The subcommands of `cellindex` that drive an index: each takes the global
// flags and its own, prints its result (text, or JSON with --json) on stdout
// and returns the process exit code (tools/exit_codes.h). Errors are one line
// on stderr: "cellindex: <what went wrong>".
#ifndef CELLINDEX_TOOLS_COMMANDS_H_
#define CELLINDEX_TOOLS_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "index/index.h"

namespace cellindex::tools {

struct GlobalFlags {
  std::string data_dir = "./cellindex-data";
  std::string store_dir;  // empty: inside data_dir
  // Cells to create when the index does not exist yet (boundaries from a
  // sample of the synthetic workload's keys); 0: one cell.
  int cells = 0;
  bool json = false;
  // When set, the opened index writes its status page there (index.html),
  // while it is open and once more as it closes.
  std::string status_dir;
  // put, get and rm: the cluster of host processes whose etcd is here
  // (HOST:PORT[,...]), through ClusterClient, instead of --data/--store.
  std::string cluster;
  std::string cluster_name = "default";
  // Open a store that host processes served, once they have all stopped
  // (Options::leave_cluster).
  bool leave_cluster = false;
};

struct PutFlags {
  std::string bucket, key;
  uint64_t size = 0;
  std::string etag, content_type, storage_class;
  std::vector<std::string> locations;  // NODE:VOLUME:OFFSET:LENGTH
  std::vector<std::string> metadata;   // K=V
  std::optional<uint64_t> if_match;
  bool if_none_match = false;
};
int RunPut(const GlobalFlags& flags, const PutFlags& put);

int RunGet(const GlobalFlags& flags, const std::string& bucket, const std::string& key);
int RunRm(const GlobalFlags& flags, const std::string& bucket, const std::string& key);

int RunLs(const GlobalFlags& flags, const std::string& bucket, const ListOptions& options);

struct LocateFlags {
  LocateOptions options;
  bool all = false;  // every page, not just one
};
int RunLocate(const GlobalFlags& flags, const LocateFlags& locate);

int RunCells(const GlobalFlags& flags);
// Checkpoints one cell, or every cell, into the durable store now.
int RunCheckpoint(const GlobalFlags& flags, std::optional<uint32_t> cell);
int RunStat(const GlobalFlags& flags);
// `cellindex split --cell N [--at BUCKET/KEY]`: splits cell N at the key
// (default: its median record).
int RunSplit(const GlobalFlags& flags, uint32_t cell, const std::string& at,
             const std::string& arguments);
// `cellindex merge --cells A,B`: merges cell A and its right neighbour B.
int RunMerge(const GlobalFlags& flags, const std::string& cells, const std::string& arguments);

struct LoadFlags {
  uint64_t objects = 0;
  int buckets = 50;
  uint64_t seed = 1;
  uint64_t first = 0;  // object numbers first .. first + objects - 1
  int threads = 0;     // 0: one per hardware thread
};
int RunLoad(const GlobalFlags& flags, const LoadFlags& load);

// `cellindex status --status-dir DIR`: writes the status page and prints its path.
int RunStatus(const GlobalFlags& flags);
// `cellindex serve --listen HOST:PORT`: serves the index over gRPC until
// SIGTERM or SIGINT (tools/serve_command.cc).
int RunServe(const GlobalFlags& flags, const std::string& listen);
struct HostFlags {
  std::string name;             // this host's name in the cluster
  std::string etcd;             // etcd endpoints, "host:port,..."
  std::string listen;           // HOST:PORT for gRPC (port 0: any free one)
  std::string cluster = "default";
  int lease_ttl = 3;            // seconds
  // As controller: asks for the split of a cell whose reported size
  // reaches this (0: never).
  uint64_t split_bytes = 0;
  // As controller: asks for the merge of two neighbours whose reported
  // sizes together stay under this (0: never); at most a quarter of
  // split_bytes when both are set.
  uint64_t merge_bytes = 0;
};
// `cellindex host --name N --store S --etcd E --listen ADDR`: one host
// process of a cluster coordinated through etcd (tools/host_command.cc).
int RunHost(const GlobalFlags& flags, const HostFlags& host);
// `cellindex metrics`: Index::Metrics(), Prometheus text.
int RunMetrics(const GlobalFlags& flags);
// `cellindex audit`: the audit log (JSON lines as stored; --json: an array).
int RunAudit(const GlobalFlags& flags);
// `cellindex pools`: each pool, its hosts and capacity.
int RunPools(const GlobalFlags& flags);
struct PoolFlags {
  std::string name;
  std::optional<std::vector<std::string>> hosts;
  std::optional<uint64_t> min_hosts, min_spare_cells, max_cells_per_host, max_bytes_per_host;
};
// `cellindex pools set NAME ...`: unset fields keep the pool's values.
int RunPoolsSet(const GlobalFlags& flags, const PoolFlags& pool, const std::string& arguments);
// `cellindex hosts`: each host, its directory, pool and cells.
int RunHosts(const GlobalFlags& flags);
// `cellindex hosts add NAME DIR [--pool P]`: adds the host (in P, made if
// missing), then plans the rebalance of its pool and, with --rebalance,
// carries it out (as `hosts rebalance --pool P --execute` would). Without
// --rebalance a refused plan is only shown (exit 0); with it, the refusal's
// exit code (the host is added either way).
int RunHostsAdd(const GlobalFlags& flags, const std::string& name, const std::string& dir,
                const std::optional<std::string>& pool, RebalanceRequest rebalance);
// `cellindex hosts rebalance`: prints the plan; with --execute carries it
// out one cell at a time. Refused while a cell is unhealthy (exit 14);
// stopped at a failed move (exit 16).
int RunHostsRebalance(const GlobalFlags& flags, const RebalanceRequest& rebalance);
// `cellindex hosts remove`: prints the plan; with --execute carries it out.
// A refusal is its own exit code (tools/exit_codes.h) and one stderr line.
int RunHostsRemove(const GlobalFlags& flags, const HostRemoval& removal, bool cancel = false);

// The same three against a cluster of host processes (--cluster), through
// etcd (tools/cluster_capacity.cc): the pools live in etcd; a removal is
// planned by the same capacity guard over the map the controller published
// and the cells' assigned hosts, and carried out by marking each step's
// hosts as draining and waiting while the controller moves their cells.
int RunClusterPools(const GlobalFlags& flags);
int RunClusterPoolsSet(const GlobalFlags& flags, const PoolFlags& pool);
// `cancel`: clears the named hosts' draining marks instead.
int RunClusterHostsRemove(const GlobalFlags& flags, const HostRemoval& removal, bool cancel);
// `--cluster cells`: each cell of the published map with its assigned host,
// owner and owner epoch, size and state; `--cluster hosts`: each live host
// (and each drained one that is gone) with its pool, draining mark, cells
// and bytes.
int RunClusterCells(const GlobalFlags& flags);
int RunClusterHosts(const GlobalFlags& flags);
// `cellindex --cluster E split --cell N [--at B/K]` and `merge --cells A,B`:
// asks (reshape in etcd) for the split or merge, which the cells' owner
// runs and commits, and waits for its result. `op` is "split" (one cell,
// `at` optional) or "merge" (left, right). Exit 3 when it did not happen
// (another is under way, or the owner could not), 4 when it has not ended
// in time.
int RunClusterReshape(const GlobalFlags& flags, const std::string& op,
                      const std::vector<uint32_t>& cells, const std::optional<ObjectKey>& at,
                      const std::string& arguments);

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_COMMANDS_H_
