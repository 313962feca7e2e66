// BulkLoad (tools/bulk_load.h), the loader of `cellindex load` and the
// drill: a batch refused with Unavailable while its cell is not serving is
// written again once the cell serves, and the retries are counted.
#include "tools/bulk_load.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "index/internal_options.h"
#include "tests/four_cells.h"
#include "tests/test_util.h"
#include "tools/workload.h"

namespace cellindex {
namespace {

// The index's one cell loses its host; its restore on the other host is
// held (a recovery hook) while the load runs: the load's batches are
// refused, retried, and all land once the cell serves again.
TEST(BulkLoadTest, RetriesBatchesWhileTheirCellIsNotServing) {
  testing::ScratchDir dir;
  Options o = testing::FourCells(dir);
  o.cell_boundaries.clear();
  o.host_dirs = {{"h0", dir / "h0"}, {"h1", dir / "h1"}};
  absl::Notification release;
  std::atomic<bool> armed{false};
  InternalOptions in;
  in.recovery_hook = [&](uint32_t, RecoveryEvent e) {
    if (armed.load() && e == RecoveryEvent::kStart) release.WaitForNotification();
  };
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok()) << index.status();
  (*index)->WaitForRecovery();
  armed = true;
  const std::string host = (*index)->cell_map().cells()[0].host;
  absl::StatusOr<std::vector<CellId>> lost = (*index)->LoseHosts({host});
  ASSERT_TRUE(lost.ok()) << lost.status();
  ASSERT_EQ(lost->size(), 1u);
  const tools::Workload workload;
  constexpr uint64_t kObjects = 3000;
  std::atomic<uint64_t> done{0}, retries{0};
  absl::Status loaded;
  std::thread loader([&] {
    loaded = tools::BulkLoad(**index, workload, 0, kObjects, 2, &done, &retries);
  });
  // Refused at least once while held; then the cell opens.
  const bool refused = testing::WaitUntil([&] { return retries.load() > 0; });
  release.Notify();
  loader.join();
  ASSERT_TRUE(refused) << "the load was never refused";
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_GT(retries.load(), 0u);
  EXPECT_EQ(done.load(), kObjects);
  for (uint64_t i = 0; i < kObjects; i += 7) {
    absl::StatusOr<ObjectRecord> r = (*index)->Get(workload.Key(i));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    EXPECT_EQ(r->size, workload.Record(i).size) << i;
  }
}

}  // namespace
}  // namespace cellindex
