// The Index behind the public interface: the cell map and the hosts, the
// routing of each request to its cell, and the wiring of the layers below
// (the cells' set and its recovery, background work, the durable store).
#ifndef CELLINDEX_INDEX_INDEX_IMPL_H_
#define CELLINDEX_INDEX_INDEX_IMPL_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "index/cell/cell_resources.h"
#include "index/index.h"
#include "index/internal_options.h"
#include "index/request_metrics.h"
#include "nlohmann/json.hpp"
#include "recovery/background.h"
#include "recovery/capacity_guard.h"
#include "recovery/cell_set.h"
#include "recovery/store/durable_store.h"

namespace rocksdb {
class FileLock;
}

namespace cellindex {

class IndexImpl : public Index {
 public:
  IndexImpl(Options options, InternalOptions internal);
  ~IndexImpl() override;

  // Checks the directories, takes the store's lock, loads (or creates) the
  // cell map, places cells whose host is gone, and starts the recoveries.
  absl::Status Init();
  // Leaving the cluster: FailedPrecondition when a cell the store's map
  // does not know yet has served (the store's map lags etcd's).
  absl::Status CheckNoNewerCells() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(map_mu_);
  // Init for Options::cluster_member.
  absl::Status InitMember();
  // A member marks the store (kClusterMarkFile), unless a single-process
  // index holds it (FailedPrecondition).
  absl::Status MarkClusterStore();
  // The cell set over map_'s cells (adopt_only: CellSet::Deps), and the
  // request metrics; Init's and InitMember's last common step.
  void MakeCells(bool adopt_only);

  absl::StatusOr<uint64_t> Put(const ObjectKey& key, const ObjectRecord& record,
                               const Precondition& precondition) override;
  absl::StatusOr<ObjectRecord> Get(const ObjectKey& key) override;
  absl::Status Delete(const ObjectKey& key, const Precondition& precondition) override;
  absl::StatusOr<std::vector<uint64_t>> Write(const WriteBatch& batch) override;
  absl::StatusOr<ListResult> List(absl::string_view bucket, const ListOptions& options) override;
  absl::StatusOr<LocateResult> Locate(const LocateOptions& options) override;
  absl::StatusOr<std::vector<CheckpointReport>> Checkpoint(std::optional<CellId> cell) override;
  void WaitForRecovery() override;
  absl::StatusOr<std::vector<CellId>> LoseHosts(const std::vector<std::string>& hosts) override;
  absl::StatusOr<RemovalPlan> RemoveHosts(const HostRemoval& request) override;
  absl::StatusOr<RebalancePlan> Rebalance(const RebalanceRequest& request) override;
  absl::Status AddHost(const std::string& name, const std::string& dir, const std::string& pool,
                       const std::string& user) override;
  absl::Status SetPool(const Pool& pool, const std::string& user) override;
  absl::StatusOr<SplitReport> SplitCell(const SplitRequest& request) override;
  absl::StatusOr<MergeReport> MergeCells(const MergeRequest& request) override;
  absl::Status Adopt(CellId cell, uint64_t owner_epoch) override;
  absl::Status Release(CellId cell) override;
  absl::Status AdoptMap(const CellMap& map) override;
  Inventory inventory() const override;
  std::vector<PoolCapacity> PoolCapacities() const override;
  absl::StatusOr<std::vector<std::string>> AuditLog() const override;
  std::string Metrics() const override;
  absl::Status StartStatusPage(const std::string& dir, absl::Duration every) override;
  CellId CellFor(const ObjectKey& key) const override;
  CellMap cell_map() const override;
  IndexStats Stats() const override;

