// The Index behind the public interface: the cell map and the hosts, the
// routing of each request to its cell, and the wiring of the layers below
// (the cells' set and its recovery, background work, the durable store).
#ifndef CELLINDEX_INDEX_INDEX_IMPL_H_
#define CELLINDEX_INDEX_INDEX_IMPL_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "index/cell/cell_resources.h"
#include "index/index.h"
#include "index/internal_options.h"
#include "recovery/background.h"
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
  CellId CellFor(const ObjectKey& key) const override;
  CellMap cell_map() const override;
  IndexStats Stats() const override;

 private:
  absl::Status CheckDirectories();
  // Who cell `i` is and where it lives now.
  CellSet::Place PlaceOf(size_t i) const;

  const Options options_;
  const InternalOptions internal_;
  const absl::Time open_start_;
  absl::Duration open_time_;
  // Cell ranges and ids never change; hosts do (LoseHosts).
  mutable absl::Mutex map_mu_;
  CellMap map_;
  std::map<std::string, std::string> host_dirs_ ABSL_GUARDED_BY(map_mu_);
  std::unique_ptr<CellResources> resources_;
  std::unique_ptr<DurableStore> store_;
  rocksdb::FileLock* lock_ = nullptr;
  std::unique_ptr<CellSet> cells_;
  std::unique_ptr<BackgroundWork> background_;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_INDEX_IMPL_H_
