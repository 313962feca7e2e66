#include "recovery/coord/lease_keeper.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cellindex {

absl::StatusOr<std::unique_ptr<LeaseKeeper>> LeaseKeeper::Start(EtcdClient& etcd,
                                                                const Options& options) {
  if (!(options.margin >= 0 && options.margin <= 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid lease margin ", options.margin, ": must be from 0 to 0.5"));
  }
  const absl::Time sent = absl::Now();
  absl::StatusOr<int64_t> id = etcd.GrantLease(options.ttl);
  if (!id.ok()) return id.status();
  return std::unique_ptr<LeaseKeeper>(
      new LeaseKeeper(etcd, options, *id, sent + options.ttl * (1 - options.margin)));
}

LeaseKeeper::LeaseKeeper(EtcdClient& etcd, const Options& options, int64_t id,
                         absl::Time valid_until)
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

bool LeaseKeeper::Valid() const { return absl::Now() < ValidUntil(); }

absl::Time LeaseKeeper::ValidUntil() const {
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
    valid_until_ = absl::InfinitePast();
  }
  if (thread_.joinable()) thread_.join();
  return etcd_.RevokeLease(id_);
}

void LeaseKeeper::Run() {
  const absl::Duration pace = options_.ttl / 3;
  const absl::Duration view = options_.ttl * (1 - options_.margin);
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      // Woken early only to stop.
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), pace);
      if (stopping_) return;
    }
    const absl::Time sent = absl::Now();
    absl::StatusOr<absl::Duration> renewed = etcd_.KeepAlive(id_);
    if (renewed.ok()) {
      absl::MutexLock lock(&mu_);
      if (!stopping_) valid_until_ = std::max(valid_until_, sent + view);
      continue;
    }
    if (!absl::IsNotFound(renewed.status())) continue;  // etcd unreachable: try again
    {
      absl::MutexLock lock(&mu_);
      lost_ = true;
      valid_until_ = absl::InfinitePast();
    }
    if (options_.on_lost) options_.on_lost();
    return;
  }
}

}  // namespace cellindex
