#include "recovery/recovery_scheduler.h"

#include <pthread.h>

#include <algorithm>

namespace cellindex {

RecoveryScheduler::RecoveryScheduler(int parallelism, const char* name) {
  for (int i = 0; i < std::max(1, parallelism); ++i) {
    threads_.emplace_back([this, name] {
      pthread_setname_np(pthread_self(), name);
      Work();
    });
  }
}

RecoveryScheduler::~RecoveryScheduler() { Stop(); }

void RecoveryScheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    while (!queue_.empty()) queue_.pop();
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void RecoveryScheduler::Schedule(int64_t priority, std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  queue_.push(Task{priority, next_order_++, std::move(task)});
}

void RecoveryScheduler::ScheduleAll(
    std::vector<std::pair<int64_t, std::function<void()>>> tasks) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  for (auto& [priority, fn] : tasks) queue_.push(Task{priority, next_order_++, std::move(fn)});
}

bool RecoveryScheduler::WaitIdleFor(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](RecoveryScheduler* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                    return s->queue_.empty() && s->running_ == 0;
                                  },
                                  this),
                              timeout);
}

void RecoveryScheduler::WaitIdle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](RecoveryScheduler* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return s->queue_.empty() && s->running_ == 0;
      },
      this));
}

void RecoveryScheduler::Work() {
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.Await(absl::Condition(
        +[](RecoveryScheduler* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return s->stopping_ || !s->queue_.empty();
        },
        this));
    if (stopping_) return;
    Task task = queue_.top();
    queue_.pop();
    ++running_;
    mu_.Unlock();
    task.fn();
    mu_.Lock();
    --running_;
  }
}

}  // namespace cellindex
