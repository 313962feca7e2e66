// ClusterCoord against a real etcd on loopback: hosts registered under
// their leases, cells claimed by one host at a time with owner epochs that
// only grow, one controller elected and replaced when its lease goes, and
// the map changed only by writers that read its latest revision.
#include "recovery/coord/cluster_coord.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/etcd_server.h"
#include "tests/scratch_dir.h"

namespace cellindex {
namespace {

class ClusterCoordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = server_.Start();
    ASSERT_TRUE(s.ok()) << s << "\n" << testing::ReadWholeFile(server_.log_path());
    absl::StatusOr<std::unique_ptr<EtcdClient>> c =
        EtcdClient::Create({{server_.endpoint()}, absl::Seconds(2)});
    ASSERT_TRUE(c.ok()) << c.status();
    etcd_ = *std::move(c);
    absl::StatusOr<ClusterCoord> coord = ClusterCoord::Create(*etcd_, "test-cluster");
    ASSERT_TRUE(coord.ok()) << coord.status();
    coord_ = std::make_unique<ClusterCoord>(*coord);
  }

  int64_t Lease() {
    absl::StatusOr<int64_t> l = etcd_->GrantLease(absl::Seconds(60));
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *l : 0;
  }

  testing::ScratchDir dir_;
  testing::EtcdServer server_{dir_.path()};
  std::unique_ptr<EtcdClient> etcd_;
  std::unique_ptr<ClusterCoord> coord_;
};

TEST_F(ClusterCoordTest, AHostNameIsHeldByOneLiveLease) {
  const int64_t a = Lease(), b = Lease();
  ASSERT_TRUE(coord_->RegisterHost("h1", "127.0.0.1:7001", a).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(coord_->RegisterHost("h1", "127.0.0.1:7002", b)));
  ASSERT_TRUE(coord_->RegisterHost("h1", "127.0.0.1:7003", a).ok());  // its own: updated
  ASSERT_TRUE(coord_->RegisterHost("h2", "127.0.0.1:7004", b).ok());
  absl::StatusOr<std::map<std::string, std::string>> hosts = coord_->Hosts();
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  EXPECT_EQ(*hosts, (std::map<std::string, std::string>{{"h1", "127.0.0.1:7003"},
                                                        {"h2", "127.0.0.1:7004"}}));
  // h1's lease ends: the name is free for another.
  ASSERT_TRUE(etcd_->RevokeLease(a).ok());
  hosts = coord_->Hosts();
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(hosts->count("h1"), 0u);
  EXPECT_TRUE(coord_->RegisterHost("h1", "127.0.0.1:7005", b).ok());
  for (const char* bad : {"", "a/b", "h 1", "h\n", "x/../y"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(coord_->RegisterHost(bad, "x", b))) << bad;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(ClusterCoord::Create(*etcd_, "a/b").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ClusterCoord::Create(*etcd_, std::string(65, 'c')).status()));
}

// Eight threads race to claim one cell: exactly one wins. Its lease goes:
// the next claim wins with a larger owner epoch, and a release under the
// old epoch is refused (it cannot take the new owner's claim away).
TEST_F(ClusterCoordTest, OneHostAtATimeOwnsACellAndEpochsOnlyGrow) {
  std::vector<int64_t> leases;
  for (int k = 0; k < 8; ++k) leases.push_back(Lease());
  std::atomic<int> won{0}, refused{0};
  std::atomic<int64_t> epoch{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back([&, k] {
      absl::StatusOr<int64_t> e = coord_->ClaimCell(7, absl::StrCat("h", k), leases[k]);
      if (e.ok()) {
        ++won;
        epoch = *e;
      } else if (absl::IsFailedPrecondition(e.status())) {
        ++refused;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), 7);
  absl::StatusOr<std::optional<CellOwner>> owner = coord_->Owner(7);
  ASSERT_TRUE(owner.ok() && owner->has_value()) << owner.status();
  EXPECT_EQ((*owner)->epoch, epoch.load());
  const std::string first = (*owner)->host;
  const int64_t first_lease = (*owner)->lease;

  ASSERT_TRUE(etcd_->RevokeLease(first_lease).ok());
  const int64_t next_lease = Lease();
  absl::StatusOr<int64_t> second = coord_->ClaimCell(7, "h-next", next_lease);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(*second, epoch.load());
  EXPECT_TRUE(absl::IsFailedPrecondition(coord_->ReleaseCell(7, epoch.load())));
  owner = coord_->Owner(7);
  ASSERT_TRUE(owner.ok() && owner->has_value());
  EXPECT_EQ((*owner)->host, "h-next");

  ASSERT_TRUE(coord_->ClaimCell(12, "h-next", next_lease).ok());
  absl::StatusOr<std::map<uint32_t, CellOwner>> all = coord_->Owners();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->begin()->first, 7u);
  EXPECT_EQ(all->rbegin()->first, 12u);
  ASSERT_TRUE(coord_->ReleaseCell(7, *second).ok());
  owner = coord_->Owner(7);
  ASSERT_TRUE(owner.ok());
  EXPECT_FALSE(owner->has_value());
}

TEST_F(ClusterCoordTest, OneControllerUntilItsLeaseGoes) {
  const int64_t a = Lease(), b = Lease();
  absl::StatusOr<std::string> first = coord_->Elect("h1", a);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "h1");
  absl::StatusOr<std::string> second = coord_->Elect("h2", b);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, "h1");  // not h2: h1 holds it
  ASSERT_TRUE(etcd_->RevokeLease(a).ok());
  second = coord_->Elect("h2", b);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, "h2");
}

