// `cellindex drill --processes`: the restart drill with real processes.
//
// It loads an index into a store (in this process, then checkpoints it),
// starts etcd and H `cellindex host` processes on loopback sharing that
// store, waits until every cell serves and the hosts are balanced, then
// runs a load through the cluster client (writers of new objects, readers
// of loaded ones). Under that load it SIGKILLs one host process (not the
// controller's), and reports, from the kill:
//   - detection: the host's key gone from etcd (its lease expired);
//   - claim: every cell it served claimed by a survivor;
//   - full availability: every such cell answering a read through the
//     client;
//   - each cell's restore: from its claim seen to its first answer (median
//     and max);
// the requests to the other cells (all must succeed) and to the lost ones,
// and, once the load has stopped, every write the client acknowledged read
// back through the client (none may be lost) with a sample of the loaded
// objects. It stops everything it started, also on error.
#ifndef CELLINDEX_TOOLS_DRILL_PROCESSES_H_
#define CELLINDEX_TOOLS_DRILL_PROCESSES_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace cellindex::tools {

struct ProcessDrillOptions {
  std::string dir;  // wiped and reused: seed/, store/, etcd/, hN/ and logs below it
  int hosts = 4;
  int cells = 16;
  uint64_t objects = 200000;
  int writers = 4;
  int readers = 2;
  absl::Duration before = absl::Seconds(2);  // load before the kill
  absl::Duration after = absl::Seconds(2);   // and after full availability
  absl::Duration lease_ttl = absl::Seconds(3);
  std::string etcd_binary = "etcd";  // found on PATH unless a path
  std::string self;                  // the cellindex binary for the hosts (empty: this one)
  bool json = false;
};

// Returns the exit code: 0 when every acknowledged write and every sampled
// object read back and every request to an unaffected cell succeeded; 5
// (data loss) when an acknowledged write was lost or a read was wrong; 4
// (unavailable) when a request to an unaffected cell failed, the lost cells
// did not come back, a read at the end got no answer, or a host did not
// stop cleanly; else the code of the error that stopped it.
int RunProcessDrill(const ProcessDrillOptions& options);

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_DRILL_PROCESSES_H_
