// The work an open index does on its own: syncing buffered journals on a
// timer, and checkpointing each cell when its journal has grown or its last
// checkpoint has aged (Options::checkpoint_journal_bytes, checkpoint_interval).
#ifndef CELLINDEX_RECOVERY_BACKGROUND_H_
#define CELLINDEX_RECOVERY_BACKGROUND_H_

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "index/model/options.h"
#include "recovery/cell_set.h"

namespace cellindex {

class BackgroundWork {
 public:
  // Starts the threads `options` asks for, working on `cells` (which must
  // outlive this).
  BackgroundWork(const Options& options, CellSet* cells);
  // Stop().
  ~BackgroundWork();
  BackgroundWork(const BackgroundWork&) = delete;
  BackgroundWork& operator=(const BackgroundWork&) = delete;

  // Stops the threads, waiting for the pass under way.
  void Stop();
  // Passes of the checkpoint loop over the cells so far.
  uint64_t checkpoint_loop_passes() const { return checkpoint_loop_passes_.load(); }

 private:
  void SyncLoop();
  void CheckpointLoop();

  const Options& options_;
  CellSet* const cells_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> checkpoint_loop_passes_{0};
  std::thread sync_thread_;
  std::thread checkpoint_thread_;
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_BACKGROUND_H_
