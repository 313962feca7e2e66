// The pools a cluster keeps in etcd (recovery/coord/cluster_coord.h:
// pools), decoded: for the controller (tools/host_command.cc) and the
// capacity commands (tools/cluster_capacity.cc).
#ifndef CELLINDEX_TOOLS_CLUSTER_POOLS_H_
#define CELLINDEX_TOOLS_CLUSTER_POOLS_H_

#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "index/model/capacity.h"
#include "recovery/coord/cluster_coord.h"

namespace cellindex::tools {

// The pools and the revision they were read at (0 and no pools: none were
// ever set). DataLoss when they do not decode; etcd's errors otherwise.
inline absl::StatusOr<std::pair<Inventory, int64_t>> ReadClusterPools(ClusterCoord& coord) {
  absl::StatusOr<Versioned> v = coord.ReadPools();
  if (!v.ok()) return v.status();
  if (v->revision == 0) return std::make_pair(Inventory(), int64_t{0});
  absl::StatusOr<Inventory> inv = Inventory::Decode(v->value);
  if (!inv.ok()) return inv.status();
  return std::make_pair(*std::move(inv), v->revision);
}

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_CLUSTER_POOLS_H_