// Two writers read the map at the same revision; only the first write
// lands, the second is Aborted, and after reading again it lands.
TEST_F(ClusterCoordTest, TheMapChangesOnlyFromItsLatestRevision) {
  absl::StatusOr<Versioned> none = coord_->ReadMap();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->revision, 0);
  absl::StatusOr<int64_t> r1 = coord_->WriteMap("epoch 1", 0);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_TRUE(absl::IsAborted(coord_->WriteMap("another epoch 1", 0).status()));

  absl::StatusOr<Versioned> seen = coord_->ReadMap();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->value, "epoch 1");
  EXPECT_EQ(seen->revision, *r1);
  absl::StatusOr<int64_t> r2 = coord_->WriteMap("epoch 2 (writer A)", seen->revision);
  ASSERT_TRUE(r2.ok()) << r2.status();
  absl::Status stale = coord_->WriteMap("epoch 2 (writer B)", seen->revision).status();
  EXPECT_TRUE(absl::IsAborted(stale)) << stale;
  seen = coord_->ReadMap();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->value, "epoch 2 (writer A)");
  absl::StatusOr<int64_t> r3 = coord_->WriteMap("epoch 3 (writer B)", seen->revision);
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_GT(*r3, *r2);
}

// A split or merge: one request at a time, on the map's revision; its
// commit changes the map, the parents' and children's keys and the result
// in one transaction, and only while the map, the request and every
// parent's claim are as they were.
TEST_F(ClusterCoordTest, ASplitCommitsOnlyOnTheMapAndClaimsItWasPlannedOn) {
  const int64_t lease = Lease();
  absl::StatusOr<int64_t> map_rev = coord_->WriteMap("map 1", 0);
  ASSERT_TRUE(map_rev.ok());
  absl::StatusOr<int64_t> parent = coord_->ClaimCell(3, "h1", lease);
  ASSERT_TRUE(parent.ok());
  ASSERT_TRUE(coord_->ReportCellBytes(3, *parent, 1000).ok());

  ReshapeRequest r;
  r.op = "split";
  r.cells = {3};
  r.at = std::string("b\0k", 3);
  r.map_revision = *map_rev;
  r.by = "operator";
  ReshapeRequest stale = r;
  stale.map_revision = *map_rev - 1;
  EXPECT_TRUE(absl::IsAborted(coord_->RequestReshape(stale).status()));
  absl::StatusOr<int64_t> asked = coord_->RequestReshape(r);
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(coord_->RequestReshape(r).status()));
  absl::StatusOr<std::optional<ReshapeRequest>> read = coord_->ReadReshape();
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->cells, r.cells);
  EXPECT_EQ((*read)->at, r.at);  // binary keys survive
  EXPECT_EQ((*read)->revision, *asked);
  r.revision = *asked;

  // Each comparison: a wrong parent epoch, a stale request, a stale map.
  const std::vector<uint32_t> children = {4, 5};
  std::map<uint32_t, int64_t> wrong_epoch = {{3, *parent + 1}};
  EXPECT_TRUE(absl::IsAborted(
      coord_->CommitReshape(r, "map 2", wrong_epoch, children, "h1", lease, "{}").status()));
  ReshapeRequest other = r;
  other.revision = *asked - 1;
  EXPECT_TRUE(absl::IsAborted(
      coord_->CommitReshape(other, "map 2", {{3, *parent}}, children, "h1", lease, "{}")
          .status()));
  other = r;
  other.map_revision = *map_rev - 1;
  EXPECT_TRUE(absl::IsAborted(
      coord_->CommitReshape(other, "map 2", {{3, *parent}}, children, "h1", lease, "{}")
          .status()));
  EXPECT_EQ(coord_->ReadMap()->value, "map 1");  // nothing changed
  EXPECT_TRUE(coord_->Owners()->count(3));
  EXPECT_TRUE(coord_->ReadReshape()->has_value());

  absl::StatusOr<int64_t> epoch =
      coord_->CommitReshape(r, "map 2", {{3, *parent}}, children, "h1", lease, "done");
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(coord_->ReadMap()->value, "map 2");
  EXPECT_EQ(coord_->ReadMap()->revision, *epoch);
  EXPECT_FALSE(coord_->ReadReshape()->has_value());
  EXPECT_EQ(coord_->ReadReshapeResult()->value, "done");
  std::map<uint32_t, CellOwner> owners = *coord_->Owners();
  EXPECT_FALSE(owners.count(3));
  EXPECT_FALSE(coord_->CellBytes()->count(3));
  for (uint32_t c : children) {
    EXPECT_EQ(owners[c].host, "h1");
    EXPECT_EQ(owners[c].epoch, *epoch);
    EXPECT_EQ(owners[c].lease, lease);
    EXPECT_EQ((*coord_->Assignments())[c], "h1");
  }
  // Committed: resolving it says so; the same request cannot commit again.
  EXPECT_EQ(*coord_->ResolveReshape(r, 4, "h1"), *epoch);
  EXPECT_TRUE(absl::IsAborted(
      coord_->CommitReshape(r, "map 3", {{3, *parent}}, children, "h1", lease, "{}").status()));

  // A request resolved before its commit is withdrawn: the commit fails.
  r.map_revision = *epoch;
  r.cells = {4};
  asked = coord_->RequestReshape(r);
  ASSERT_TRUE(asked.ok()) << asked.status();
  r.revision = *asked;
  EXPECT_EQ(*coord_->ResolveReshape(r, 6, "h1"), 0);
  EXPECT_FALSE(coord_->ReadReshape()->has_value());
  EXPECT_TRUE(absl::IsAborted(
      coord_->CommitReshape(r, "map 3", {{4, *epoch}}, {6, 7}, "h1", lease, "{}").status()));
  EXPECT_EQ(coord_->ReadMap()->value, "map 2");

  // Its runner is marked, bound to its lease, while the request is there.
  asked = coord_->RequestReshape([&] {
    ReshapeRequest again = r;
    again.map_revision = coord_->ReadMap()->revision;
    return again;
  }());
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(coord_->RunReshape(*asked - 1, "h1", lease)));
  EXPECT_EQ(*coord_->ReshapeRunner(*asked), "");
  const int64_t runner_lease = Lease();
  ASSERT_TRUE(coord_->RunReshape(*asked, "h1", runner_lease).ok());
  EXPECT_EQ(*coord_->ReshapeRunner(*asked), "h1");
  EXPECT_EQ(*coord_->ReshapeRunner(*asked + 1), "");  // another request's runner it is not
  ASSERT_TRUE(etcd_->RevokeLease(runner_lease).ok());
  EXPECT_EQ(*coord_->ReshapeRunner(*asked), "");  // its host is gone
  ASSERT_TRUE(coord_->RunReshape(*asked, "h1", lease).ok());
  ASSERT_TRUE(coord_->FinishReshape(*asked, "failed").ok());
  EXPECT_EQ(*coord_->ReshapeRunner(*asked), "");  // ends with the request
  // An assignment made on an older map than etcd's is refused.
  ASSERT_TRUE(coord_->Elect("h1", lease).ok());
  const int64_t now = coord_->ReadMap()->revision;
  EXPECT_TRUE(coord_->Assign(6, "h1", "h1", now).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(coord_->Assign(6, "h2", "h1", now - 1)));
  EXPECT_EQ((*coord_->Assignments())[6], "h1");

  // Malformed requests are read as such, with their revision, to be dropped.
  ASSERT_TRUE(etcd_->Put(coord_->prefix() + "reshape", "{\"op\":\"split\",\"cells\":[]}").ok());
  read = coord_->ReadReshape();
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_THAT((*read)->error, ::testing::HasSubstr("wrong number of cells"));
  EXPECT_TRUE(coord_->FinishReshape((*read)->revision, "dropped").ok());
  EXPECT_FALSE(coord_->ReadReshape()->has_value());
  EXPECT_TRUE(absl::IsFailedPrecondition(coord_->FinishReshape((*read)->revision, "again")));
  for (const char* bad : {"{\"op\":\"split\",\"cells\":[1],\"at\":5,\"map_revision\":1}",
                          "{\"op\":\"split\",\"cells\":[1],\"by\":[],\"map_revision\":1}",
                          "[1]", "not json"}) {
    EXPECT_FALSE(ReshapeRequest::Decode(bad).ok()) << bad;
  }
}

