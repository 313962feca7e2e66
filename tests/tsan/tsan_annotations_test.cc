// Shows that tests/tsan/absl_tsan_annotations.cc makes ThreadSanitizer see the
// synchronization of Debian's uninstrumented Abseil, and that TSan still finds
// real races. Each scenario runs in a child process (this binary with
// --scenario=NAME); the test checks whether TSan reported a data race there.
#include <unistd.h>
#include <sys/wait.h>

#include <dlfcn.h>

#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

constexpr int kThreads = 4;
constexpr int kIterations = 1000;

void RunThreads(int n, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back(body, i);
  for (std::thread& t : threads) t.join();
}

// ---- scenarios TSan must report ----

void Unguarded() {
  long counter = 0;
  RunThreads(kThreads, [&](int) {
    for (int i = 0; i < kIterations; ++i) ++counter;
  });
  std::printf("%ld\n", counter);
}

// The real Mutex::Lock/Unlock, past the annotations: the false race they fix.
void UnannotatedMutex() {
  using Fn = void (*)(absl::Mutex*);
  auto lock = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "_ZN4absl7debian35Mutex4LockEv"));
  auto unlock = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "_ZN4absl7debian35Mutex6UnlockEv"));
  absl::Mutex mu;
  long counter = 0;
  RunThreads(kThreads, [&](int) {
    for (int i = 0; i < kIterations; ++i) {
      lock(&mu);
      ++counter;
      unlock(&mu);
    }
  });
  std::printf("%ld\n", counter);
}

// ---- scenarios TSan must find clean ----

struct Guarded {
  absl::Mutex mu;
  long counter ABSL_GUARDED_BY(mu) = 0;
  long payload = 0;  // written before a handoff, read after it, never under `mu`
  bool ready ABSL_GUARDED_BY(mu) = false;
};

bool CounterDone(Guarded* g) ABSL_EXCLUSIVE_LOCKS_REQUIRED(g->mu) {
  return g->counter >= kThreads * kIterations;
}
bool Ready(Guarded* g) ABSL_EXCLUSIVE_LOCKS_REQUIRED(g->mu) { return g->ready; }

// Threads count under the lock while the last thread waits, with `wait`, for
// the count: its condition is evaluated by the counting threads as they unlock.
void CountAndWait(const std::function<void(Guarded&)>& wait) {
  Guarded g;
  RunThreads(kThreads + 1, [&](int t) {
    if (t == kThreads) return wait(g);
    for (int i = 0; i < kIterations; ++i) {
      absl::MutexLock lock(&g.mu);
      ++g.counter;
    }
  });
}

// One thread writes the payload and hands off with `publish`; another waits
// with `wait` and reads it.
void Handoff(const std::function<void(Guarded&)>& publish,
             const std::function<void(Guarded&)>& wait) {
  Guarded g;
  RunThreads(2, [&](int t) {
    if (t == 0) {
      g.payload = 42;
      publish(g);
    } else {
      wait(g);
      if (g.payload != 42) std::abort();
    }
  });
}

void PublishUnderLock(Guarded& g) {
  absl::MutexLock lock(&g.mu);
  g.ready = true;
}

void Lock() {
  Guarded g;
  RunThreads(kThreads, [&](int) {
    for (int i = 0; i < kIterations; ++i) {
      absl::MutexLock lock(&g.mu);
      ++g.counter;
    }
  });
}

void ReaderLock() {
  Guarded g;
  RunThreads(kThreads, [&](int t) {
    long seen = 0;
    for (int i = 0; i < kIterations; ++i) {
      if (t % 2 == 0) {
        absl::MutexLock lock(&g.mu);
        ++g.counter;
      } else {
        absl::ReaderMutexLock lock(&g.mu);
        seen += g.counter;
      }
    }
    if (seen < 0) std::abort();
  });
}

void TryLock() {
  Guarded g;
  RunThreads(kThreads, [&](int t) {
    long seen = 0;
    for (int i = 0; i < kIterations; ++i) {
      if (t % 2 == 0) {
        while (!g.mu.TryLock()) {
        }
        ++g.counter;
        g.mu.Unlock();
      } else {
        while (!g.mu.ReaderTryLock()) {
        }
        seen += g.counter;
        g.mu.ReaderUnlock();
      }
    }
    if (seen < 0) std::abort();
  });
}

void Await() {
  CountAndWait([](Guarded& g) {
    absl::MutexLock lock(&g.mu);
    g.mu.Await(absl::Condition(&CounterDone, &g));
  });
  Handoff(PublishUnderLock, [](Guarded& g) {
    absl::MutexLock lock(&g.mu);
    g.mu.Await(absl::Condition(&Ready, &g));
  });
}

void AwaitWithTimeoutAndDeadline() {
  CountAndWait([](Guarded& g) {
    absl::MutexLock lock(&g.mu);
    if (!g.mu.AwaitWithTimeout(absl::Condition(&CounterDone, &g), absl::Seconds(60))) abort();
  });
  Handoff(PublishUnderLock, [](Guarded& g) {
    absl::MutexLock lock(&g.mu);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    if (!g.mu.AwaitWithDeadline(absl::Condition(&Ready, &g), deadline)) abort();
  });
}

void LockWhen() {
  CountAndWait([](Guarded& g) { absl::MutexLock lock(&g.mu, absl::Condition(&CounterDone, &g)); });
  Handoff(PublishUnderLock, [](Guarded& g) {
    g.mu.LockWhenWithTimeout(absl::Condition(&Ready, &g), absl::Seconds(60));
    g.mu.Unlock();
  });
  Handoff(PublishUnderLock, [](Guarded& g) {
    g.mu.LockWhenWithDeadline(absl::Condition(&Ready, &g), absl::Now() + absl::Seconds(60));
    g.mu.Unlock();
  });
}

