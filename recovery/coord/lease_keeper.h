// Keeps one etcd lease alive, and says until when its holder may act on it.
//
// A host's right to acknowledge writes for its cells ends with its lease.
// etcd expires a lease TTL after the last renewal *it* received, by its own
// clock; the holder cannot see that moment, only when it *sent* a renewal
// that came back. So the holder's view of the lease ends at
//
//     sent + TTL * (1 - margin)
//
// for the last renewal that succeeded, `sent` read before the request
// left: etcd received it later, so its expiry is later still, and `margin`
// covers the two clocks running at different rates over one TTL. Until that
// instant, no other process can have been given the lease's cells (a new
// owner waits for the key to go, which is after etcd's expiry); from it on,
// the holder must not acknowledge anything (Valid() is false).
//
// Every instant here is read from CLOCK_BOOTTIME (BootClock): monotonic, so
// a wall clock stepped back by NTP does not stretch the view, and, unlike
// steady_clock (CLOCK_MONOTONIC), it keeps counting while the machine is
// suspended, as etcd's clock does.
//
// Renewals go every TTL / 3 on a thread of the keeper's; one that fails is
// retried after TTL / 10. A renewal that succeeds after the view has ended
// makes the lease valid again: etcd still had it (it answered), so no other
// process can have claimed what it covers. Once etcd says the lease is gone
// (NotFound), it is lost for good: Lost() is true and `on_lost` runs once,
// on the keeper's thread, unless Revoke or the destructor has begun. A lost
// lease is never renewed or replaced here; the holder starts over (a new
// lease, its cells claimed anew).
#ifndef CELLINDEX_RECOVERY_COORD_LEASE_KEEPER_H_
#define CELLINDEX_RECOVERY_COORD_LEASE_KEEPER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "recovery/coord/etcd_client.h"

namespace cellindex {

// A std::chrono clock reading CLOCK_BOOTTIME: monotonic, and counting the
// time the machine spends suspended.
struct BootClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<BootClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

class LeaseKeeper {
 public:
  struct Options {
    absl::Duration ttl = absl::Seconds(5);  // whole seconds, at least 1
    // The share of the TTL given up for clock-rate differences and the
    // renewal's own latency, in [0, 0.5].
    double margin = 0.2;
    // Called once when the lease is found gone, on the keeper's thread. It
    // must not destroy the keeper or call Revoke (they wait for that thread).
    std::function<void()> on_lost;
  };

  // Grants a lease and starts keeping it. InvalidArgument on bad options;
  // the client's error when etcd cannot grant it.
  static absl::StatusOr<std::unique_ptr<LeaseKeeper>> Start(EtcdClient& etcd,
                                                            const Options& options);
  // Stops renewing. The lease is left to expire (Revoke ends it at once).
  ~LeaseKeeper();

  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  int64_t id() const { return id_; }
  using Clock = BootClock;
  // Whether the holder may still act on the lease now.
  bool Valid() const;
  // The end of the holder's view of the lease (see above); Clock's minimum
  // once revoked or lost.
  Clock::time_point ValidUntil() const;
  // Whether etcd has said the lease is gone.
  bool Lost() const;
  // Stops renewing and revokes the lease (its keys go at once): a clean
  // shutdown. Valid() is false from the call on.
  absl::Status Revoke();

 private:
  LeaseKeeper(EtcdClient& etcd, const Options& options, int64_t id,
              Clock::time_point valid_until);
  void Run();

  EtcdClient& etcd_;
  const Options options_;
  const int64_t id_;
  mutable absl::Mutex mu_;
  Clock::time_point valid_until_ ABSL_GUARDED_BY(mu_);
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_COORD_LEASE_KEEPER_H_
