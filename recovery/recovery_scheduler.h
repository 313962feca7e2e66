// Runs recovery work with bounded parallelism, most urgent first.
//
// Restoring a cell is I/O-bound (fetching files, replaying a journal); running
// every cell at once would make each slower and delay the first. The scheduler
// runs at most `parallelism` tasks at a time, lowest priority number first and
// in submission order among equals, so the cells a service needs first serve
// first, each as soon as its own task ends.
#ifndef CELLINDEX_RECOVERY_RECOVERY_SCHEDULER_H_
#define CELLINDEX_RECOVERY_RECOVERY_SCHEDULER_H_

#include <cstdint>
#include <functional>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cellindex {

class RecoveryScheduler {
 public:
  // `name` names its threads (at most 15 bytes; seen in top -H, gdb, perf).
  RecoveryScheduler(int parallelism, const char* name);
  // Stop().
  ~RecoveryScheduler();
  // Drops the tasks not started yet, waits for the running ones, and from
  // then on drops every task scheduled. Idempotent.
  void Stop();

  RecoveryScheduler(const RecoveryScheduler&) = delete;
  RecoveryScheduler& operator=(const RecoveryScheduler&) = delete;

  void Schedule(int64_t priority, std::function<void()> task);
  // Queues every task before any of them can start, so the first to run is
  // the most urgent of the whole batch.
  void ScheduleAll(std::vector<std::pair<int64_t, std::function<void()>>> tasks);
  // Blocks until no task is queued or running.
  void WaitIdle();
  // The same, for at most `timeout`: whether it is idle.
  bool WaitIdleFor(absl::Duration timeout);

 private:
  struct Task {
    int64_t priority;
    uint64_t order;
    std::function<void()> fn;
    bool operator<(const Task& o) const {  // std::priority_queue pops the largest
      return priority != o.priority ? priority > o.priority : order > o.order;
    }
  };
  void Work();

  absl::Mutex mu_;
  std::priority_queue<Task> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_order_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_RECOVERY_SCHEDULER_H_
