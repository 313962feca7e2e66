// The capacity guard: plans the removal of hosts (which hosts, which cells
// move where, in which steps, what each pool keeps) and refuses one that is
// unsafe. It decides only; the index carries out a plan it accepts.
#ifndef CELLINDEX_RECOVERY_CAPACITY_GUARD_H_
#define CELLINDEX_RECOVERY_CAPACITY_GUARD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/model/capacity.h"
#include "index/model/cell_map.h"

namespace cellindex {

// What the guard needs to know of each cell (by index into the map).
struct CellLoad {
  uint64_t bytes = 0;
  bool healthy = true;      // serving, validated or not validating
  std::string condition;    // what it is doing when not healthy
};

// Plans `request` against the map, the inventory and the cells' loads. The
// checks run in this order, and the first that fails refuses the plan (its
// `refusal` and a one-line `reason`; nothing is moved):
//   1. every named host is known (kUnknownHost); a pattern matches one
//      host, or `expect` hosts (kMatchCount);
//   2. no pool drops below its min_hosts, and some host remains
//      (kBelowPoolMinimum);
//   3. every moved cell finds a surviving host with room under its pool's
//      per-host cell and byte limits: the least loaded of its own pool
//      first, then of any (kSurvivorsFull);
//   4. no pool keeps fewer spare cell places than its min_spare_cells once
//      the cells have moved (kBelowPoolMinimum);
//   5. every cell is healthy (kUnhealthyCell);
//   6. no step (max_step hosts, in name order) takes more than
//      `max_fraction` of a pool's hosts at that step (kStepTooLarge).
// InvalidArgument (not a refusal) for a malformed request: both or neither
// of hosts and match, `expect` without match, max_step 0, max_fraction
// outside (0, 1].
absl::StatusOr<RemovalPlan> PlanRemoval(const CellMap& map, const Inventory& inventory,
                                        const std::vector<CellLoad>& cells,
                                        const HostRemoval& request);

// Plans spreading the cells evenly over each pool's hosts (or only
// request.pool's): RebalancePlan. Refused (kUnhealthyCell) while any cell is
// not healthy. Each move takes the fullest host (most cells, then bytes)
// that can give a cell to a host with at least two fewer cells and room
// under the pool's per-host limits (the emptiest such), and moves the
// donor's smallest cell that fits there; the plan stops when no such move
// is left, or after `max_moves`. InvalidArgument for a negative pause or
// health_wait, or an unknown pool.
absl::StatusOr<RebalancePlan> PlanRebalance(const CellMap& map, const Inventory& inventory,
                                            const std::vector<CellLoad>& cells,
                                            const RebalanceRequest& request);

// The capacity of every pool as the map places the cells now.
std::vector<PoolCapacity> PoolCapacities(const CellMap& map, const Inventory& inventory);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_CAPACITY_GUARD_H_
