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
// not hold; nothing changed), Unavailable (the key's cell is not serving),
// DataLoss (stored state is damaged; never a wrong answer instead).
//
// All methods are thread-safe. Writers to different cells run in parallel;
// writers to one cell share journal syncs (group commit).
#ifndef CELLINDEX_INDEX_INDEX_H_
#define CELLINDEX_INDEX_INDEX_H_

#include <cstdint>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/cell_map.h"
#include "index/listing.h"
#include "index/locate.h"
#include "index/object_key.h"
#include "index/object_record.h"
#include "index/options.h"
#include "index/stats.h"
#include "index/write_batch.h"

namespace rocksdb {
class FileLock;
}

namespace cellindex {

class Cell;
class DurableStore;
class RecoveryScheduler;
struct CellResources;
struct CellRecoveryOptions;
struct InternalOptions;

class Index {
 public:
  // Opens the index in options.data_dir / options.store_dir, creating it if
  // missing (unless error_if_missing). On an existing index every cell is
  // brought back by the RecoveryScheduler: a cell whose host kept its state
  // reopens it and replays the journal above its applied_seq (a torn tail is
  // cut); a cell whose host lost it is restored from its newest valid
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
  ~Index();

  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Stores `record` under `key` if `precondition` holds, and returns the
  // version assigned (record.version on input is ignored). Unset
  // created/modified times are set to now (created to modified).
  // Unavailable (naming the cell and its phase) while the key's cell is
  // recovering.
  absl::StatusOr<uint64_t> Put(const ObjectKey& key, const ObjectRecord& record,
                               const Precondition& precondition = {});
  // The record stored under `key`; NotFound when there is none.
  absl::StatusOr<ObjectRecord> Get(const ObjectKey& key);
  // Removes `key` if `precondition` holds; NotFound when absent.
  absl::Status Delete(const ObjectKey& key, const Precondition& precondition = {});
  // Applies every op of `batch` or none. All keys must live in one cell:
  // InvalidArgument naming the two cells otherwise. Returns one version per op
  // (0 for deletes).
  absl::StatusOr<std::vector<uint64_t>> Write(const WriteBatch& batch);

  // One page of `bucket` with the semantics of S3 ListObjectsV2, across cell
  // boundaries in key order (see index/listing.h for errors).
  absl::StatusOr<ListResult> List(absl::string_view bucket, const ListOptions& options = {});
  // One page of the objects with bytes on a volume or node (see
  // index/locate.h).
  absl::StatusOr<LocateResult> Locate(const LocateOptions& options);

  // Checkpoints one cell (or every cell when `cell` is empty) into the
  // durable store now, after running the deep validation of any cell whose
  // validation is still pending (a state that has not passed it is never
  // checkpointed). Unavailable when a cell asked for is not serving;
  // FailedPrecondition when its validation failed (it is being restored);
  // DataLoss when a local file turned out damaged (the cell is restored).
  absl::StatusOr<std::vector<CheckpointReport>> Checkpoint(std::optional<CellId> cell = {});
  // Blocks until no cell is waiting for or running recovery.
  void WaitForRecovery();

  // Simulates losing hosts at once (drills, tests): their cells stop
  // serving, their local directories are deleted, and the cells move to the
  // remaining hosts (fewest cells first) and are restored there from the
  // store in the background. A recovery already running for one of those
  // cells is waited for first. Returns the cells moved. FailedPrecondition
  // when no host would remain; InvalidArgument when a host is unknown.
  absl::StatusOr<std::vector<CellId>> LoseHosts(const std::vector<std::string>& hosts);
  absl::StatusOr<std::vector<CellId>> LoseHost(const std::string& host) {
    return LoseHosts({host});
  }

  // Which cell serves `key`.
  CellId CellFor(const ObjectKey& key) const;
  // A copy of the cell map as it is now (hosts change when hosts are lost).
  CellMap cell_map() const;
  IndexStats Stats() const;

 private:
  struct Slot;
  friend absl::StatusOr<std::unique_ptr<Index>> OpenIndex(const Options&, const InternalOptions&);
  Index(Options options, InternalOptions internal);
  absl::Status Init();
  absl::Status CheckDirectories();
  void SyncLoop();
  void CheckpointLoop();
  // The serving cell behind map index `i`, or Unavailable / its failure.
  absl::StatusOr<std::shared_ptr<Cell>> ServingCell(size_t i) const;
  // Hands the recoveries of `cells` to the scheduler at once. The caller
  // owns each slot's recovery (ClaimRecovery, or Init).
  void ScheduleRecovery(const std::vector<size_t>& cells, bool force_restore,
                        uint64_t below_checkpoint);
  // Runs one recovery of slot `i`, which the caller owns, and gives the
  // ownership up when the cell serves or has failed.
  void RecoverSlot(size_t i, bool force_restore, uint64_t below_checkpoint);
  // Makes the caller the owner of slot `i`'s next recovery and takes its
  // serving cell out of service (waiting for requests that use it). False
  // when a recovery is already queued or running, or, with `expected`, when
  // the slot no longer serves that cell. One recovery per cell at a time.
  bool ClaimRecovery(size_t i, const Cell* expected);
  // The background validation of a cell that has just started serving.
  void ValidateSlot(size_t i, const std::shared_ptr<Cell>& cell);
  // Runs the validation of slot `i` if it is pending, or waits for a running
  // one; OK when the cell's state has passed it (or validation is off).
  absl::Status EnsureValidated(size_t i, const std::shared_ptr<Cell>& cell);
  // A serving cell failed (see Cell::on_failure): restart it, restoring it
  // from the store when the failure was damage.
  void OnCellFailed(size_t i, const Cell* cell, const absl::Status& why);
  absl::StatusOr<CheckpointReport> CheckpointSlot(size_t i, bool wait_for_validation);
  std::string CellDbDir(size_t i) const;
  int64_t PriorityOf(CellId id) const;

  const Options options_;
  const std::unique_ptr<InternalOptions> internal_;
  mutable absl::Mutex map_mu_;  // guards hosts in map_ and host_dirs_; ranges never change
  CellMap map_;
  std::map<std::string, std::string> host_dirs_ ABSL_GUARDED_BY(map_mu_);
  std::unique_ptr<CellResources> resources_;
  std::unique_ptr<DurableStore> store_;
  std::vector<std::unique_ptr<Slot>> slots_;
  rocksdb::FileLock* lock_ = nullptr;
  absl::Time open_start_;
  absl::Duration open_time_;
  std::atomic<int64_t> first_serving_us_{-1};
  std::atomic<int64_t> all_serving_us_{-1};
  std::atomic<size_t> serving_count_{0};
  std::atomic<uint64_t> checkpoint_loop_passes_{0};

  absl::Mutex bg_mu_;
  bool stopping_ ABSL_GUARDED_BY(bg_mu_) = false;
  std::thread sync_thread_;
  std::thread checkpoint_thread_;
  std::unique_ptr<RecoveryScheduler> recovery_;
  std::unique_ptr<RecoveryScheduler> validation_;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_INDEX_H_
