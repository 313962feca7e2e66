// ThreadSanitizer annotations for Debian's prebuilt Abseil. Linked into every
// executable of a CELLINDEX_SANITIZER=thread build (tests/CMakeLists.txt), and
// into nothing else.
//
// Why: absl::Mutex synchronizes through its own atomics and futex calls inside
// libabsl_synchronization.so, which Debian builds without -fsanitize=thread. TSan
// sees none of it, so it finds no happens-before order between one thread's
// Unlock and another's Lock and reports a data race on everything an absl::Mutex
// guards. (An Abseil built with TSan annotates itself; this does the same from
// outside.)
//
// How: this file defines the Mutex, CondVar and Notification member functions
// that code calls. An executable's definition of a symbol wins over a shared
// library's, so the calls land here; each calls the real function, found with
// dlsym(RTLD_NEXT, <its mangled name>), and tells TSan what it synchronizes with
// __tsan_acquire / __tsan_release on the object's address:
//   - a lock acquires the mutex after it returns; an unlock releases it first;
//   - a call that may give the mutex up while it waits (Await*, CondVar::Wait*)
//     releases it before and acquires it after;
//   - absl evaluates a Condition with the mutex held but maybe on another thread
//     (the one unlocking), so each Condition is wrapped in one that acquires the
//     mutex before evaluating it and releases it after;
//   - Signal and Notify release the CondVar or Notification; a wait that returns
//     woken or notified acquires it.
// This is the happens-before order only, not a lock model: TSan does not see
// lock-order inversions on absl::Mutex, and reader locks order with each other
// too, so a race between two holders of a reader lock goes unreported.
// Notification::HasBeenNotified() is inline, so it cannot be annotated: data
// published by Notify() and read after HasBeenNotified() alone would show as a
// race (cellindex does not do that).
//
// The mangled names are Debian's (inline namespace absl::debian3): list them
// with `nm -D --defined-only /usr/lib/x86_64-linux-gnu/libabsl_synchronization.so`.
// A function missing here is not annotated; tests/tsan/tsan_annotations_test.cc
// checks each one used by cellindex.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

static_assert(std::is_same_v<absl::Mutex, absl::debian3::Mutex>,
              "Abseil's inline namespace is not debian3: update the mangled names below");

namespace {

template <typename Fn>
Fn Real(const char* mangled) {
  void* f = dlsym(RTLD_NEXT, mangled);
  if (f == nullptr) {
    std::fprintf(stderr, "absl_tsan_annotations: %s is not in the Abseil shared libraries\n",
                 mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

// The real member functions, as functions of `this` and the arguments.
#define REAL(Fn, mangled) static const Fn real = Real<Fn>(mangled)

using MutexFn = void (*)(absl::Mutex*);
using MutexTryFn = bool (*)(absl::Mutex*);
using CondFn = void (*)(absl::Mutex*, const absl::Condition&);
using CondTimeoutFn = bool (*)(absl::Mutex*, const absl::Condition&, absl::Duration);
using CondDeadlineFn = bool (*)(absl::Mutex*, const absl::Condition&, absl::Time);
using WaitFn = void (*)(absl::CondVar*, absl::Mutex*);
using WaitTimeoutFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Duration);
using WaitDeadlineFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Time);
using SignalFn = void (*)(absl::CondVar*);
using NotifyFn = void (*)(absl::Notification*);
using NotifiedFn = void (*)(const absl::Notification*);
using NotifiedTimeoutFn = bool (*)(const absl::Notification*, absl::Duration);
using NotifiedDeadlineFn = bool (*)(const absl::Notification*, absl::Time);

// A Condition whose evaluation is ordered by the mutex like any access under it.
class AnnotatedCondition {
 public:
  AnnotatedCondition(const absl::Condition& cond, absl::Mutex* mu)
      : cond_(&cond), mu_(mu), wrapped_(&AnnotatedCondition::Eval, this) {}
  const absl::Condition& get() const { return wrapped_; }

 private:
  static bool Eval(void* arg) {
    auto* self = static_cast<AnnotatedCondition*>(arg);
    __tsan_acquire(self->mu_);
    const bool result = self->cond_->Eval();
    __tsan_release(self->mu_);
    return result;
  }

  const absl::Condition* cond_;
  absl::Mutex* mu_;
  absl::Condition wrapped_;
};

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  REAL(MutexFn, "_ZN4absl7debian35Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::Unlock() {
  REAL(MutexFn, "_ZN4absl7debian35Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

bool Mutex::TryLock() {
  REAL(MutexTryFn, "_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::ReaderLock() {
  REAL(MutexFn, "_ZN4absl7debian35Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderUnlock() {
  REAL(MutexFn, "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

bool Mutex::ReaderTryLock() {
  REAL(MutexTryFn, "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Await(const Condition& cond) {
  REAL(CondFn, "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  const AnnotatedCondition annotated(cond, this);
  __tsan_release(this);
  real(this, annotated.get());
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  REAL(CondTimeoutFn, "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const AnnotatedCondition annotated(cond, this);
  __tsan_release(this);
  const bool result = real(this, annotated.get(), timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  REAL(CondDeadlineFn, "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const AnnotatedCondition annotated(cond, this);
  __tsan_release(this);
  const bool result = real(this, annotated.get(), deadline);
  __tsan_acquire(this);
  return result;
}

// The *LockWhen* functions return holding the mutex, even on a timeout.
void Mutex::LockWhen(const Condition& cond) {
  REAL(CondFn, "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  const AnnotatedCondition annotated(cond, this);
  real(this, annotated.get());
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  REAL(CondTimeoutFn,
       "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const AnnotatedCondition annotated(cond, this);
  const bool result = real(this, annotated.get(), timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  REAL(CondDeadlineFn,
       "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const AnnotatedCondition annotated(cond, this);
  const bool result = real(this, annotated.get(), deadline);
  __tsan_acquire(this);
  return result;
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  REAL(CondFn, "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  const AnnotatedCondition annotated(cond, this);
  real(this, annotated.get());
  __tsan_acquire(this);
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  REAL(CondTimeoutFn,
       "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const AnnotatedCondition annotated(cond, this);
  const bool result = real(this, annotated.get(), timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  REAL(CondDeadlineFn,
       "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const AnnotatedCondition annotated(cond, this);
  const bool result = real(this, annotated.get(), deadline);
  __tsan_acquire(this);
  return result;
}

void CondVar::Wait(Mutex* mu) {
  REAL(WaitFn, "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
  __tsan_acquire(this);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  REAL(WaitTimeoutFn, "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  if (!timed_out) __tsan_acquire(this);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  REAL(WaitDeadlineFn, "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  if (!timed_out) __tsan_acquire(this);
  return timed_out;
}

void CondVar::Signal() {
  REAL(SignalFn, "_ZN4absl7debian37CondVar6SignalEv");
  __tsan_release(this);
  real(this);
}

void CondVar::SignalAll() {
  REAL(SignalFn, "_ZN4absl7debian37CondVar9SignalAllEv");
  __tsan_release(this);
  real(this);
}

void Notification::Notify() {
  REAL(NotifyFn, "_ZN4absl7debian312Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  REAL(NotifiedFn, "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  REAL(NotifiedTimeoutFn,
       "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  REAL(NotifiedDeadlineFn,
       "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