// The pools change as the map does (compared on their revision), apart
// from it; the draining marks come and go by host, and are checked names.
TEST_F(ClusterCoordTest, PoolsAndDrainingMarks) {
  absl::StatusOr<Versioned> none = coord_->ReadPools();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->revision, 0);
  absl::StatusOr<int64_t> r1 = coord_->WritePools("pools 1", 0);
  ASSERT_TRUE(r1.ok()) << r1.status();
  absl::Status stale = coord_->WritePools("pools 1 again", 0).status();
  EXPECT_TRUE(absl::IsAborted(stale)) << stale;
  EXPECT_THAT(stale.message(), ::testing::HasSubstr("the pools have changed"));
  absl::StatusOr<Versioned> seen = coord_->ReadPools();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->value, "pools 1");
  EXPECT_EQ(coord_->ReadMap()->revision, 0);  // another key
  ASSERT_TRUE(coord_->WritePools("pools 2", seen->revision).ok());
  EXPECT_EQ(coord_->ReadPools()->value, "pools 2");

  EXPECT_TRUE(coord_->Draining()->empty());
  ASSERT_TRUE(coord_->SetDraining("h1", true).ok());
  ASSERT_TRUE(coord_->SetDraining("h3", true).ok());
  ASSERT_TRUE(coord_->SetDraining("h1", true).ok());  // again: the same
  EXPECT_EQ(*coord_->Draining(), (std::set<std::string>{"h1", "h3"}));
  ASSERT_TRUE(coord_->SetDraining("h1", false).ok());
  EXPECT_EQ(*coord_->Draining(), (std::set<std::string>{"h3"}));
  EXPECT_TRUE(absl::IsInvalidArgument(coord_->SetDraining("no/slash", true)));
}