void ReaderLockWhen() {
  CountAndWait([](Guarded& g) {
    absl::ReaderMutexLock lock(&g.mu, absl::Condition(&CounterDone, &g));
  });
  Handoff(PublishUnderLock, [](Guarded& g) {
    g.mu.ReaderLockWhenWithTimeout(absl::Condition(&Ready, &g), absl::Seconds(60));
    g.mu.ReaderUnlock();
  });
  Handoff(PublishUnderLock, [](Guarded& g) {
    g.mu.ReaderLockWhenWithDeadline(absl::Condition(&Ready, &g), absl::Now() + absl::Seconds(60));
    g.mu.ReaderUnlock();
  });
}

void CondVar() {
  absl::CondVar cv;
  auto publish = [&cv](Guarded& g) {
    absl::MutexLock lock(&g.mu);
    g.ready = true;
    cv.Signal();
  };
  Handoff(publish, [&cv](Guarded& g) {
    absl::MutexLock lock(&g.mu);
    while (!g.ready) cv.Wait(&g.mu);
  });
  absl::CondVar cv_all;
  Handoff(
      [&cv_all](Guarded& g) {
        absl::MutexLock lock(&g.mu);
        g.ready = true;
        cv_all.SignalAll();
      },
      [&cv_all](Guarded& g) {
        absl::MutexLock lock(&g.mu);
        while (!g.ready) cv_all.WaitWithTimeout(&g.mu, absl::Seconds(60));
      });
  absl::CondVar cv_deadline;
  Handoff(
      [&cv_deadline](Guarded& g) {
        absl::MutexLock lock(&g.mu);
        g.ready = true;
        cv_deadline.Signal();
      },
      [&cv_deadline](Guarded& g) {
        absl::MutexLock lock(&g.mu);
        while (!g.ready) cv_deadline.WaitWithDeadline(&g.mu, absl::Now() + absl::Seconds(60));
      });
}

void Notification() {
  for (int variant = 0; variant < 3; ++variant) {
    absl::Notification n;
    Handoff([&n](Guarded&) { n.Notify(); },
            [&n, variant](Guarded&) {
              if (variant == 0) n.WaitForNotification();
              if (variant == 1 && !n.WaitForNotificationWithTimeout(absl::Seconds(60))) abort();
              if (variant == 2 &&
                  !n.WaitForNotificationWithDeadline(absl::Now() + absl::Seconds(60))) {
                abort();
              }
            });
  }
}

const std::map<std::string, void (*)()>& Scenarios() {
  static const auto* scenarios = new std::map<std::string, void (*)()>{
      {"unguarded", Unguarded},
      {"unannotated_mutex", UnannotatedMutex},
      {"lock", Lock},
      {"reader_lock", ReaderLock},
      {"try_lock", TryLock},
      {"await", Await},
      {"await_with_timeout_and_deadline", AwaitWithTimeoutAndDeadline},
      {"lock_when", LockWhen},
      {"reader_lock_when", ReaderLockWhen},
      {"condvar", CondVar},
      {"notification", Notification},
  };
  return *scenarios;
}

struct ChildRun {
  int exit_code = -1;
  std::string output;
};

ChildRun RunScenario(const std::string& name) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return {};
  self[n] = '\0';
  // Reports to the pipe, whatever TSAN_OPTIONS the test itself runs with.
  const std::string cmd = absl::StrCat("TSAN_OPTIONS='halt_on_error=0 exitcode=66' '", self,
                                       "' --scenario=", name, " 2>&1");
  FILE* p = ::popen(cmd.c_str(), "r");
  ChildRun run;
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), p)) > 0) run.output.append(buf, got);
  const int status = ::pclose(p);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

void ExpectRace(const std::string& scenario) {
  const ChildRun run = RunScenario(scenario);
  EXPECT_EQ(run.exit_code, 66) << run.output;
  EXPECT_TRUE(absl::StrContains(run.output, "WARNING: ThreadSanitizer: data race")) << run.output;
}

void ExpectClean(const std::string& scenario) {
  const ChildRun run = RunScenario(scenario);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_FALSE(absl::StrContains(run.output, "ThreadSanitizer")) << run.output;
}

TEST(TsanAnnotationsTest, AnUnguardedCounterIsReported) { ExpectRace("unguarded"); }
TEST(TsanAnnotationsTest, WithoutTheAnnotationsAMutexGuardedCounterIsReported) {
  ExpectRace("unannotated_mutex");
}
TEST(TsanAnnotationsTest, LockIsClean) { ExpectClean("lock"); }
TEST(TsanAnnotationsTest, ReaderLockIsClean) { ExpectClean("reader_lock"); }
TEST(TsanAnnotationsTest, TryLockIsClean) { ExpectClean("try_lock"); }
TEST(TsanAnnotationsTest, AwaitIsClean) { ExpectClean("await"); }
TEST(TsanAnnotationsTest, AwaitWithTimeoutAndDeadlineIsClean) {
  ExpectClean("await_with_timeout_and_deadline");
}
TEST(TsanAnnotationsTest, LockWhenIsClean) { ExpectClean("lock_when"); }
TEST(TsanAnnotationsTest, ReaderLockWhenIsClean) { ExpectClean("reader_lock_when"); }
TEST(TsanAnnotationsTest, CondVarIsClean) { ExpectClean("condvar"); }
TEST(TsanAnnotationsTest, NotificationIsClean) { ExpectClean("notification"); }

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--scenario=")) {
      auto it = Scenarios().find(std::string(arg));
      if (it == Scenarios().end()) return 2;
      it->second();
      return 0;
    }
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
