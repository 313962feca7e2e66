// LeaseKeeper against a real etcd on loopback: it keeps a lease alive past
// its TTL, its holder's view ends before etcd could expire the lease when
// renewals stop getting through (etcd frozen with SIGSTOP), and a lease
// found gone is lost for good, once.
#include "recovery/coord/lease_keeper.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>

#include "absl/time/clock.h"
#include "tests/etcd_server.h"
#include "tests/scratch_dir.h"

namespace cellindex {
namespace {

class LeaseKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = server_.Start();
    ASSERT_TRUE(s.ok()) << s << "\n" << testing::ReadWholeFile(server_.log_path());
    absl::StatusOr<std::unique_ptr<EtcdClient>> c =
        EtcdClient::Create({{server_.endpoint()}, absl::Milliseconds(500)});
    ASSERT_TRUE(c.ok()) << c.status();
    etcd_ = *std::move(c);
  }

  bool KeyPresent(const std::string& key) {
    absl::StatusOr<std::optional<EtcdKv>> kv = etcd_->Get(key);
    EXPECT_TRUE(kv.ok()) << kv.status();
    return kv.ok() && kv->has_value();
  }

  testing::ScratchDir dir_;
  testing::EtcdServer server_{dir_.path()};
  std::unique_ptr<EtcdClient> etcd_;
};

using Clock = LeaseKeeper::Clock;
using std::chrono::milliseconds;

TEST_F(LeaseKeeperTest, KeepsItsLeaseAlivePastTheTtl) {
  LeaseKeeper::Options o;
  o.ttl = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<LeaseKeeper>> keeper = LeaseKeeper::Start(*etcd_, o);
  ASSERT_TRUE(keeper.ok()) << keeper.status();
  ASSERT_TRUE(etcd_->Put("/hosts/a", "alive", (*keeper)->id()).ok());
  // Over two and a half TTLs the key stays, and the holder's view keeps
  // moving on.
  const Clock::time_point start = Clock::now();
  while (Clock::now() < start + milliseconds(5000)) {
    ASSERT_TRUE(KeyPresent("/hosts/a"));
    ASSERT_TRUE((*keeper)->Valid());
    absl::SleepFor(absl::Milliseconds(250));  // the sampling pace
  }
  EXPECT_GT((*keeper)->ValidUntil(), start + milliseconds(4000));
  EXPECT_FALSE((*keeper)->Lost());

  // A clean end: revoked, the key goes at once and the view ends.
  ASSERT_TRUE((*keeper)->Revoke().ok());
  EXPECT_FALSE((*keeper)->Valid());
  EXPECT_FALSE(KeyPresent("/hosts/a"));
}

// etcd frozen: no renewal gets through. The holder's view ends no later
// than TTL * (1 - margin) after the freeze (the last renewal that came back
// was sent before it), that is before etcd, which got that renewal later,
// could expire the lease; and it stays ended while etcd is frozen.
TEST_F(LeaseKeeperTest, TheHoldersViewEndsBeforeEtcdCouldExpireTheLease) {
  LeaseKeeper::Options o;
  o.ttl = absl::Seconds(2);
  o.margin = 0.2;
  absl::StatusOr<std::unique_ptr<LeaseKeeper>> keeper = LeaseKeeper::Start(*etcd_, o);
  ASSERT_TRUE(keeper.ok()) << keeper.status();
  server_.Freeze();
  const Clock::time_point frozen = Clock::now();
  const Clock::time_point deadline = frozen + milliseconds(10000);
  while ((*keeper)->Valid() && Clock::now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));  // the poll's pace; the deadline bounds it
  }
  EXPECT_FALSE((*keeper)->Valid());
  EXPECT_LE((*keeper)->ValidUntil(), frozen + milliseconds(1600));
  // Renewals keep failing while it is frozen: the view does not move.
  const Clock::time_point ended = (*keeper)->ValidUntil();
  const Clock::time_point still_frozen = Clock::now() + milliseconds(1000);
  while (Clock::now() < still_frozen) {
    ASSERT_FALSE((*keeper)->Valid());
    absl::SleepFor(absl::Milliseconds(100));  // the sampling pace
  }
  EXPECT_EQ((*keeper)->ValidUntil(), ended);
  server_.Thaw();
}

// Another party revokes the lease: the keeper's next renewal finds it gone,
// it is lost, on_lost runs once, and it never becomes valid again.
TEST_F(LeaseKeeperTest, ALeaseFoundGoneIsLostOnce) {
  std::atomic<int> lost_calls{0};
  LeaseKeeper::Options o;
  o.ttl = absl::Seconds(1);
  o.on_lost = [&] { ++lost_calls; };
  absl::StatusOr<std::unique_ptr<LeaseKeeper>> keeper = LeaseKeeper::Start(*etcd_, o);
  ASSERT_TRUE(keeper.ok()) << keeper.status();
  ASSERT_TRUE(etcd_->RevokeLease((*keeper)->id()).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!(*keeper)->Lost() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));  // the poll's pace; the deadline bounds it
  }
  ASSERT_TRUE((*keeper)->Lost());
  EXPECT_FALSE((*keeper)->Valid());
  EXPECT_EQ((*keeper)->ValidUntil(), Clock::time_point::min());
  EXPECT_EQ(lost_calls.load(), 1);
  keeper->reset();  // stops its thread: on_lost ran once, no more
  EXPECT_EQ(lost_calls.load(), 1);
}

TEST_F(LeaseKeeperTest, RefusesBadOptions) {
  LeaseKeeper::Options o;
  for (double margin : {-0.1, 0.6, std::nan("")}) {
    o.margin = margin;
    EXPECT_TRUE(absl::IsInvalidArgument(LeaseKeeper::Start(*etcd_, o).status())) << margin;
  }
  o.margin = 0.2;
  o.ttl = absl::Milliseconds(500);
  EXPECT_TRUE(absl::IsInvalidArgument(LeaseKeeper::Start(*etcd_, o).status()));
}

}  // namespace
}  // namespace cellindex