// A cell's size is written only under its owner's claim, and stays when
// the owner goes (the next owner's report replaces it); an entry that is
// not a size is left out. Failed marks go with their host's lease.
TEST_F(ClusterCoordTest, CellSizesAreReportedUnderTheOwnersClaim) {
  EXPECT_TRUE(coord_->CellBytes()->empty());
  const int64_t lease = Lease();
  absl::StatusOr<int64_t> epoch = coord_->ClaimCell(3, "h1", lease);
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  ASSERT_TRUE(coord_->ReportCellBytes(3, *epoch, 4096).ok());
  EXPECT_EQ(*coord_->CellBytes(), (std::map<uint32_t, uint64_t>{{3, 4096}}));
  absl::Status stale = coord_->ReportCellBytes(3, *epoch + 1, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(stale)) << stale;
  EXPECT_TRUE(absl::IsFailedPrecondition(coord_->ReportCellBytes(4, *epoch, 1)));
  ASSERT_TRUE(etcd_->RevokeLease(lease).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(coord_->ReportCellBytes(3, *epoch, 1)));
  EXPECT_EQ(*coord_->CellBytes(), (std::map<uint32_t, uint64_t>{{3, 4096}}));
  absl::StatusOr<int64_t> next = coord_->ClaimCell(3, "h2", Lease());
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(coord_->ReportCellBytes(3, *next, 8192).ok());
  EXPECT_EQ(*coord_->CellBytes(), (std::map<uint32_t, uint64_t>{{3, 8192}}));
  // A bad entry is left out, not an error (failover reads these).
  ASSERT_TRUE(etcd_->Put(absl::StrCat(coord_->prefix(), "bytes/0000000004"), "12x").ok());
  ASSERT_TRUE(etcd_->Put(absl::StrCat(coord_->prefix(), "bytes/zz"), "12").ok());
  EXPECT_EQ(*coord_->CellBytes(), (std::map<uint32_t, uint64_t>{{3, 8192}}));
  ASSERT_TRUE(coord_->ClearCellBytes().ok());
  EXPECT_TRUE(coord_->CellBytes()->empty());
  // Failed marks: per cell, the hosts; bound to the host's lease.
  const int64_t h1 = Lease();
  ASSERT_TRUE(coord_->MarkCellFailed(3, "h1", h1).ok());
  ASSERT_TRUE(coord_->MarkCellFailed(3, "h2", Lease()).ok());
  ASSERT_TRUE(coord_->MarkCellFailed(5, "h1", h1).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(coord_->MarkCellFailed(5, "no/slash", h1)));
  using Failed = std::map<uint32_t, std::set<std::string>>;
  EXPECT_EQ(*coord_->FailedCells(), (Failed{{3, {"h1", "h2"}}, {5, {"h1"}}}));
  ASSERT_TRUE(etcd_->RevokeLease(h1).ok());
  EXPECT_EQ(*coord_->FailedCells(), (Failed{{3, {"h2"}}}));
}

}  // namespace
}  // namespace cellindex
