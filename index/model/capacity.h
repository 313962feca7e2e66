// Capacity: the hosts of an index, the pools they form, and the plan of a
// host removal with the guards it passed or the one that refused it.
//
// The inventory (hosts and pools) is kept in the durable store beside the
// cell map (STORE/INVENTORY, replaced atomically on every change):
//
//     magic        : fixed32 0x564e5649 ("IVNV")
//     format       : 1 byte, = 1
//     host count   : varint64, then per host: name, directory (length-prefixed)
//     pool count   : varint64, then per pool:
//                      name (length-prefixed), min_hosts, min_spare_cells,
//                      max_cells_per_host, max_bytes_per_host (varint64),
//                      member count (varint64), member names (length-prefixed)
//     checksum     : fixed64, xxh3-64 of every byte before it
#ifndef CELLINDEX_INDEX_MODEL_CAPACITY_H_
#define CELLINDEX_INDEX_MODEL_CAPACITY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "index/model/cell_map.h"

namespace cellindex {

// A named group of hosts and the capacity it must keep. A host belongs to at
// most one pool; hosts named by no pool form the pool "default" (no minimum
// unless one is set for it by that name).
struct Pool {
  std::string name;                // [a-z0-9_-], 1 to 63 characters
  std::vector<std::string> hosts;  // members, by host name (sorted)
  // A removal that leaves fewer hosts in the pool is refused.
  uint64_t min_hosts = 0;
  // A removal that leaves fewer free cell places on the pool's hosts
  // (max_cells_per_host per host, less the cells they hold) is refused.
  // Needs max_cells_per_host.
  uint64_t min_spare_cells = 0;
  // What one host of the pool may hold; 0: no limit. A removal whose moved
  // cells do not fit on the survivors is refused.
  uint64_t max_cells_per_host = 0;
  uint64_t max_bytes_per_host = 0;
};

inline constexpr char kDefaultPool[] = "default";

// InvalidArgument naming what is wrong: the name, min_spare_cells without
// max_cells_per_host, a host listed twice.
absl::Status ValidatePool(const Pool& pool);

struct Inventory {
  std::map<std::string, std::string> hosts;  // name -> local directory
  std::vector<Pool> pools;                   // by name

  // The pool `host` belongs to (kDefaultPool when no pool names it).
  std::string PoolOf(const std::string& host) const;
  // The pool named `name`, or null (the implicit default has no entry
  // until set).
  const Pool* FindPool(const std::string& name) const;
  // Sets (adds or replaces) a pool, taking its hosts out of any other pool.
  void SetPool(Pool pool);
  // Removes a host and its membership of any pool (a pool naming a host
  // that is gone could not be set again).
  void RemoveHost(const std::string& host);

