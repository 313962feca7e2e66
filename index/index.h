// The embedding API: an index of object records partitioned into cells.
//
//   cellindex::Options options;
//   options.data_dir = "/var/lib/svc/index";
//   auto index = cellindex::Index::Open(options);
//   if (!index.ok()) ...;
//   absl::StatusOr<uint64_t> version = (*index)->Put({"bucket", "key"}, record);
//
// Errors are absl::Status codes a caller can branch on: InvalidArgument (bad
// input; nothing changed), NotFound, FailedPrecondition (a precondition did
// not hold; nothing changed), Unavailable (the key's cell is not serving:
// a write refused so carries WasNotApplied, index/model/write_batch.h),
// DataLoss (stored state is damaged; never a wrong answer instead).
//
// All methods are thread-safe. Writers to different cells run in parallel;
// writers to one cell share journal syncs (group commit).
#ifndef CELLINDEX_INDEX_INDEX_H_
#define CELLINDEX_INDEX_INDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/base/stats.h"
#include "index/model/capacity.h"
#include "index/model/cell_map.h"
#include "index/model/list_result.h"
#include "index/model/locate_result.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "index/model/write_batch.h"
#include "index/model/options.h"

namespace cellindex {

// Index::SplitCell.
struct SplitRequest {
  CellId cell = 0;
  // Where the right child starts (its first object key). Empty: the
  // parent's median record.
  std::optional<ObjectKey> at;
  std::string user;                    // for the audit log (empty: the process's)
  std::string arguments;  // the command, for the audit log
};

struct SplitReport {
  CellId parent = 0;
  CellId left = 0;
  CellId right = 0;
  std::string at;           // the boundary (an encoded key, escaped)
  uint64_t parent_seq = 0;  // the parent's last journal seq: the children start after it
  uint64_t left_records = 0;
  uint64_t right_records = 0;
  uint64_t epoch = 0;       // the map's epoch with the children
  // How long the parent's requests were held (closing it, making the
  // children, saving the map, opening them), and the whole split (with the
  // parent's checkpoint before and the children's after).
  absl::Duration held;
  absl::Duration total;
  // The hold, in its parts: waiting for requests in flight and closing the
  // parent; making the children's states (and journals); then saving the
  // map (commit - making); opening the children.
  absl::Duration closing, making, commit, opening;
  // Making, in its parts: the parent opened and linked once, then the
  // children trimmed in parallel (the slower child's time).
  absl::Duration linking, trimming;
  // The children are made on the parent's host (hard links). When another
  // host of its pool holds at least two cells fewer, the right child then
  // moves there (as a rebalance moves a cell), so that a growing range
  // spreads its load: the host it went to (empty: it stayed) and how long
  // it did not serve, or why the move failed (the split stands either way).
  std::string right_moved_to;
  absl::Duration move_unavailable;
  std::string move_error;
};

// Index::MergeCells.
struct MergeRequest {
  CellId left = 0;   // the cells to join: `right` must be `left`'s right neighbour
  CellId right = 0;
  std::string user;
  std::string arguments;
};

struct MergeReport {
  CellId left = 0;
  CellId right = 0;
  CellId child = 0;
  uint64_t left_seq = 0;  // the parents' last journal seqs at the merge
  uint64_t right_seq = 0;
  uint64_t records = 0;
  uint64_t epoch = 0;
  absl::Duration held;  // how long the parents' requests were held
  absl::Duration total;
};

class Index {
 public:
  // Opens the index in options.data_dir / options.store_dir, creating it if
  // missing (unless error_if_missing). On an existing index every cell is
  // brought back, with bounded parallelism, most urgent first: a cell whose
  // host kept its state reopens it and replays the journal above its
  // applied_seq; a cell whose host lost it is restored from its newest valid
  // checkpoint in the store. With options.wait_for_recovery (the default)
  // Open returns when every cell serves or has failed; otherwise at once.
  // A cell with nothing valid to recover from fails alone with DataLoss;
  // Stats() says why and the other cells serve.
  // A cell that fails while serving (a journal write or sync failed, or a
  // read found its local state damaged) stops serving at once and is
  // brought back the same way: reopened, or restored from the store.
  // InvalidArgument when the options' layout disagrees with the stored cell
  // map, or a directory is not a directory or lies inside another (a host's
  // inside the store, say); FailedPrecondition when another Index holds the
  // store; DataLoss when the store holds cells but no cell map.
  static absl::StatusOr<std::unique_ptr<Index>> Open(const Options& options);
  // Waits for in-flight writes and for every recovery queued or running
  // (a cell found damaged is restored before the index closes), then seals
  // and syncs the journals and closes every cell.
  virtual ~Index() = default;

  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Stores `record` under `key` if `precondition` holds, and returns the
  // version assigned (record.version on input is ignored). Unset
  // created/modified times are set to now (created to modified).
  // Unavailable (naming the cell and its phase) while the key's cell is
  // recovering.
  virtual absl::StatusOr<uint64_t> Put(const ObjectKey& key, const ObjectRecord& record,
                                       const Precondition& precondition = {}) = 0;
  // The record stored under `key`; NotFound when there is none.
  virtual absl::StatusOr<ObjectRecord> Get(const ObjectKey& key) = 0;
  // Removes `key` if `precondition` holds; NotFound when absent.
  virtual absl::Status Delete(const ObjectKey& key, const Precondition& precondition = {}) = 0;
  // Applies every op of `batch` or none. All keys must live in one cell:
  // InvalidArgument naming the two cells otherwise. Returns one version per op
  // (0 for deletes).
  virtual absl::StatusOr<std::vector<uint64_t>> Write(const WriteBatch& batch) = 0;