 private:
  // Checks data_dir, store_dir and the hosts' directories against each other.
  absl::Status CheckDirectories(const std::map<std::string, std::string>& host_dirs);
  // Removes the cell directories a host holds for cells the map places
  // elsewhere (left by a move that a crash interrupted).
  absl::Status RemoveStaleCellDirs();
  // Fills `parts` with the milliseconds of its parts (taking the lost cells
  // over, removing the hosts' directories, saving the map and inventory).
  absl::StatusOr<std::vector<CellId>> LoseHostsImpl(const std::vector<std::string>& hosts,
                                                    nlohmann::ordered_json* parts);
  absl::StatusOr<std::vector<uint64_t>> WriteImpl(const WriteBatch& batch, size_t* cell);
  // Each cell's bytes and health for the capacity guard, after waiting up
  // to `wait` for cells recovering or validating to settle.
  std::vector<CellLoad> CellLoads(absl::Duration wait) const;
  // Carries out an accepted plan, filling plan->step_reports.
  absl::Status ExecuteRemoval(RemovalPlan* plan, const HostRemoval& request);
  // Carries out an accepted rebalance, filling plan->unavailable; each move
  // under capacity_mu_, the pauses without it. `changes` is
  // capacity_changes_ when the plan was made: any other change stops it.
  absl::Status ExecuteRebalance(RebalancePlan* plan, const RebalanceRequest& request,
                                uint64_t changes);
  // Counts a change of capacity (hosts or pools) and wakes a rebalance's
  // pause to notice it.
  void NoteCapacityChange();
  uint64_t capacity_changes() const;
  // Empty when every cell is healthy (after waiting up to `wait` for cells
  // to settle); else which is not, and what it is doing.
  std::string FirstUnhealthyCell(absl::Duration wait) const;
  // Empty once cell `i` serves and has validated (waiting up to `wait`);
  // else what it is doing.
  std::string AwaitHealthy(size_t i, absl::Duration wait) const;
  // Drains cell `id` to host `to`: its window without service. Refused at
  // the switch, the cell serving again where it was, when `to` is no longer
  // a host or, with `from` given, the cell is no longer on `from`. Called
  // under capacity_mu_, or with `lock_capacity`: then capacity_mu_ is taken
  // for the switch only (from the hold until the restore is scheduled), not
  // for the checkpoint before nor the restore after.
  absl::StatusOr<absl::Duration> DrainCell(CellId id, const std::string& to,
                                           const std::string& from = "",
                                           bool lock_capacity = false);
  // Appends `entry` to the audit log, with the time and `user` (empty: the
  // process's user) first.
  absl::Status Audit(const std::string& user, const nlohmann::ordered_json& entry) const;
  // Audits a plan of a removal or rebalance, `entry` saying what was asked,
  // with its outcome: invalid (when `valid` is not OK), refused, planned or
  // accepted. Called before anything changes, so no execution goes
  // unrecorded.
  absl::Status AuditPlan(const std::string& user, nlohmann::ordered_json entry,
                         const absl::Status& valid, RemovalRefusal refusal,
                         const std::string& reason, const std::string& plan_json,
                         bool execute) const;
  std::string inventory_path() const;
  // Asks the status page's writer (if started) for a page now.
  void RequestStatusPage() const;
  absl::Status WriteStatusPage();
  void StopStatusPage();
  // FailedPrecondition for the operations a cluster member leaves to the
  // controller (they change the whole map); OK otherwise.
  absl::Status RefuseInCluster() const;
  // Options::may_acknowledge, or true when unset.
  bool MayAcknowledge() const;
  // Unavailable, saying that this host may no longer own cell `cell`.
  static absl::Status Fenced(CellId cell, bool may_have_applied);
  // Unavailable for a request over many cells (List, Locate).
  static absl::Status FencedAll();
  // Who cell `id` is and where it lives now.
  CellSet::Place PlaceOf(CellId id) const;
  // Publishes map_ for routing (map_mu_ held): after every change of it.
  void PublishMapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(map_mu_);
  // The map requests are routed on: an immutable snapshot of map_.
  std::shared_ptr<const CellMap> Routing() const;
  bool MapChangedSince(const CellMap& map) const;
  // Whether a request that met `status` from a cell of `map` should be
  // routed again: the cell was retired (split or merged) and the map has
  // changed since. At most kMaxReroutes times.
  bool RetryOnNewMap(const absl::Status& status, const CellMap& map, int attempt) const;
  static constexpr int kMaxReroutes = 8;
  // A split or merge around its `change` (run under capacity_mu_, after
  // the "started" audit line; it returns the children): the parents'
  // checkpoints before (outside capacity_mu_, and only when `check`, the
  // request's validation on the map as it is, passes; a parent that cannot
  // be checkpointed is not changed), the children's after (outside it too),
  // then `after` (if any, outside it too), then `finish` (under
  // capacity_mu_ again, filling in the audit line), the collection of
  // retired cells' files, and the "done" audit line.
  absl::Status Reshape(const std::string& user, nlohmann::ordered_json entry,
                       const std::vector<CellId>& parents,
                       const std::function<absl::Status()>& check,
                       const std::function<absl::StatusOr<std::vector<CellId>>()>& change,
                       const std::function<void()>& after,
                       const std::function<void(nlohmann::ordered_json*)>& finish);
  // The split itself (steps 2 to 5; under capacity_mu_).
  // `median`: the split key when the request names none (found before
  // capacity_mu_ was taken); empty: found here.
  absl::StatusOr<SplitReport> SplitImpl(const SplitRequest& request, const std::string& median);
  absl::StatusOr<MergeReport> MergeImpl(const MergeRequest& request);
  // After a split: moves its right child to a less loaded host of the
  // parent's pool, if there is one (LessLoadedHost), saying so in `report`.
  // Outside capacity_mu_ but for the switch (DrainCell's lock_capacity): a
  // host lost during the move's checkpoint or restore is recovered at
  // once, not after them; a target lost before the switch is refused.
  void SpreadChild(SplitReport* report) ABSL_LOCKS_EXCLUDED(capacity_mu_);
  // Saves `next` as the cell map (the commit of a split or merge). When
  // that fails, saves map_ (the old one) again and returns the error; when
  // even that fails, which map is durable is unknown and the process stops
  // (abort) rather than serve either.
  absl::Status SaveMapOrOld(const CellMap& next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(map_mu_);
  // SaveMapOrOld, then makes `next` the map requests route on. Its epoch.
  absl::StatusOr<uint64_t> CommitMap(CellMap next);
  // CommitMap for a cluster member: Options::commit_map commits it; the
  // children are this member's under the owner epoch it returns.
  absl::StatusOr<uint64_t> CommitMemberMap(CellMap next);
  // A member saves `map` as the store's map unless the store's is as new.
  void SaveStoreMapIfOlder(const CellMap& map);
  // OK for a single process; for a cluster member, FailedPrecondition
  // unless it commits through Options::commit_map and serves `cells`.
  absl::Status RefuseReshape(const std::vector<CellId>& cells) const;
  // Removes cell directories and split leftovers of cells the map does not
  // name (a split that a crash interrupted: its children before the map
  // named them, or its parent after).
  absl::Status RemoveRetiredCellDirs();
  // Deletes the store files of retired cells that nothing can need: no
  // live cell names them as parent, or every child has checkpoints of its
  // own (checkpoints_to_keep of them). Under capacity_mu_, so that no split
  // is between starting its children's journals and saving the map.
  absl::Status CollectRetiredCells() ABSL_EXCLUSIVE_LOCKS_REQUIRED(capacity_mu_);
  // The thread that keeps cells small (Options::split_keys and the rest):
  // every resize_check_interval, one pass of ResizePass.
  void StartResizing();
  void StopResizing();
  // Splits every healthy cell over a split threshold, then merges
  // neighbours that have both stayed small for merge_after (`small_since`,
  // kept between passes). Returns the splits and merges done.
  int ResizePass(std::map<CellId, absl::Time>* small_since);

  const Options options_;
  const InternalOptions internal_;
  const absl::Time open_start_;
  absl::Duration open_time_;
  // One capacity change (remove, add, pool, loss, one rebalance move) at a time.
  absl::Mutex capacity_mu_ ABSL_ACQUIRED_BEFORE(map_mu_);
  // Host losses waiting for capacity_mu_. A split or merge that has not
  // committed gives way to them (Aborted, its parents serving again where
  // they were): a loss waits for a cell to reopen, not for the children
  // of a cell to be made.
  std::atomic<int> losses_waiting_{0};
  bool LossWaiting() const { return losses_waiting_.load() > 0; }
  // How many capacity changes there have been; a rebalance pausing between
  // moves waits on it.
  mutable absl::Mutex changes_mu_;
  uint64_t capacity_changes_ ABSL_GUARDED_BY(changes_mu_) = 0;
  // The cell map: hosts change (LoseHosts, RemoveHosts, Rebalance), and
  // cells (SplitCell), always under capacity_mu_ too. Requests route on
  // routing_, a snapshot published after each change.
  mutable absl::Mutex map_mu_ ABSL_ACQUIRED_BEFORE(routing_mu_);
  CellMap map_;
  mutable absl::Mutex routing_mu_;
  std::shared_ptr<const CellMap> routing_ ABSL_GUARDED_BY(routing_mu_);
  // The hosts (name -> directory) and pools, as kept in the store.
  Inventory inventory_ ABSL_GUARDED_BY(map_mu_);
  // The last recovery of many cells (the open, a host loss): when it
  // began and which cells it brought back.
  absl::Time last_recovery_start_ ABSL_GUARDED_BY(map_mu_);
  std::vector<CellId> last_recovery_cells_ ABSL_GUARDED_BY(map_mu_);
  // Options::cluster_member: the owner epoch of each adopted cell.
  // This open leaves a cluster (Options::leave_cluster on a marked store).
  bool leaving_cluster_ = false;
  std::map<CellId, uint64_t> owner_epochs_ ABSL_GUARDED_BY(map_mu_);
  std::unique_ptr<RequestMetrics> requests_;
  // The status page's writer.
  mutable absl::Mutex status_mu_;
  std::string status_dir_ ABSL_GUARDED_BY(status_mu_);
  absl::Duration status_every_ ABSL_GUARDED_BY(status_mu_);
  bool status_stop_ ABSL_GUARDED_BY(status_mu_) = false;
  mutable bool status_due_ ABSL_GUARDED_BY(status_mu_) = false;
  std::thread status_thread_;
  // The resizing thread.
  absl::Mutex resize_mu_;
  bool resize_stop_ ABSL_GUARDED_BY(resize_mu_) = false;
  std::thread resize_thread_;
  std::unique_ptr<CellResources> resources_;
  std::unique_ptr<DurableStore> store_;
  rocksdb::FileLock* lock_ = nullptr;
  std::unique_ptr<CellSet> cells_;
  std::unique_ptr<BackgroundWork> background_;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_INDEX_IMPL_H_
