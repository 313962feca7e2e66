// What the capacity commands print, shared by the index's
// (tools/capacity_commands.cc) and the cluster's (tools/cluster_capacity.cc).
#ifndef CELLINDEX_TOOLS_CAPACITY_PRINT_H_
#define CELLINDEX_TOOLS_CAPACITY_PRINT_H_

#include <vector>

#include "index/model/capacity.h"
#include "tools/command_util.h"
#include "tools/commands.h"

namespace cellindex::tools {

// The pools' capacity: a table, or a JSON array with --json. Returns 0.
int PrintPoolCapacities(const GlobalFlags& flags, const Inventory& inv,
                        const std::vector<PoolCapacity>& pools);
// `set`'s fields over `pool` (the ones not given keep the pool's).
Pool PoolFromFlags(Pool pool, const PoolFlags& set);
// "pool NAME set", or the pool as JSON with --json.
void PrintPoolSetLine(const GlobalFlags& flags, const Pool& pool);
// One stderr line naming the refusal; its exit code (tools/exit_codes.h).
int ReportRefusal(const RemovalPlan& plan);
// A removal plan as text, and as JSON (with the moved cells' windows when
// executed).
void PrintRemovalPlan(const RemovalPlan& plan, const HostRemoval& removal);
Json RemovalPlanJsonWithWindows(const RemovalPlan& plan);

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_CAPACITY_PRINT_H_
