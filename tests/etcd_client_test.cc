// EtcdClient against a real etcd on loopback (tests/etcd_server.h): reads
// and writes, transactions that compare, leases that expire and take their
// keys, failover between endpoints, errors, and a restarted etcd.
#include "recovery/coord/etcd_client.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "tests/etcd_server.h"
#include "tests/scratch_dir.h"

namespace cellindex {
namespace {

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = server_.Start();
    ASSERT_TRUE(s.ok()) << s << "\n" << testing::ReadWholeFile(server_.log_path());
    client_ = Connect({server_.endpoint()});
    ASSERT_NE(client_, nullptr);
  }

  static std::unique_ptr<EtcdClient> Connect(std::vector<std::string> endpoints) {
    absl::StatusOr<std::unique_ptr<EtcdClient>> c =
        EtcdClient::Create({std::move(endpoints), absl::Seconds(2)});
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  testing::ScratchDir dir_;
  testing::EtcdServer server_{dir_.path()};
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdClientTest, PutsGetsAndDeletesKeysAndPrefixes) {
  // Bytes that JSON and base64 must carry unchanged.
  const std::string odd("v\0\xff\n\"", 5);
  ASSERT_TRUE(client_->Put("/cells/1", "one").ok());
  ASSERT_TRUE(client_->Put("/cells/2", odd).ok());
  ASSERT_TRUE(client_->Put("/cellsX", "outside the prefix").ok());
  absl::StatusOr<int64_t> rev = client_->Put("/cells/1", "uno");
  ASSERT_TRUE(rev.ok()) << rev.status();

  absl::StatusOr<std::optional<EtcdKv>> one = client_->Get("/cells/1");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->value, "uno");
  EXPECT_EQ((*one)->version, 2);
  EXPECT_EQ((*one)->mod_revision, *rev);
  EXPECT_LT((*one)->create_revision, *rev);

  absl::StatusOr<std::optional<EtcdKv>> missing = client_->Get("/cells/3");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());

  int64_t read_at = 0;
  absl::StatusOr<std::vector<EtcdKv>> cells = client_->GetPrefix("/cells/", &read_at);
  ASSERT_TRUE(cells.ok()) << cells.status();
  ASSERT_EQ(cells->size(), 2u);
  EXPECT_EQ((*cells)[0].key, "/cells/1");
  EXPECT_EQ((*cells)[1].key, "/cells/2");
  EXPECT_EQ((*cells)[1].value, odd);
  EXPECT_GE(read_at, *rev);

  absl::StatusOr<int64_t> deleted = client_->Delete("/cells/", /*prefix=*/true);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2);
  cells = client_->GetPrefix("/cells/");
  ASSERT_TRUE(cells.ok());
  EXPECT_TRUE(cells->empty());
  one = client_->Get("/cellsX");
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->value, "outside the prefix");
}

// A claim (create if absent) succeeds once; a compare-and-swap on the
// revision it read succeeds only while nobody wrote in between.
TEST_F(EtcdClientTest, TransactionsApplyOnlyWhenTheirComparesHold) {
  auto claim = [&](const std::string& who) {
    return client_->Txn({EtcdCompare::Absent("/owner/7")}, {EtcdOp::Put("/owner/7", who)},
                        {EtcdOp::Get("/owner/7")});
  };
  absl::StatusOr<EtcdTxnResult> first = claim("host-a");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->succeeded);
  EXPECT_TRUE(first->gets.empty());
  absl::StatusOr<EtcdTxnResult> second = claim("host-b");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->succeeded);
  ASSERT_EQ(second->gets.size(), 1u);
  ASSERT_EQ(second->gets[0].size(), 1u);
  EXPECT_EQ(second->gets[0][0].value, "host-a");  // who holds it, read atomically

  ASSERT_TRUE(client_->Put("/map", "epoch 1").ok());
  absl::StatusOr<std::optional<EtcdKv>> map = client_->Get("/map");
  ASSERT_TRUE(map.ok() && map->has_value());
  const int64_t seen = (*map)->mod_revision;
  ASSERT_TRUE(client_->Put("/map", "epoch 2 by another").ok());
  absl::StatusOr<EtcdTxnResult> stale =
      client_->Txn({EtcdCompare::ModRevisionIs("/map", seen)}, {EtcdOp::Put("/map", "epoch 2")}, {});
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_FALSE(stale->succeeded);
  map = client_->Get("/map");
  ASSERT_TRUE(map.ok() && map->has_value());
  EXPECT_EQ((*map)->value, "epoch 2 by another");
  absl::StatusOr<EtcdTxnResult> fresh =
      client_->Txn({EtcdCompare::ModRevisionIs("/map", (*map)->mod_revision),
                    EtcdCompare::ValueIs("/map", "epoch 2 by another")},
                   {EtcdOp::Put("/map", "epoch 3"), EtcdOp::Get("/map")}, {});
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE(fresh->succeeded);
  ASSERT_EQ(fresh->gets.size(), 1u);
  ASSERT_EQ(fresh->gets[0].size(), 1u);
  EXPECT_EQ(fresh->gets[0][0].value, "epoch 3");
}