  // One page of `bucket` with the semantics of S3 ListObjectsV2, across cell
  // boundaries in key order. InvalidArgument naming the problem for a bad
  // bucket name, a prefix, delimiter or start_after that is not UTF-8, a
  // negative max_keys, or a continuation token that was altered or belongs
  // to another bucket, prefix or delimiter. Unavailable naming the cell when
  // a cell the page must read is not serving (a page filled before that cell
  // is served, truncated); DataLoss when a stored record is damaged.
  virtual absl::StatusOr<ListResult> List(absl::string_view bucket,
                                          const ListOptions& options = {}) = 0;
  // One page of the objects with bytes on a volume or node. InvalidArgument
  // when not exactly one of volume and node is set, the name is not a valid
  // location name, max_objects is negative, or the token was altered or
  // belongs to another lookup; Unavailable naming the cell when a cell is
  // not serving (every cell holds part of the answer); DataLoss when a
  // stored record is damaged.
  virtual absl::StatusOr<LocateResult> Locate(const LocateOptions& options) = 0;

  // Checkpoints one cell (or every cell when `cell` is empty) into the
  // durable store now, after running the deep validation of any cell whose
  // validation is still pending (a state that has not passed it is never
  // checkpointed). Unavailable when a cell asked for is not serving;
  // FailedPrecondition when its validation failed (it is being restored);
  // DataLoss when a local file turned out damaged (the cell is restored).
  virtual absl::StatusOr<std::vector<CheckpointReport>> Checkpoint(
      std::optional<CellId> cell = {}) = 0;
  // Blocks until no cell is waiting for or running recovery.
  virtual void WaitForRecovery() = 0;

  // ---- Capacity: operations --------------------------------------------
  // The safe way to change capacity. Every call is recorded in the audit log
  // in the durable store (AuditLog()), refused or not.

  // Plans the removal of hosts and, with request.execute, carries it out:
  // step by step (request.max_step hosts each), every cell of a step's hosts
  // is drained to a surviving host (checkpointed, its writes held briefly,
  // opened on the target from that checkpoint and the journal tail, the map's
  // epoch switched), and the next step starts once every moved cell serves
  // and has validated; the first failure stops the removal. A removal the
  // capacity guard refuses (RemovalPlan::refusal, with a one-line reason:
  // an unknown host, a pattern matching another number of hosts, a pool
  // going below its minimum, survivors without room, an unhealthy cell, a
  // step too large) changes nothing and is returned as a plan, not an error.
  // InvalidArgument for a malformed request (recovery/capacity_guard.h).
  virtual absl::StatusOr<RemovalPlan> RemoveHosts(const HostRemoval& request) = 0;
  // Plans spreading the cells evenly over each pool's hosts (a host was
  // added, say: RebalancePlan says how) and, with request.execute, carries
  // it out gradually: one cell at a time, each drained as in RemoveHosts,
  // the next once it serves and has validated and request.pause has passed;
  // the first failure stops it (Aborted naming the move). Other capacity
  // changes (a host lost, added or removed, a pool set) go ahead during the
  // pause and stop the rebalance there (Aborted: its plan is stale). Refused
  // (a plan with kUnhealthyCell, nothing moved) while a cell is not healthy.
  // Recorded in the audit log. InvalidArgument for a negative pause or an
  // unknown pool.
  virtual absl::StatusOr<RebalancePlan> Rebalance(const RebalanceRequest& request) = 0;
  // Adds a host with its local directory (created if missing), in `pool`
  // (made if missing; empty: the default pool), in one change of the
  // inventory: the index may place cells there from now on (Rebalance
  // moves cells onto it). InvalidArgument, with nothing changed, when the
  // name is empty or taken, the pool's name is invalid, or the directory
  // overlaps the store or another host's.
  virtual absl::Status AddHost(const std::string& name, const std::string& dir,
                               const std::string& pool = "", const std::string& user = "") = 0;
  // Sets (adds or replaces) a pool; its hosts leave any other pool.
  // InvalidArgument for an invalid pool or an unknown host.
  virtual absl::Status SetPool(const Pool& pool, const std::string& user = "") = 0;
  // The hosts and pools, and what each pool holds now.
  virtual Inventory inventory() const = 0;
  virtual std::vector<PoolCapacity> PoolCapacities() const = 0;
  // The audit log, one JSON object per line, oldest first.
  virtual absl::StatusOr<std::vector<std::string>> AuditLog() const = 0;