  std::string Encode() const;
  // DataLoss when damaged.
  static absl::StatusOr<Inventory> Decode(absl::string_view data);
};

// ---- Removing hosts ---------------------------------------------------------

// What to remove and how fast. Exactly one of `hosts` and `match`.
struct HostRemoval {
  std::vector<std::string> hosts;  // by name
  // A glob (fnmatch: * ? [..]) over host names. Without `expect` it must
  // match exactly one host; with it, exactly `expect`.
  std::string match;
  std::optional<uint64_t> expect;
  // Hosts drained at once (one step); at least 1.
  uint64_t max_step = 1;
  // The largest share of any pool's hosts one step may take, in (0, 1].
  double max_fraction = 0.5;
  // How long to wait for cells that are recovering or validating to settle
  // before judging their health (a failed cell is judged at once).
  absl::Duration health_wait = absl::Seconds(30);
  // Carry out the plan. Without it nothing changes (a dry run).
  bool execute = false;
  // For the audit log: who asked (empty: the process's user) and how
  // (the command line, say).
  std::string user;
  std::string arguments;
};

// Why a removal was refused: each has its own exit code in the CLI.
enum class RemovalRefusal {
  kNone,
  kUnknownHost,       // a named host is not in the inventory
  kMatchCount,        // the pattern matched another number of hosts
  kBelowPoolMinimum,  // a pool would drop below min_hosts or min_spare_cells
  kSurvivorsFull,     // the moved cells do not fit on the surviving hosts
  kUnhealthyCell,     // a cell is recovering, validating or failed
  kStepTooLarge,      // a step would take too many hosts or too much of a pool
};
const char* RemovalRefusalName(RemovalRefusal refusal);

struct CellMove {
  CellId cell = 0;
  std::string from, to;
  uint64_t bytes = 0;
  size_t step = 0;  // 0-based
};

struct PoolCapacity {
  std::string pool;
  uint64_t min_hosts = 0, min_spare_cells = 0;
  uint64_t hosts_before = 0, hosts_after = 0;
  uint64_t cells_before = 0, cells_after = 0;
  // Free cell places (max_cells_per_host * hosts - cells); absent without a
  // per-host cell limit (unbounded).
  std::optional<uint64_t> spare_before, spare_after;
};

// What happened to one step of an executed removal.
struct RemovalStepReport {
  std::vector<std::string> hosts;
  bool done = false;
  std::string error;  // why it stopped, when it did
  // Each moved cell's window without service (hold to serving on the target).
  std::vector<absl::Duration> unavailable;
};

struct RemovalPlan {
  std::vector<std::string> hosts;         // matched, sorted
  std::vector<std::vector<std::string>> steps;  // hosts per step, in order
  std::vector<CellMove> moves;
  std::vector<PoolCapacity> pools;
  RemovalRefusal refusal = RemovalRefusal::kNone;
  std::string reason;  // one line, when refused
  bool executed = false;
  std::vector<RemovalStepReport> step_reports;  // when executed
};

// ---- Rebalancing ------------------------------------------------------------

// Spreading the cells evenly over the hosts of each pool (after hosts were
// added, say), one cell at a time, each moved as in a drain.
struct RebalanceRequest {
  // Only this pool's hosts (a host just added to it, say); empty: every pool.
  std::string pool;
  // Cells moved at most; 0: as many as the balance needs.
  uint64_t max_moves = 0;
  // The pace: how long to wait after a moved cell serves and has validated
  // before the next move starts.
  absl::Duration pause = absl::Seconds(1);
  // How long to wait for cells that are recovering or validating to settle
  // before judging their health.
  absl::Duration health_wait = absl::Seconds(30);
  // Carry out the plan. Without it nothing changes (a dry run).
  bool execute = false;
  std::string user;       // for the audit log, as in HostRemoval
  std::string arguments;
};

struct RebalancePlan {
  // In order, one per step (CellMove::step is its position). Cells move only
  // between hosts of one pool, from a host with more cells to one with at
  // least two fewer that has room under the pool's limits (the fullest
  // donor and the emptiest receiver that can make a move), until no such
  // move is left.
  std::vector<CellMove> moves;
  // kUnhealthyCell when a cell is recovering, validating or failed: nothing
  // moves until every cell serves.
  RemovalRefusal refusal = RemovalRefusal::kNone;
  std::string reason;
  bool executed = false;
  // When executed: each moved cell's window without service, in order (as
  // many as moved), and why it stopped, when it did.
  std::vector<absl::Duration> unavailable;
  std::string error;
};

// The plan as one JSON object: moves (cell, from, to, bytes, 1-based step),
// refusal and reason when refused, and, when executed, the windows (ms) and
// the error.
std::string RebalancePlanJson(const RebalancePlan& plan);

// The plan as one JSON object: hosts, steps, moves (cell, from, to, bytes,
// 1-based step), pools (before and after), refusal and reason when refused,
// and, when executed, each step's outcome and unavailable windows (ms).
std::string RemovalPlanJson(const RemovalPlan& plan);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_CAPACITY_H_