// A key bound to a lease lives while the lease is renewed and goes when it
// expires; renewing it then is NotFound, as is writing with it.
TEST_F(EtcdClientTest, KeysOfALeaseGoWhenItExpires) {
  absl::StatusOr<int64_t> lease = client_->GrantLease(absl::Seconds(1));
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client_->Put("/hosts/a", "alive", *lease).ok());
  absl::StatusOr<absl::Duration> ttl = client_->KeepAlive(*lease);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GE(*ttl, absl::Seconds(1));  // etcd may grant more (its minimum TTL)
  absl::StatusOr<std::optional<EtcdKv>> host = client_->Get("/hosts/a");
  ASSERT_TRUE(host.ok() && host->has_value());
  EXPECT_EQ((*host)->lease, *lease);

  // No more renewals: etcd removes the key (bounded wait for that).
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (absl::Now() < deadline) {
    host = client_->Get("/hosts/a");
    ASSERT_TRUE(host.ok()) << host.status();
    if (!host->has_value()) break;
    absl::SleepFor(absl::Milliseconds(100));  // the poll's pace
  }
  EXPECT_FALSE(host->has_value()) << "the key outlived its lease";
  EXPECT_TRUE(absl::IsNotFound(client_->KeepAlive(*lease).status()));
  absl::Status put = client_->Put("/hosts/a", "again", *lease).status();
  EXPECT_TRUE(absl::IsNotFound(put)) << put;
}

TEST_F(EtcdClientTest, RevokingALeaseDeletesItsKeysAtOnce) {
  absl::StatusOr<int64_t> lease = client_->GrantLease(absl::Seconds(60));
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client_->Put("/hosts/b", "alive", *lease).ok());
  ASSERT_TRUE(client_->Put("/owner/3", "b", *lease).ok());
  ASSERT_TRUE(client_->RevokeLease(*lease).ok());
  for (const char* key : {"/hosts/b", "/owner/3"}) {
    absl::StatusOr<std::optional<EtcdKv>> kv = client_->Get(key);
    ASSERT_TRUE(kv.ok()) << kv.status();
    EXPECT_FALSE(kv->has_value()) << key;
  }
  absl::Status again = client_->RevokeLease(*lease);
  EXPECT_TRUE(again.ok()) << again;  // gone already: fine
  EXPECT_TRUE(absl::IsInvalidArgument(client_->GrantLease(absl::Milliseconds(1500)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(client_->GrantLease(absl::ZeroDuration()).status()));
}

TEST_F(EtcdClientTest, EndpointsParseStrictly) {
  absl::StatusOr<std::vector<std::string>> ok =
      EtcdClient::ParseEndpoints("127.0.0.1:2379, http://localhost:12/,[::1]:3");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, (std::vector<std::string>{"127.0.0.1:2379", "localhost:12", "[::1]:3"}));
  for (const char* bad : {"", "127.0.0.1", ":2379", "h:", "h:0", "h:65536", "h:12x", "h:+1",
                          "h:-1", "https://h:1", "h:1,", "a/b:1", "h:123456", "h:1:2", "a b:1",
                          "h?x:1", "::1:2", "[]:1"}) {
    absl::StatusOr<std::vector<std::string>> r = EtcdClient::ParseEndpoints(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << '"' << bad << "\": " << r.status();
  }
  EXPECT_TRUE(absl::IsInvalidArgument(EtcdClient::Create({}).status()));
}

// A dead endpoint first: the request goes to the next one. None alive:
// Unavailable naming the endpoint.
TEST_F(EtcdClientTest, ADeadEndpointIsSkippedAndNoneAliveIsUnavailable) {
  const std::string dead = absl::StrCat("127.0.0.1:", testing::FreeLoopbackPort());
  std::unique_ptr<EtcdClient> both = Connect({dead, server_.endpoint()});
  ASSERT_NE(both, nullptr);
  ASSERT_TRUE(both->Put("/k", "v").ok());
  absl::StatusOr<std::optional<EtcdKv>> kv = both->Get("/k");
  ASSERT_TRUE(kv.ok()) << kv.status();
  ASSERT_TRUE(kv->has_value());
  EXPECT_EQ((*kv)->value, "v");

  std::unique_ptr<EtcdClient> none = Connect({dead});
  ASSERT_NE(none, nullptr);
  absl::Status s = none->Get("/k").status();
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find(dead), std::string::npos) << s;
}

// etcd stopped: Unavailable. Started again on its data: what was written
// is there, and the same client carries on.
TEST_F(EtcdClientTest, ARestartedEtcdKeepsItsDataAndTheClientCarriesOn) {
  ASSERT_TRUE(client_->Put("/map", "epoch 4").ok());
  server_.Stop();
  EXPECT_TRUE(absl::IsUnavailable(client_->Get("/map").status()));
  absl::Status s = server_.Start();
  ASSERT_TRUE(s.ok()) << s;
  absl::StatusOr<std::optional<EtcdKv>> kv = client_->Get("/map");
  ASSERT_TRUE(kv.ok()) << kv.status();
  ASSERT_TRUE(kv->has_value());
  EXPECT_EQ((*kv)->value, "epoch 4");
}

}  // namespace
}  // namespace cellindex
