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

namespace cellindex {

class Cell;
class DurableStore;
class RecoveryScheduler;
struct CellResources;
struct CellRecoveryOptions;

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
  // InvalidArgument when the options' layout disagrees with the stored cell
  // map; FailedPrecondition when another Index holds the store.
  static absl::StatusOr<std::unique_ptr<Index>> Open(const Options& options);
  // Waits for in-flight writes and recoveries, syncs the journals and closes
  // every cell.
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
  // durable store now. Unavailable when a cell asked for is not serving.
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
  const CellMap& cell_map() const { return map_; }
  IndexStats Stats() const;

 private:
  struct Slot;
  explicit Index(Options options);
  absl::Status Init();
  void SyncLoop();
  void CheckpointLoop();
  // The serving cell behind map index `i`, or Unavailable / its failure.
  absl::StatusOr<std::shared_ptr<Cell>> ServingCell(size_t i) const;
  // Marks the cells queued and hands their recoveries to the scheduler at once.
  void ScheduleRecovery(const std::vector<size_t>& cells, bool force_restore,
                        uint64_t below_checkpoint);
  void RecoverSlot(size_t i, bool force_restore, uint64_t below_checkpoint);
  void ValidateSlot(size_t i, std::shared_ptr<Cell> cell);
  // Takes the cell out of service and waits until no request uses it.
  void TakeOutOfService(size_t i);
  absl::StatusOr<CheckpointReport> CheckpointSlot(size_t i);
  std::string CellDbDir(size_t i) const;
  int64_t PriorityOf(CellId id) const;

  const Options options_;
  mutable absl::Mutex map_mu_;  // guards hosts in map_ and host_dirs_; ranges never change
  CellMap map_;
  std::map<std::string, std::string> host_dirs_ ABSL_GUARDED_BY(map_mu_);
  std::unique_ptr<DurableStore> store_;
  std::unique_ptr<CellResources> resources_;
  std::vector<std::unique_ptr<Slot>> slots_;
  int lock_fd_ = -1;
  absl::Time open_start_;
  absl::Duration open_time_;
  std::atomic<int64_t> first_serving_us_{-1};
  std::atomic<int64_t> all_serving_us_{-1};
  std::atomic<size_t> serving_count_{0};

  absl::Mutex bg_mu_;
  bool stopping_ ABSL_GUARDED_BY(bg_mu_) = false;
  std::thread sync_thread_;
  std::thread checkpoint_thread_;
  std::unique_ptr<RecoveryScheduler> recovery_;
  std::unique_ptr<RecoveryScheduler> validation_;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_INDEX_H_
