// A cluster of real processes on loopback, started by a tool or a benchmark
// (`cellindex drill --processes`, bench/rpc_bench): one etcd and H
// `cellindex host` processes sharing one store. Every process it starts dies
// with the starter (PR_SET_PDEATHSIG) and is stopped when this goes.
#ifndef CELLINDEX_TOOLS_LOCAL_CLUSTER_H_
#define CELLINDEX_TOOLS_LOCAL_CLUSTER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "recovery/coord/cluster_coord.h"
#include "recovery/coord/etcd_client.h"

namespace cellindex::tools {

// How often the waits below look.
inline constexpr absl::Duration kClusterPoll = absl::Milliseconds(5);

// A process this program started. It dies with this program
// (PR_SET_PDEATHSIG), and is stopped (SIGTERM, then SIGKILL after 20 s)
// when this goes.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { Stop(); }

  // Starts `argv` (argv[0] found on PATH unless a path) with its output,
  // both streams, in `log`.
  absl::Status Start(const std::vector<std::string>& argv, const std::string& log);
  bool Running();
  // SIGKILL, and waits for it.
  void Kill();
  // Asks it to stop (SIGTERM); Stop() then waits.
  void Terminate();
  // SIGTERM, then SIGKILL if it has not exited within 20 s. Returns the wait
  // status (-1 when it had to be killed).
  int Stop();
  int status() const { return status_; }

 private:
  pid_t pid_ = 0;
  int status_ = 0;
};

// A free TCP port on 127.0.0.1 (free when asked).
absl::StatusOr<int> FreePort();

// Waits until `ready` says so, `alive` says not (Unavailable), or `within`
// has passed (DeadlineExceeded), looking every kClusterPoll.
absl::Status WaitFor(absl::string_view what, absl::Duration within,
                     const std::function<bool()>& ready, const std::function<bool()>& alive);

// This program's path, for the hosts to run.
std::string SelfPath();

struct LocalClusterOptions {
  std::string dir;    // etcd/, hN/ and their logs go below it
  std::string store;  // the store every host serves from
  int hosts = 1;
  absl::Duration lease_ttl = absl::Seconds(3);
  std::string etcd_binary = "etcd";  // found on PATH unless a path
  std::string cellindex;             // the binary the hosts run (empty: this program)
};

class LocalCluster {
 public:
  explicit LocalCluster(LocalClusterOptions options);

  // Starts etcd on two free loopback ports and waits (up to 30 s) until it
  // answers.
  absl::Status StartEtcd();
  // Starts the hosts h0..h(H-1); h0 first, waiting for its election as
  // the controller, so that the others join it.
  absl::Status StartHosts();
  // etcd and every host not killed are running.
  bool AllRunning();
  // `cells` cells owned, by the H hosts registered, none holding two more
  // than another (the controller's balance).
  bool Balanced(int cells);
  // SIGTERM to every host at once (so that none adopts what another
  // releases), then waits for each. How many did not exit 0; a host killed
  // before is not counted.
  int StopHosts();

  const std::string& endpoint() const { return endpoint_; }
  ClusterCoord& coord() { return *coord_; }
  EtcdClient& etcd_client() { return *etcd_client_; }
  Child& host(int i) { return *hosts_[i]; }
  // Kills host i (SIGKILL); StopHosts() then skips it.
  void KillHost(int i);

 private:
  const LocalClusterOptions o_;
  std::string endpoint_;
  std::unique_ptr<Child> etcd_;
  std::vector<std::unique_ptr<Child>> hosts_;
  std::vector<bool> killed_;
  std::unique_ptr<EtcdClient> etcd_client_;
  std::optional<ClusterCoord> coord_;
};

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_LOCAL_CLUSTER_H_
