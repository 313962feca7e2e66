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
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "index/cell_map.h"
#include "index/object_key.h"
#include "index/object_record.h"
#include "index/options.h"
#include "index/stats.h"
#include "index/write_batch.h"

namespace cellindex {

class Cell;
struct CellResources;

class Index {
 public:
  // Opens the index in options.data_dir / options.store_dir, creating it if
  // missing (unless error_if_missing). On an existing index every cell is
  // brought back: its RocksDB is opened and the journal replayed above the
  // cell's applied_seq; a torn journal tail is cut. InvalidArgument when the
  // options' layout disagrees with the stored cell map; FailedPrecondition
  // when another Index holds the store; DataLoss when a cell's journal cannot
  // bring it up to date.
  static absl::StatusOr<std::unique_ptr<Index>> Open(const Options& options);
  // Waits for in-flight writes, syncs the journals and closes every cell.
  ~Index();

  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Stores `record` under `key` if `precondition` holds, and returns the
  // version assigned (record.version on input is ignored). Unset
  // created/modified times are set to now (created to modified).
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

  // Which cell serves `key`.
  CellId CellFor(const ObjectKey& key) const;
  const CellMap& cell_map() const { return map_; }
  IndexStats Stats() const;

 private:
  explicit Index(Options options);
  absl::Status Init();
  void SyncLoop();

  const Options options_;
  CellMap map_;
  std::unique_ptr<CellResources> resources_;
  std::vector<std::unique_ptr<Cell>> cells_;
  int lock_fd_ = -1;
  absl::Duration open_time_;

  absl::Mutex sync_mu_;
  bool stopping_ ABSL_GUARDED_BY(sync_mu_) = false;
  std::thread sync_thread_;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_INDEX_H_