  // ---- Cells: split ------------------------------------------------------
  // Splits serving cell request.cell at request.at (or its median record)
  // into two new cells with new ids, on the parent's host: the parent is
  // checkpointed, its requests are held briefly while it closes, each
  // child's state is made from the parent's by hard links and trimmed to
  // its range, the new map is saved (the commit: a crash before it leaves
  // the parent, after it both children), the children open and the held
  // requests go on (they and any routed on the old map go to the children),
  // then each child is checkpointed; until it has checkpoints of its own a
  // child lost with its host is rebuilt from the parent's. Recorded in the audit log. InvalidArgument when no
  // live cell has the id or the key is not strictly inside its range (or
  // the cell holds too few records for a median); Unavailable when it does
  // not serve; FailedPrecondition when its validation fails.
  virtual absl::StatusOr<SplitReport> SplitCell(const SplitRequest& request) = 0;
  // Joins serving neighbours request.left and request.right into one new
  // cell on the left's host, with the same steps and guarantees as a split:
  // both checkpointed, held briefly, closed; the child made from the left's
  // state by hard links plus the right's records copied in; the map saved
  // (the commit); the child opened, then checkpointed.
  // InvalidArgument when an id is unknown or the cells are not neighbours
  // in that order.
  virtual absl::StatusOr<MergeReport> MergeCells(const MergeRequest& request) = 0;

  // ---- A member of a cluster (Options::cluster_member) --------------------
  // Starts serving `cell`, which this process now owns with `owner_epoch`
  // (its claim's revision in etcd, greater than any earlier owner's): it is
  // restored from the store, its journal opened with that epoch, which
  // fences the earlier owner off. Returns at once (Stats and WaitForRecovery
  // say when it serves). Nothing if it is adopted already.
  // FailedPrecondition when the index is not a cluster member;
  // InvalidArgument for an unknown cell or an epoch of 0.
  virtual absl::Status Adopt(CellId cell, uint64_t owner_epoch) = 0;
  // Stops serving adopted `cell` (it moves to another process): waits for
  // the requests under way, closes it and seals its journal. Call it while
  // the ownership holds; release the claim after. Nothing when it is not
  // adopted; FailedPrecondition when the index is not a cluster member.
  virtual absl::Status Release(CellId cell) = 0;
  // Follows `map`, a newer map of this index that another member's split
  // or merge committed: its new cells are known (to adopt), the cells it
  // no longer names are released if adopted and never serve again, and
  // requests route on it. Saved as the store's map when the store's is
  // older (for the next member that opens, or a single process leaving
  // the cluster). For this map's epoch, only that save (when the store's
  // is older);
  // FailedPrecondition for an older one or another index's, or when the
  // index is not a cluster member.
  virtual absl::Status AdoptMap(const CellMap& map) = 0;

  // ---- Health -----------------------------------------------------------
  // The index's metrics in the Prometheus text exposition format: per cell
  // its state, keys, bytes, journal bytes since its checkpoint, checkpoint
  // age, last recovery's phase times, and request counts and latencies by
  // operation and outcome; per index the cells by state, hosts and pools,
  // and the time to first and full availability of the last recovery.
  virtual std::string Metrics() const = 0;
  // Writes the status page (index/status_page.h: cells by state, hosts and
  // pools against their minimums, the last recoveries, the audit tail) to
  // `dir`/index.html, atomically, now, every `every` while the index is open,
  // and after every change of state (a cell recovered, hosts or pools
  // changed). The directory is the page's own: InvalidArgument when it lies
  // in (or holds) data_dir, store_dir or a host's directory, since the page
  // must outlive them; FailedPrecondition when already started.
  virtual absl::Status StartStatusPage(const std::string& dir,
                                       absl::Duration every = absl::Seconds(2)) = 0;

  // ---- Failures: drills and tests, not operations ----------------------
  // Simulates losing hosts at once (drills, tests): their cells stop
  // serving, their local directories are deleted, and the cells move to the
  // remaining hosts (fewest cells first) and are restored there from the
  // store in the background. A recovery already running for one of those
  // cells is waited for first. Returns the cells moved. FailedPrecondition
  // when no host would remain; InvalidArgument when a host is unknown.
  // No guard applies: this is a failure, not a removal (see RemoveHosts).
  virtual absl::StatusOr<std::vector<CellId>> LoseHosts(const std::vector<std::string>& hosts) = 0;
  absl::StatusOr<std::vector<CellId>> LoseHost(const std::string& host) {
    return LoseHosts({host});
  }

  // Which cell serves `key`.
  virtual CellId CellFor(const ObjectKey& key) const = 0;
  // A copy of the cell map as it is now (hosts change when hosts are lost).
  virtual CellMap cell_map() const = 0;
  virtual IndexStats Stats() const = 0;

 protected:
  Index() = default;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_INDEX_H_
