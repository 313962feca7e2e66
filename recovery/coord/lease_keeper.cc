#include "recovery/coord/lease_keeper.h"

#include <time.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cellindex {

BootClock::time_point BootClock::now() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

absl::StatusOr<std::unique_ptr<LeaseKeeper>> LeaseKeeper::Start(EtcdClient& etcd,
                                                                const Options& options) {
  if (!(options.margin >= 0 && options.margin <= 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid lease margin ", options.margin, ": must be from 0 to 0.5"));
  }
  const Clock::time_point sent = Clock::now();
  absl::StatusOr<int64_t> id = etcd.GrantLease(options.ttl);
  if (!id.ok()) return id.status();
  return std::unique_ptr<LeaseKeeper>(new LeaseKeeper(
      etcd, options, *id, sent + absl::ToChronoNanoseconds(options.ttl * (1 - options.margin))));
}

LeaseKeeper::LeaseKeeper(EtcdClient& etcd, const Options& options, int64_t id,
                         Clock::time_point valid_until)
    : etcd_(etcd), options_(options), id_(id), valid_until_(valid_until) {
  thread_ = std::thread([this] { Run(); });
}

LeaseKeeper::~LeaseKeeper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool LeaseKeeper::Valid() const { return Clock::now() < ValidUntil(); }

LeaseKeeper::Clock::time_point LeaseKeeper::ValidUntil() const {
  absl::MutexLock lock(&mu_);
  return valid_until_;
}

bool LeaseKeeper::Lost() const {
  absl::MutexLock lock(&mu_);
  return lost_;
}

absl::Status LeaseKeeper::Revoke() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    valid_until_ = Clock::time_point::min();
  }
  if (thread_.joinable()) thread_.join();
  return etcd_.RevokeLease(id_);
}

void LeaseKeeper::Run() {
  const absl::Duration pace = options_.ttl / 3;
  const absl::Duration retry = options_.ttl / 10;
  const Clock::duration view = absl::ToChronoNanoseconds(options_.ttl * (1 - options_.margin));
  bool failed = false;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      // Woken early only to stop.
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), failed ? retry : pace);
      if (stopping_) return;
    }
    const Clock::time_point sent = Clock::now();
    absl::StatusOr<absl::Duration> renewed = etcd_.KeepAlive(id_);
    failed = !renewed.ok();
    if (renewed.ok()) {
      absl::MutexLock lock(&mu_);
      if (!stopping_) valid_until_ = std::max(valid_until_, sent + view);
      continue;
    }
    if (!absl::IsNotFound(renewed.status())) continue;  // etcd unreachable: try again
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;  // a Revoke or the destructor: no on_lost then
      lost_ = true;
      valid_until_ = Clock::time_point::min();
    }
    if (options_.on_lost) options_.on_lost();
    return;
  }
}

}  // namespace cellindex
