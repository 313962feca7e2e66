// Host processes coordinated through etcd: a real etcd and real `cellindex
// host` processes on loopback, called through cellindex::Client, routed by
// the owners etcd holds. Every process a test starts is stopped by it (and
// killed if the test dies: BackgroundProcess).
//
//   - SIGKILL of a host: its lease expires, the controller reassigns its
//     cells, the survivor claims and restores them, and every
//     acknowledged write reads back there; SIGTERM of the survivor
//     releases its cells and revokes its lease.
//   - SIGSTOP past the lease (fencing): the frozen host's cells move; woken
//     with SIGCONT it acknowledges nothing and exits (its lease is gone),
//     and nothing it could have written is read.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "index/rpc/client.h"
#include "index/rpc/cluster/cluster_client.h"
#include "nlohmann/json.hpp"
#include "recovery/coord/cluster_coord.h"
#include "recovery/store/cell_map_file.h"
#include "recovery/store/layout.h"
#include "rocksdb/file_system.h"
#include "tests/etcd_server.h"
#include "tests/four_cells.h"
#include "tests/process_util.h"
#include "tests/scratch_dir.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using testing::Key;

constexpr int kLeaseTtl = 2;  // seconds

// One `cellindex host` process.
class Host {
 public:
  Host(const testing::ScratchDir& dir, std::string name, std::string etcd,
       int lease_ttl = kLeaseTtl)
      : dir_(dir), name_(std::move(name)), etcd_(std::move(etcd)), lease_ttl_(lease_ttl) {}

  // Starts it and waits (up to 60 s) for its "serving" event. Its address
  // (empty on failure).
  std::string Start() {
    log_ = dir_ / (name_ + ".log");
    std::vector<std::string> args = {CELLINDEX_CLI_PATH, "--data", dir_ / ("host-" + name_),
                                     "--store", dir_ / "store", "--json", "host", "--name",
                                     name_, "--etcd", etcd_, "--listen", "127.0.0.1:0",
                                     "--lease-ttl", std::to_string(lease_ttl_)};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    if (!process_.Start(args, log_)) {
      return "";
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      for (const nlohmann::json& e : Events()) {
        if (e.value("event", "") == "serving") return address_ = e["address"];
      }
      int status = 0;
      if (process_.Exited(&status)) return "";
      absl::SleepFor(absl::Milliseconds(10));  // polling the log for the line
    }
    return "";
  }
  // How many events of kind `event` it has printed.
  size_t CountEvents(const std::string& event) const {
    size_t n = 0;
    for (const nlohmann::json& e : Events()) n += e.value("event", "") == event;
    return n;
  }
  // Waits until it has printed `n` events of kind `event`.
  bool AwaitEvents(const std::string& event, size_t n, absl::Duration within) const {
    const absl::Time deadline = absl::Now() + within;
    while (absl::Now() < deadline) {
      if (CountEvents(event) >= n) return true;
      absl::SleepFor(absl::Milliseconds(20));  // polling the log; the deadline bounds it
    }
    return false;
  }
  // The JSON events it has printed.
  std::vector<nlohmann::json> Events() const {
    std::vector<nlohmann::json> out;
    for (absl::string_view line : absl::StrSplit(testing::ReadWholeFile(log_), '\n')) {
      if (!absl::StartsWith(line, "{")) continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }
  std::string log() const { return testing::ReadWholeFile(log_); }
  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }
  testing::BackgroundProcess& process() { return process_; }
  // More flags of `cellindex host`, for the next Start.
  std::vector<std::string> extra_args;

 private:
  const testing::ScratchDir& dir_;
  const std::string name_, etcd_;
  const int lease_ttl_;
  std::string log_, address_;
  testing::BackgroundProcess process_;
};

// The test's view of the cluster: etcd's owners and hosts, the cell map,
// and a client per host.
class Cluster {
 public:
  explicit Cluster(const std::string& etcd_endpoint) {
    etcd_ = *EtcdClient::Create({{etcd_endpoint}, absl::Seconds(2)});
    coord_.emplace(*ClusterCoord::Create(*etcd_, "default"));
  }
  ClusterCoord& coord() { return *coord_; }
  EtcdClient& etcd() { return *etcd_; }

  // Waits until the owners satisfy `done`, up to `within`; the owners then.
  std::map<uint32_t, CellOwner> AwaitOwners(
      const std::function<bool(const std::map<uint32_t, CellOwner>&)>& done,
      absl::Duration within) {
    const absl::Time deadline = absl::Now() + within;
    std::map<uint32_t, CellOwner> owners;
    while (absl::Now() < deadline) {
      absl::StatusOr<std::map<uint32_t, CellOwner>> o = coord_->Owners();
      if (o.ok()) {
        owners = *o;
        if (done(owners)) return owners;
      }
      absl::SleepFor(absl::Milliseconds(20));  // polling etcd; the deadline bounds it
    }
    return owners;
  }
  // Waits until all four cells are owned, two by a and two by b (the
  // controller's balancing is over).
  std::map<uint32_t, CellOwner> AwaitTwoEach(absl::Duration within) {
    return AwaitOwners(
        [](const std::map<uint32_t, CellOwner>& owners) {
          std::map<std::string, int> per_host;
          for (const auto& [cell, owner] : owners) ++per_host[owner.host];
          return owners.size() == 4 && per_host["a"] == 2 && per_host["b"] == 2;
        },
        within);
  }
  // Waits until all four cells are owned, spread over `hosts` hosts.
  std::map<uint32_t, CellOwner> AwaitSpreadOver(size_t hosts, absl::Duration within) {
    return AwaitOwners(
        [hosts](const std::map<uint32_t, CellOwner>& owners) {
          std::set<std::string> owning;
          for (const auto& [cell, owner] : owners) owning.insert(owner.host);
          return owners.size() == 4 && owning.size() == hosts;
        },
        within);
  }
  // Waits until etcd holds the sizes of `cells` cells, all above 0.
  std::map<uint32_t, uint64_t> AwaitSizes(size_t cells, absl::Duration within) {
    const absl::Time deadline = absl::Now() + within;
    std::map<uint32_t, uint64_t> sizes;
    while (absl::Now() < deadline) {
      absl::StatusOr<std::map<uint32_t, uint64_t>> s = coord_->CellBytes();
      if (s.ok()) {
        sizes = *s;
        bool all = sizes.size() == cells;
        for (const auto& [cell, bytes] : sizes) all &= bytes > 0;
        if (all) return sizes;
      }
      absl::SleepFor(absl::Milliseconds(20));  // polling etcd; the deadline bounds it
    }
    return sizes;
  }
  // Waits until all four cells are owned by hosts of `hosts`.
  std::map<uint32_t, CellOwner> AwaitOwners(const std::set<std::string>& hosts,
                                            absl::Duration within) {
    return AwaitOwners(
        [&](const std::map<uint32_t, CellOwner>& owners) {
          bool all = owners.size() == 4;
          for (const auto& [cell, owner] : owners) all &= hosts.count(owner.host) > 0;
          return all;
        },
        within);
  }

  Client* ClientFor(const std::string& address) {
    std::unique_ptr<Client>& c = clients_[address];
    if (c == nullptr) c = *Client::Connect(address);
    return c.get();
  }
  // The client of the host that owns `key`'s cell now (null: none).
  Client* Route(const std::string& key, const std::vector<CellRange>& map) {
    const std::string encoded = EncodeKey({"bucket", key});
    absl::StatusOr<std::map<uint32_t, CellOwner>> owners = coord_->Owners();
    absl::StatusOr<std::map<std::string, std::string>> hosts = coord_->Hosts();
    if (!owners.ok() || !hosts.ok()) return nullptr;
    for (const CellRange& c : map) {
      if (!c.Contains(encoded)) continue;
      auto owner = owners->find(c.id);
      if (owner == owners->end()) return nullptr;
      auto host = hosts->find(owner->second.host);
      return host == hosts->end() ? nullptr : ClientFor(host->second);
    }
    return nullptr;
  }

 private:
  std::unique_ptr<EtcdClient> etcd_;
  std::optional<ClusterCoord> coord_;
  std::map<std::string, std::unique_ptr<Client>> clients_;
};

// `client`: a Client or a ClusterClient.
template <typename AnyClient>
void ExpectEveryRecord(AnyClient& client,
                       const std::map<std::string, std::optional<ObjectRecord>>& want) {
  for (const auto& [key, rec] : want) {
    absl::StatusOr<ObjectRecord> r = client.Get({"bucket", key});
    if (rec.has_value()) {
      ASSERT_TRUE(r.ok()) << key << ": " << r.status();
      EXPECT_EQ(EncodeRecord(*r), EncodeRecord(*rec)) << key;
    } else {
      EXPECT_TRUE(absl::IsNotFound(r.status())) << key << ": " << r.status();
    }
  }
}

TEST(HostTest, AKilledHostsCellsServeOnTheSurvivorWithEveryAcknowledgedWrite) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = testing::PopulateFourCells(dir);
  testing::EtcdServer etcd(dir.path());
  ASSERT_TRUE(etcd.Start().ok());
  Host a(dir, "a", etcd.endpoint()), b(dir, "b", etcd.endpoint());
  ASSERT_FALSE(a.Start().empty()) << a.log();
  ASSERT_FALSE(b.Start().empty()) << b.log();
  Cluster cluster(etcd.endpoint());
  // The controller spreads the cells: two each, once b has joined.
  std::map<uint32_t, CellOwner> owners = cluster.AwaitTwoEach(absl::Seconds(30));
  std::map<std::string, int> per_host;
  for (const auto& [cell, owner] : owners) ++per_host[owner.host];
  ASSERT_EQ(per_host["a"], 2) << a.log() << b.log();
  ASSERT_EQ(per_host["b"], 2) << a.log() << b.log();

  absl::StatusOr<RemoteCellMap> map = cluster.ClientFor(a.address())->CellMap();
  ASSERT_TRUE(map.ok()) << map.status();
  // Each key through the host that owns its cell; the other refuses it.
  for (int i = 0; i < 100; i += 4) {
    Client* owner = cluster.Route(Key(i), map->cells);
    ASSERT_NE(owner, nullptr);
    absl::StatusOr<uint64_t> v = owner->Put({"bucket", Key(i)}, testing::Rec(5000 + i));
    ASSERT_TRUE(v.ok()) << Key(i) << ": " << v.status();
    want[Key(i)] = *owner->Get({"bucket", Key(i)});
    Client* other = cluster.ClientFor(owner == cluster.ClientFor(a.address()) ? b.address()
                                                                             : a.address());
    ClientOptions quick;
    quick.deadline = absl::Milliseconds(300);
    absl::Status refused =
        (*Client::Connect(other->address(), quick))->Get({"bucket", Key(i)}).status();
    EXPECT_TRUE(absl::IsUnavailable(refused) || absl::IsDeadlineExceeded(refused)) << refused;
  }

  // The cluster client routes by etcd's owners: every key to its owner.
  ClusterClientOptions cco;
  cco.etcd_endpoints = {etcd.endpoint()};
  cco.deadline = absl::Seconds(30);
  std::unique_ptr<ClusterClient> routed = *ClusterClient::Connect(cco);
  std::string a_key;  // a key of a cell of a's
  for (int i = 2; i < 100; i += 4) {
    absl::StatusOr<uint64_t> v = routed->Put({"bucket", Key(i)}, testing::Rec(7000 + i));
    ASSERT_TRUE(v.ok()) << Key(i) << ": " << v.status();
    want[Key(i)] = *routed->Get({"bucket", Key(i)});
    EXPECT_EQ(want[Key(i)]->version, *v);
    if (routed->CachedOwnerOf({"bucket", Key(i)}) == a.address()) a_key = Key(i);
  }
  ASSERT_FALSE(a_key.empty());
  const uint64_t reads_before = routed->owner_reads();

  // a is the controller (it started first; "assigned" is the controller's
  // event): its death also tests the election of the next.
  auto assigned_by = [](Host& h) {
    int n = 0;
    for (const nlohmann::json& e : h.Events()) n += e.value("event", "") == "assigned";
    return n;
  };
  ASSERT_GT(assigned_by(a), 0) << a.log();
  ASSERT_EQ(assigned_by(b), 0) << b.log();
  const absl::Time killed = absl::Now();
  ASSERT_EQ(testing::KilledOrWhy(a.process().Kill()), "");
  // A client whose view names the dead host is redirected to the new
  // owner: the read waits through the lease's expiry and the restore.
  absl::StatusOr<ObjectRecord> moved_read = routed->Get({"bucket", a_key});
  ASSERT_TRUE(moved_read.ok()) << moved_read.status();
  EXPECT_EQ(EncodeRecord(*moved_read), EncodeRecord(*want[a_key]));
  EXPECT_EQ(routed->CachedOwnerOf({"bucket", a_key}), b.address());
  EXPECT_GT(routed->owner_reads(), reads_before);
  owners = cluster.AwaitOwners({"b"}, absl::Seconds(30));
  const absl::Duration moved = absl::Now() - killed;
  for (const auto& [cell, owner] : owners) EXPECT_EQ(owner.host, "b") << cell << b.log();
  // b was elected and reassigned a's two cells.
  EXPECT_EQ(assigned_by(b), 2) << b.log();
  // Not before the lease could expire: the claims wait for a's keys to go.
  EXPECT_GE(moved, absl::Seconds(kLeaseTtl) - absl::Milliseconds(500));
  ExpectEveryRecord(*cluster.ClientFor(b.address()), want);
  // Writes go on there.
  Client* survivor = cluster.Route(Key(1), map->cells);
  ASSERT_EQ(survivor, cluster.ClientFor(b.address()));
  ASSERT_TRUE(survivor->Put({"bucket", Key(1)}, testing::Rec(9001)).ok());
  want[Key(1)] = *survivor->Get({"bucket", Key(1)});

  // The command through the cluster (--cluster): put, get, rm routed to b.
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {CELLINDEX_CLI_PATH, "--cluster", etcd.endpoint(), "--json"});
    return testing::RunProcess(args, dir.path(), 60);
  };
  testing::ProcessResult put = cli({"put", "bucket", a_key, "--size", "4321"});
  ASSERT_EQ(put.code, 0) << put.err;
  const uint64_t version = nlohmann::json::parse(put.out)["Version"];
  testing::ProcessResult got = cli({"get", "bucket", a_key});
  ASSERT_EQ(got.code, 0) << got.err;
  EXPECT_EQ(nlohmann::json::parse(got.out)["Size"], 4321);
  EXPECT_EQ(nlohmann::json::parse(got.out)["Version"], version);
  EXPECT_EQ(cli({"rm", "bucket", a_key}).code, 0);
  EXPECT_EQ(cli({"get", "bucket", a_key}).code, 1);  // not found
  want[a_key] = std::nullopt;
  ExpectEveryRecord(*cluster.ClientFor(b.address()), want);
  testing::ProcessResult refused = cli({"stat"});
  EXPECT_EQ(refused.code, 2);
  EXPECT_THAT(refused.err, ::testing::HasSubstr("--cluster applies to put, get, rm, ls, locate, cells, hosts, pools, pools set, hosts remove, split and merge only"));
  refused = testing::RunProcess({CELLINDEX_CLI_PATH, "--cluster", "127.0.0.1:99999", "get",
                                 "bucket", a_key},
                                dir.path(), 60);
  EXPECT_EQ(refused.code, 2) << refused.err;

  // SIGTERM: a clean stop releases the cells and the lease at once.
  const int status = b.process().Terminate();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << b.log();
  EXPECT_TRUE(cluster.coord().Owners()->empty());
  EXPECT_TRUE(cluster.coord().Hosts()->empty());

  // The store is marked as served by hosts: a single-process command is
  // refused (exit 3) until it says it leaves the cluster.
  const std::vector<std::string> local = {CELLINDEX_CLI_PATH, "--data", dir / "single",
                                          "--store", dir / "store", "get", "bucket", Key(1)};
  testing::ProcessResult single = testing::RunProcess(local, dir.path(), 60);
  EXPECT_EQ(single.code, 3) << single.err;
  EXPECT_THAT(single.err, ::testing::HasSubstr("served by host processes"));
  std::vector<std::string> leaving = local;
  leaving.insert(leaving.begin() + 1, "--leave-cluster");
  single = testing::RunProcess(leaving, dir.path(), 60);
  EXPECT_EQ(single.code, 0) << single.err;
}

// Every page of a listing or lookup, each as one line (entries, truncation
// and token), following the tokens: Index and ClusterClient must give the
// same lines. `entries(result)` writes a page's entries.
template <typename Options, typename Call, typename Entries>
std::vector<std::string> Pages(Call call, Options o, Entries entries) {
  std::vector<std::string> pages;
  for (int n = 0; n < 1000; ++n) {
    auto r = call(o);
    if (!r.ok()) return {absl::StrCat("error: ", r.status().ToString())};
    std::string line = entries(*r);
    absl::StrAppend(&line, r->is_truncated ? " more " : " end ", r->next_continuation_token);
    pages.push_back(line);
    if (!r->is_truncated) break;
    o.continuation_token = r->next_continuation_token;
  }
  return pages;
}
template <typename ListFn>
std::vector<std::string> ListPages(ListFn list, const ListOptions& o) {
  return Pages(list, o, [](const ListResult& r) {
    std::string line;
    for (const ListedObject& c : r.contents) {
      absl::StrAppend(&line, "key ", c.key, " ", c.size, " ", c.etag, " ",
                      absl::ToUnixMicros(c.last_modified), " ", c.storage_class, "; ");
    }
    for (const std::string& p : r.common_prefixes) absl::StrAppend(&line, "prefix ", p, "; ");
    absl::StrAppend(&line, "count ", r.key_count);
    return line;
  });
}
template <typename LocateFn>
std::vector<std::string> LocatePages(LocateFn locate, const LocateOptions& o) {
  return Pages(locate, o, [](const LocateResult& r) {
    std::string line;
    for (const LocatedObject& l : r.objects) {
      absl::StrAppend(&line, l.key.key, " v", l.version, " ", l.size);
      for (const Extent& e : l.extents) absl::StrAppend(&line, " ", e.node, "/", e.volume);
      absl::StrAppend(&line, "; ");
    }
    return line;
  });
}

// List and Locate through the cluster client read each cell's part from the
// host that owns it, and give the pages and tokens that the index itself
// gives over the same records: common prefixes that straddle cells (and
// hosts) once, pages that end at a cell's end, before and after the owner
// of two cells is killed.
TEST(HostTest, ListAndLocateThroughTheClusterClientGiveTheIndexsPages) {
  testing::ScratchDir dir;
  std::vector<ListOptions> listings;
  for (const auto& [prefix, delimiter] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"k", "0"}, {"", "2"}, {"k0", "/"}, {"k02", ""}, {"k05", "/"}}) {
    for (int max_keys : {1000, 7, 1}) {
      ListOptions o;
      o.prefix = prefix;
      o.delimiter = delimiter;
      o.max_keys = max_keys;
      listings.push_back(o);
    }
  }
  listings.push_back(ListOptions());
  listings.back().start_after = "k047";
  listings.back().max_keys = 10;
  std::vector<LocateOptions> lookups;
  for (int max_objects : {1000, 7, 1}) {
    lookups.emplace_back().volume = "vol-1";
    lookups.back().max_objects = max_objects;
    lookups.emplace_back().node = "node-2";
    lookups.back().max_objects = max_objects;
  }
  std::vector<std::vector<std::string>> want_lists, want_lookups;
  {
    auto index = Index::Open(testing::FourCells(dir));
    ASSERT_TRUE(index.ok()) << index.status();
    testing::Populate(**index);
    // Groups under "/" in every cell, one at a boundary (k025 opens cell 1),
    // and objects on a second node and volume in the first and last cells.
    for (int i : {10, 24, 25, 49, 50, 51, 60, 80, 99}) {
      for (const char* leaf : {"/a", "/b"}) {
        ASSERT_TRUE((*index)->Put({"bucket", Key(i) + leaf}, testing::Rec(i)).ok());
      }
    }
    for (const char* key : {"k003", "k012/b", "k077", "k098"}) {
      ObjectRecord r = testing::Rec(3);
      r.locations.push_back({"node-2", "vol-2", 0, 1});
      ASSERT_TRUE((*index)->Put({"bucket", key}, r).ok());
    }
    for (const ListOptions& o : listings) {
      want_lists.push_back(ListPages([&](const ListOptions& p) { return (*index)->List("bucket", p); }, o));
    }
    for (const LocateOptions& o : lookups) {
      want_lookups.push_back(LocatePages([&](const LocateOptions& p) { return (*index)->Locate(p); }, o));
    }
  }
  ASSERT_GT(want_lists[1].size(), 3u);  // paged
  ASSERT_EQ(want_lists[3].size(), 1u) << want_lists[3][0];  // "k0" straddles all four cells

  testing::EtcdServer etcd(dir.path());
  ASSERT_TRUE(etcd.Start().ok());
  Host a(dir, "a", etcd.endpoint()), b(dir, "b", etcd.endpoint());
  ASSERT_FALSE(a.Start().empty()) << a.log();
  ASSERT_FALSE(b.Start().empty()) << b.log();
  Cluster cluster(etcd.endpoint());
  std::map<uint32_t, CellOwner> owners = cluster.AwaitSpreadOver(2, absl::Seconds(30));
  ASSERT_EQ(owners.size(), 4u) << a.log() << b.log();

  ClusterClientOptions cco;
  cco.etcd_endpoints = {etcd.endpoint()};
  cco.deadline = absl::Seconds(30);
  std::unique_ptr<ClusterClient> routed = *ClusterClient::Connect(cco);
  auto list = [&](const ListOptions& o) { return routed->List("bucket", o); };
  auto locate = [&](const LocateOptions& o) { return routed->Locate(o); };
  auto expect_same_pages = [&](const std::string& when) {
    for (size_t i = 0; i < listings.size(); ++i) {
      EXPECT_EQ(ListPages(list, listings[i]), want_lists[i])
          << when << ": listing " << i << " prefix " << listings[i].prefix << " delimiter "
          << listings[i].delimiter << " max " << listings[i].max_keys;
    }
    for (size_t i = 0; i < lookups.size(); ++i) {
      EXPECT_EQ(LocatePages(locate, lookups[i]), want_lookups[i]) << when << ": lookup " << i;
    }
  };
  expect_same_pages("two hosts");
  // The client routes on the map the controller published to etcd, read once.
  absl::StatusOr<Versioned> published = cluster.coord().ReadMap();
  ASSERT_TRUE(published.ok() && published->revision != 0) << a.log();
  absl::StatusOr<CellMap> map = CellMap::Decode(published->value);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(routed->map_epoch(), map->epoch());
  EXPECT_EQ(routed->map_reads(), 1u);
  // A newer map in etcd (an epoch on; the same ranges) is read at the next
  // refresh (after the kill below), and no controller replaces it with its
  // older one.
  ASSERT_TRUE(map->SetHost(map->cells()[0].id, "elsewhere").ok());
  ASSERT_TRUE(cluster.coord().WriteMap(map->Encode(), published->revision).ok());

  // What the index refuses, the cluster client refuses the same way.
  ListOptions bad;
  bad.max_keys = -1;
  EXPECT_TRUE(absl::IsInvalidArgument(routed->List("bucket", bad).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(routed->List("Not A Bucket").status()));
  bad = ListOptions();
  bad.continuation_token = "garbage";
  EXPECT_TRUE(absl::IsInvalidArgument(routed->List("bucket", bad).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(routed->Locate(LocateOptions()).status()));
  bad = ListOptions();
  bad.cell = 999;
  absl::Status no_cell = routed->List("bucket", bad).status();
  EXPECT_TRUE(absl::IsInvalidArgument(no_cell)) << no_cell;
  EXPECT_THAT(no_cell.message(), ::testing::HasSubstr("no cell 999"));
  // One cell's part, from its owner.
  bad.cell = owners.begin()->first;
  bad.max_keys = 1;
  absl::StatusOr<ListResult> part = routed->List("bucket", bad);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->key_count, 1);

  // The command through the cluster: ls and locate.
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {CELLINDEX_CLI_PATH, "--cluster", etcd.endpoint(), "--json"});
    return testing::RunProcess(args, dir.path(), 60);
  };
  testing::ProcessResult ls = cli({"ls", "bucket", "--prefix", "k0", "--delimiter", "/"});
  ASSERT_EQ(ls.code, 0) << ls.err;
  const nlohmann::json page = nlohmann::json::parse(ls.out);
  std::string got;
  for (const nlohmann::json& c : page["Contents"]) absl::StrAppend(&got, c["Key"].get<std::string>(), " ");
  for (const nlohmann::json& p : page["CommonPrefixes"]) {
    absl::StrAppend(&got, p["Prefix"].get<std::string>(), " ");
  }
  EXPECT_EQ(got, "k000 k002 k003 k004 k005 k006 k007 k009 k010 k011 k012 k013 k014 k016 k017 "
                 "k018 k019 k020 k021 k023 k024 k025 k026 k027 k028 k030 k031 k032 k033 k034 "
                 "k035 k037 k038 k039 k040 k041 k042 k044 k045 k046 k047 k048 k049 k051 k052 "
                 "k053 k054 k055 k056 k058 k059 k060 k061 k062 k063 k065 k066 k067 k068 k069 "
                 "k070 k072 k073 k074 k075 k076 k077 k079 k080 k081 k082 k083 k084 k086 k087 "
                 "k088 k089 k090 k091 k093 k094 k095 k096 k097 k098 k010/ k012/ k024/ k025/ "
                 "k049/ k050/ k051/ k060/ k080/ k099/ ");
  testing::ProcessResult located = cli({"locate", "--node", "node-2"});
  ASSERT_EQ(located.code, 0) << located.err;
  std::string keys;
  const nlohmann::json objects = nlohmann::json::parse(located.out);
  for (const nlohmann::json& o : objects["Objects"]) {
    absl::StrAppend(&keys, o["Key"].get<std::string>(), " ");
  }
  EXPECT_EQ(keys, "k003 k012/b k077 k098 ") << located.out << located.err;

  // The owner of two cells dies: the reads wait for the lease and the
  // restore on the survivor, and give the same pages.
  ASSERT_EQ(testing::KilledOrWhy(a.process().Kill()), "");
  expect_same_pages("after a's death");
  EXPECT_EQ(routed->map_epoch(), map->epoch());
  EXPECT_EQ(routed->map_reads(), 2u);
  EXPECT_EQ(CellMap::Decode(cluster.coord().ReadMap()->value)->epoch(), map->epoch());
  owners = cluster.AwaitOwners({"b"}, absl::Seconds(30));
  for (const auto& [cell, owner] : owners) EXPECT_EQ(owner.host, "b") << cell;
  EXPECT_EQ(b.process().Terminate(), 0) << b.log();
}

// Removing capacity from a cluster goes through the capacity guard: pools
// and their minimums live in etcd; a removal that would leave a pool below
// its minimum is refused with nothing changed; an executed one marks the
// host as draining and the controller moves its cells away one at a time,
// under load, losing nothing. When a pool later loses a host below its
// minimum, the controller says so, and still places the cells.
TEST(HostTest, RemovingAHostIsGuardedByThePoolsMinimumAndDrainsItUnderLoad) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = testing::PopulateFourCells(dir);
  testing::EtcdServer etcd(dir.path());
  ASSERT_TRUE(etcd.Start().ok());
  // etcd holds another index's map under this cluster name (a newer epoch):
  // the controller replaces it with its own.
  Cluster cluster(etcd.endpoint());
  CellMap foreign = *CellMap::FromBoundaries({});
  foreign.set_index_id("another-index");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(foreign.SetHost(0, "x").ok());
  ASSERT_TRUE(cluster.coord().WriteMap(foreign.Encode(), 0).ok());
  Host a(dir, "a", etcd.endpoint()), b(dir, "b", etcd.endpoint()), c(dir, "c", etcd.endpoint());
  for (Host* h : {&a, &b, &c}) ASSERT_FALSE(h->Start().empty()) << h->log();
  std::map<uint32_t, CellOwner> owners = cluster.AwaitSpreadOver(3, absl::Seconds(30));
  std::map<std::string, int> per_host;
  for (const auto& [cell, owner] : owners) ++per_host[owner.host];
  ASSERT_EQ(per_host.size(), 3u) << a.log() << b.log() << c.log();
  ASSERT_GE(per_host["c"], 1);
  absl::StatusOr<CellMap> published = CellMap::Decode(cluster.coord().ReadMap()->value);
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_NE(published->index_id(), "another-index");
  EXPECT_EQ(published->cells().size(), 4u);

  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {CELLINDEX_CLI_PATH, "--cluster", etcd.endpoint()});
    return testing::RunProcess(args, dir.path(), 120);
  };
  testing::ProcessResult set =
      cli({"pools", "set", "web", "--hosts", "a,b,c", "--min-hosts", "2"});
  ASSERT_EQ(set.code, 0) << set.err;
  testing::ProcessResult pools = cli({"--json", "pools"});
  ASSERT_EQ(pools.code, 0) << pools.err;
  const nlohmann::json pool_list = nlohmann::json::parse(pools.out);
  bool saw_web = false;
  for (const nlohmann::json& p : pool_list) {
    if (p["pool"] != "web") continue;
    saw_web = true;
    EXPECT_EQ(p["hosts"], 3);
    EXPECT_EQ(p["min_hosts"], 2);
    EXPECT_EQ(p["cells"], 4);
  }
  EXPECT_TRUE(saw_web) << pools.out;
  EXPECT_EQ(cli({"pools", "set", "Bad Name"}).code, 2);

  // Refused: two of three hosts would leave web below its minimum of 2.
  testing::ProcessResult refused = cli({"hosts", "remove", "b", "c", "--max-step", "2",
                                        "--max-fraction", "1"});
  EXPECT_EQ(refused.code, 12) << refused.out << refused.err;
  EXPECT_THAT(refused.err, ::testing::HasSubstr("refused"));
  EXPECT_EQ(cli({"hosts", "remove", "nosuchhost"}).code, 10);
  // The guard weighs the cells' sizes, as their owners report them to etcd:
  // with a byte limit that neither survivor can take c's smallest cell
  // under, removing c is refused (exit 13), and nothing changes.
  std::map<uint32_t, uint64_t> sizes = cluster.AwaitSizes(4, absl::Seconds(30));
  ASSERT_EQ(sizes.size(), 4u) << a.log();
  std::map<std::string, uint64_t> host_bytes;
  uint64_t smallest_on_c = UINT64_MAX;
  for (const auto& [cell, owner] : owners) {
    ASSERT_GT(sizes[cell], 0u) << cell;
    host_bytes[owner.host] += sizes[cell];
    if (owner.host == "c") smallest_on_c = std::min(smallest_on_c, sizes[cell]);
  }
  // `--cluster cells` and `--cluster hosts` show the same from etcd.
  testing::ProcessResult cell_list = cli({"--json", "cells"});
  ASSERT_EQ(cell_list.code, 0) << cell_list.err;
  const nlohmann::json cells_json = nlohmann::json::parse(cell_list.out);
  ASSERT_EQ(cells_json.size(), 4u) << cell_list.out;
  for (const nlohmann::json& j : cells_json) {
    const uint32_t id = j["id"];
    EXPECT_EQ(j["owner"], owners[id].host) << cell_list.out;
    EXPECT_EQ(j["assigned"], owners[id].host) << cell_list.out;
    EXPECT_EQ(j["owner_epoch"], owners[id].epoch) << cell_list.out;
    EXPECT_EQ(j["bytes"], sizes[id]) << cell_list.out;
    EXPECT_EQ(j["state"], "owned") << cell_list.out;
  }
  testing::ProcessResult host_list = cli({"--json", "hosts"});
  ASSERT_EQ(host_list.code, 0) << host_list.err;
  const nlohmann::json hosts_json = nlohmann::json::parse(host_list.out);
  ASSERT_EQ(hosts_json.size(), 3u) << host_list.out;
  for (const nlohmann::json& j : hosts_json) {
    const std::string name = j["host"];
    EXPECT_EQ(j["cells"], per_host[name]) << host_list.out;
    EXPECT_EQ(j["bytes"], host_bytes[name]) << host_list.out;
    EXPECT_EQ(j["pool"], "web") << host_list.out;
    EXPECT_EQ(j["live"], true) << host_list.out;
    EXPECT_EQ(j["draining"], false) << host_list.out;
  }
  testing::ProcessResult cell_text = cli({"cells"});
  EXPECT_EQ(cell_text.code, 0) << cell_text.err;
  EXPECT_THAT(cell_text.out, ::testing::HasSubstr("owner epoch")) << cell_text.out;
  EXPECT_THAT(cell_text.out, ::testing::HasSubstr("owned")) << cell_text.out;
  EXPECT_EQ(cli({"hosts"}).code, 0);
  EXPECT_EQ(cli({"hosts", "add", "x", "/tmp/x"}).code, 2);  // not with --cluster
  const uint64_t tight = std::min(host_bytes["a"], host_bytes["b"]) + smallest_on_c - 1;
  ASSERT_EQ(cli({"pools", "set", "web", "--max-bytes-per-host", absl::StrCat(tight)}).code, 0);
  testing::ProcessResult full = cli({"hosts", "remove", "c"});
  EXPECT_EQ(full.code, 13) << full.out << full.err;
  EXPECT_THAT(full.err, ::testing::HasSubstr("fits on no surviving host"));
  EXPECT_TRUE(cluster.coord().Draining()->empty());
  ASSERT_EQ(cli({"pools", "set", "web", "--max-bytes-per-host", "0"}).code, 0);
  // A dry run: the plan, nothing changed.
  testing::ProcessResult dry = cli({"hosts", "remove", "c"});
  EXPECT_EQ(dry.code, 0) << dry.err;
  EXPECT_THAT(dry.out, ::testing::HasSubstr("dry run"));
  EXPECT_TRUE(cluster.coord().Draining()->empty());
  // Who owns what, under which claim.
  auto claims = [](const std::map<uint32_t, CellOwner>& owners) {
    std::map<uint32_t, std::pair<std::string, int64_t>> out;
    for (const auto& [cell, owner] : owners) out[cell] = {owner.host, owner.epoch};
    return out;
  };
  EXPECT_EQ(claims(*cluster.coord().Owners()), claims(owners));

  // Executed under load: writes through the cluster client all along.
  ClusterClientOptions cco;
  cco.etcd_endpoints = {etcd.endpoint()};
  cco.deadline = absl::Seconds(30);
  std::unique_ptr<ClusterClient> routed = *ClusterClient::Connect(cco);
  std::atomic<bool> stop{false};
  std::map<std::string, uint64_t> acked;
  int failed = 0;
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      const std::string key = absl::StrCat("w", i % 100, "-", i);
      absl::StatusOr<uint64_t> v = routed->Put({"bucket", key}, testing::Rec(100 + i));
      if (v.ok()) {
        acked[key] = *v;
      } else {
        ++failed;
      }
    }
  });
  testing::ProcessResult removed = cli({"--json", "hosts", "remove", "c", "--execute"});
  stop = true;
  writer.join();
  ASSERT_EQ(removed.code, 0) << removed.out << removed.err << a.log();
  const nlohmann::json report = nlohmann::json::parse(removed.out);
  EXPECT_EQ(report["step_seconds"].size(), 1u) << removed.out;
  owners = *cluster.coord().Owners();
  ASSERT_EQ(owners.size(), 4u);
  for (const auto& [cell, owner] : owners) EXPECT_NE(owner.host, "c") << cell;
  const std::map<uint32_t, std::string> assigned = *cluster.coord().Assignments();
  EXPECT_EQ(assigned.size(), 4u);
  for (const auto& [cell, host] : assigned) EXPECT_NE(host, "c") << cell;
  EXPECT_THAT(a.log(), ::testing::HasSubstr("\"reason\":\"drain\""));
  EXPECT_GT(acked.size(), 0u);
  for (const auto& [key, version] : acked) {
    absl::StatusOr<ObjectRecord> r = routed->Get({"bucket", key});
    ASSERT_TRUE(r.ok()) << key << ": " << r.status();
    EXPECT_EQ(r->version, version) << key;
  }
  // Drained again: refused (exit 3); --cancel gives c cells again (the
  // controller balances onto it), and a second removal drains it again.
  EXPECT_EQ(cli({"hosts", "remove", "c"}).code, 3);
  testing::ProcessResult cancelled = cli({"hosts", "remove", "c", "--cancel"});
  ASSERT_EQ(cancelled.code, 0) << cancelled.err;
  EXPECT_TRUE(cluster.coord().Draining()->empty());
  owners = cluster.AwaitOwners(
      [](const std::map<uint32_t, CellOwner>& owners) {
        int on_c = 0;
        for (const auto& [cell, owner] : owners) on_c += owner.host == "c";
        return owners.size() == 4 && on_c == 1;
      },
      absl::Seconds(30));
  int on_c = 0;
  for (const auto& [cell, owner] : owners) on_c += owner.host == "c";
  ASSERT_EQ(on_c, 1) << a.log();
  removed = cli({"hosts", "remove", "c", "--execute"});
  ASSERT_EQ(removed.code, 0) << removed.out << removed.err;
  EXPECT_THAT(removed.out, ::testing::HasSubstr("hold no cell now"));
  owners = *cluster.coord().Owners();
  for (const auto& [cell, owner] : owners) EXPECT_NE(owner.host, "c") << cell;
  ExpectEveryRecord(*routed, want);
  // The drained host holds nothing: it stops cleanly, and nothing moves.
  EXPECT_EQ(c.process().Terminate(), 0) << c.log();
  testing::ProcessResult gone = cli({"--json", "hosts"});
  ASSERT_EQ(gone.code, 0) << gone.err;
  bool saw_c = false;
  for (const nlohmann::json& j : nlohmann::json::parse(gone.out)) {
    if (j["host"] != "c") continue;
    saw_c = true;
    EXPECT_EQ(j["live"], false) << gone.out;
    EXPECT_EQ(j["draining"], true) << gone.out;
    EXPECT_EQ(j["cells"], 0) << gone.out;
  }
  EXPECT_TRUE(saw_c) << gone.out;
  std::cout << cli({"cells"}).out << cli({"hosts"}).out;
  EXPECT_EQ(claims(*cluster.coord().Owners()), claims(owners));

  // b dies: web has one live host, below its minimum, and a's byte limit
  // leaves no room for b's cells (their sizes stay in etcd after b is
  // gone). The controller says both, and places b's cells on a all the
  // same: serving them somewhere comes first.
  sizes = *cluster.coord().CellBytes();
  uint64_t on_a = 0, smallest_on_b = UINT64_MAX;
  for (const auto& [cell, owner] : owners) {
    if (owner.host == "a") {
      on_a += sizes[cell];
    } else {
      smallest_on_b = std::min(smallest_on_b, sizes[cell]);
    }
  }
  ASSERT_NE(smallest_on_b, UINT64_MAX);
  ASSERT_EQ(cli({"pools", "set", "web", "--max-bytes-per-host",
                 absl::StrCat(on_a + smallest_on_b - 1)}).code, 0);
  auto over_limit = [&a] {
    size_t n = 0;
    for (const nlohmann::json& e : a.Events()) {
      n += e.value("event", "") == "assigned" && e.value("over_limit", false);
    }
    return n;
  };
  const size_t over_before = over_limit();
  ASSERT_EQ(testing::KilledOrWhy(b.process().Kill()), "");
  owners = cluster.AwaitOwners({"a"}, absl::Seconds(30));
  for (const auto& [cell, owner] : owners) EXPECT_EQ(owner.host, "a") << cell << a.log();
  EXPECT_GT(over_limit(), over_before) << a.log();
  ASSERT_EQ(cli({"pools", "set", "web", "--max-bytes-per-host", "0"}).code, 0);
  bool below = false;
  for (const nlohmann::json& e : a.Events()) {
    below |= e.value("event", "") == "below-minimum" && e.value("pool", "") == "web";
  }
  EXPECT_TRUE(below) << a.log();
  for (const auto& [key, version] : acked) {
    absl::StatusOr<ObjectRecord> r = routed->Get({"bucket", key});
    ASSERT_TRUE(r.ok()) << key << ": " << r.status();
    EXPECT_EQ(r->version, version) << key;
  }
  EXPECT_EQ(a.process().Terminate(), 0) << a.log();
  std::cout << "writes during the drain: " << acked.size() << " acknowledged, " << failed
            << " failed\n";
}

// A cell that cannot be restored on a host (its disk refuses it: here the
// host's cells directory is a file) is given back, marked as failed there
// for as long as that host lives, and served by another host; the broken
// host ends with no cell and no claim, and every record reads back.
TEST(HostTest, ACellThatFailsToRestoreOnAHostIsServedByAnother) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = testing::PopulateFourCells(dir);
  testing::EtcdServer etcd(dir.path());
  ASSERT_TRUE(etcd.Start().ok());
  std::filesystem::create_directories(dir / "host-a");
  { std::ofstream(dir / "host-a/cells") << "not a directory"; }
  Host a(dir, "a", etcd.endpoint()), b(dir, "b", etcd.endpoint());
  ASSERT_FALSE(a.Start().empty()) << a.log();
  ASSERT_FALSE(b.Start().empty()) << b.log();
  Cluster cluster(etcd.endpoint());
  // The end state: every cell owned by b, and marked as failed on a (the
  // controller also tried to balance cells onto a, one at a time).
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::map<uint32_t, std::set<std::string>> failed;
  std::map<uint32_t, CellOwner> owners;
  while (absl::Now() < deadline) {
    failed = *cluster.coord().FailedCells();
    owners = *cluster.coord().Owners();
    bool done = failed.size() == 4 && owners.size() == 4;
    for (const auto& [cell, owner] : owners) done &= owner.host == "b";
    if (done) break;
    absl::SleepFor(absl::Milliseconds(20));  // polling etcd; the deadline bounds it
  }
  ASSERT_EQ(owners.size(), 4u) << a.log() << b.log();
  for (const auto& [cell, owner] : owners) EXPECT_EQ(owner.host, "b") << cell;
  ASSERT_EQ(failed.size(), 4u) << a.log();
  for (const auto& [cell, hosts] : failed) EXPECT_EQ(hosts, std::set<std::string>{"a"}) << cell;
  size_t given_back = 0;
  for (const nlohmann::json& e : a.Events()) {
    given_back += e.value("event", "") == "cell-failed" && e.value("released", false);
  }
  EXPECT_GE(given_back, 4u) << a.log();
  ASSERT_TRUE(b.AwaitEvents("serving-cell", 4, absl::Seconds(60))) << b.log();
  ClusterClientOptions cco;
  cco.etcd_endpoints = {etcd.endpoint()};
  cco.deadline = absl::Seconds(30);
  std::unique_ptr<ClusterClient> routed = *ClusterClient::Connect(cco);
  ExpectEveryRecord(*routed, want);
  EXPECT_EQ(a.process().Terminate(), 0) << a.log();
  // a's marks went with its lease.
  EXPECT_TRUE(cluster.coord().FailedCells()->empty());
  EXPECT_EQ(b.process().Terminate(), 0) << b.log();
}

// The cell map read from etcd.
CellMap EtcdMap(ClusterCoord& coord) {
  absl::StatusOr<Versioned> v = coord.ReadMap();
  EXPECT_TRUE(v.ok() && v->revision != 0);
  if (!v.ok() || v->revision == 0) return CellMap();
  absl::StatusOr<CellMap> map = CellMap::Decode(v->value);
  EXPECT_TRUE(map.ok()) << map.status();
  return map.ok() ? *map : CellMap();
}

std::vector<uint32_t> CellIds(const CellMap& map) {
  std::vector<uint32_t> ids;
  for (const CellRange& c : map.cells()) ids.push_back(c.id);
  return ids;
}

// A split and a merge asked for through the command (--cluster): the
// owner of the cells runs each (the controller brings a merge's cells to
// one host first) and commits it in etcd (map, claims, assignments in one
// transaction); the other host follows the map. Killed, the owner's cells,
// the children among them, come back on the other host with every
// acknowledged write, read through a client whose map is from before.
TEST(HostTest, SplitsAndMergesRunOnTheOwnerAndCommitThroughEtcd) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = testing::PopulateFourCells(dir);
  testing::EtcdServer etcd(dir.path());
  ASSERT_TRUE(etcd.Start().ok());
  Host a(dir, "a", etcd.endpoint()), b(dir, "b", etcd.endpoint());
  ASSERT_FALSE(a.Start().empty()) << a.log();
  ASSERT_FALSE(b.Start().empty()) << b.log();
  Cluster cluster(etcd.endpoint());
  // Two each: the controller's balancing is over.
  std::map<uint32_t, CellOwner> owners = cluster.AwaitTwoEach(absl::Seconds(30));
  ASSERT_EQ(owners.size(), 4u) << a.log() << b.log();
  ClusterClientOptions cco;
  cco.etcd_endpoints = {etcd.endpoint()};
  cco.deadline = absl::Seconds(30);
  std::unique_ptr<ClusterClient> stale = *ClusterClient::Connect(cco);
  ExpectEveryRecord(*stale, want);  // its map is the one before the split and merge
  const uint64_t epoch_before = stale->map_epoch();
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {CELLINDEX_CLI_PATH, "--cluster", etcd.endpoint(), "--json"});
    return testing::RunProcess(args, dir.path(), 120);
  };

  // Bad requests change nothing.
  const int64_t revision = cluster.coord().ReadMap()->revision;
  testing::ProcessResult bad = cli({"split", "--cell", "0", "--at", "bucket/k030"});
  EXPECT_EQ(bad.code, 2) << bad.err;
  bad = cli({"split", "--cell", "9"});
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_THAT(bad.err, ::testing::HasSubstr("no cell 9"));
  bad = cli({"merge", "--cells", "0,2"});
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_EQ(cluster.coord().ReadMap()->revision, revision);
  EXPECT_FALSE(cluster.coord().ReadReshape()->has_value());

  // The split, on cell 0's owner.
  const std::string splitter = owners[0].host;
  Host& split_host = splitter == "a" ? a : b;
  testing::ProcessResult split = cli({"split", "--cell", "0", "--at", "bucket/k012"});
  ASSERT_EQ(split.code, 0) << split.err << a.log() << b.log();
  // Committed when the command returns; the children serve once the host
  // says so.
  ASSERT_TRUE(split_host.AwaitEvents("split", 1, absl::Seconds(30))) << split_host.log();
  const nlohmann::json done = nlohmann::json::parse(split.out);
  EXPECT_EQ(done["host"], splitter);
  EXPECT_EQ(done["children"], nlohmann::json({4, 5}));
  CellMap map = EtcdMap(cluster.coord());
  EXPECT_EQ(CellIds(map), (std::vector<uint32_t>{4, 5, 1, 2, 3}));
  owners = *cluster.coord().Owners();
  EXPECT_FALSE(owners.count(0));
  for (uint32_t child : {4u, 5u}) {
    EXPECT_EQ(owners[child].host, splitter) << child;
    EXPECT_GT(owners[child].epoch, revision) << child;
    EXPECT_EQ((*cluster.coord().Assignments())[child], splitter);
    // Served under that epoch: its fence says so (a late append of an
    // earlier writer of the child's journal is never read).
    EXPECT_TRUE(std::filesystem::exists(
        dir.path() + "/store/" + OwnerFenceName(child, owners[child].epoch)))
        << child;
  }
  // Writes to both halves, through the client with the old map.
  for (int i : {3, 11, 12, 20}) {
    absl::StatusOr<uint64_t> v = stale->Put({"bucket", Key(i)}, testing::Rec(6000 + i));
    ASSERT_TRUE(v.ok()) << Key(i) << ": " << v.status();
    want[Key(i)] = *stale->Get({"bucket", Key(i)});
  }
  ExpectEveryRecord(*stale, want);

  // The merge of 5 and 1: on one host (brought together if apart).
  const bool apart = owners[1].host != splitter;
  testing::ProcessResult merge = cli({"merge", "--cells", "5,1"});
  ASSERT_EQ(merge.code, 0) << merge.err << a.log() << b.log();
  EXPECT_EQ(nlohmann::json::parse(merge.out)["children"], nlohmann::json({6}));
  map = EtcdMap(cluster.coord());
  EXPECT_EQ(CellIds(map), (std::vector<uint32_t>{4, 6, 2, 3}));
  owners = *cluster.coord().Owners();
  const std::string merger = owners[6].host;
  EXPECT_EQ(merger, splitter);  // the right cell came to the left's host
  if (apart) {
    Host& controller = a.CountEvents("assigned") > 0 ? a : b;
    bool moved = false;
    for (const nlohmann::json& e : controller.Events()) {
      moved |= e.value("event", "") == "moving" && e.value("cell", 0) == 1 &&
               absl::StrContains(e.value("reason", ""), "merge with cell 5");
    }
    EXPECT_TRUE(moved) << controller.log();
  }
  for (int i : {13, 30, 49}) {
    absl::StatusOr<uint64_t> v = stale->Put({"bucket", Key(i)}, testing::Rec(8000 + i));
    ASSERT_TRUE(v.ok()) << Key(i) << ": " << v.status() << a.log() << b.log();
    want[Key(i)] = *stale->Get({"bucket", Key(i)});
  }
  // The other host follows the map (it printed it).
  Host& follower = merger == "a" ? b : a;
  EXPECT_TRUE(follower.AwaitEvents("map", 2, absl::Seconds(10))) << follower.log();

  // The owner of the new cells is killed: they come back on the other host
  // (it knows them from the map), with every acknowledged write.
  Host& killed = merger == "a" ? a : b;
  ASSERT_EQ(testing::KilledOrWhy(killed.process().Kill()), "");
  owners = cluster.AwaitOwners(
      [&](const std::map<uint32_t, CellOwner>& o) {
        bool all = o.size() == 4;
        for (const auto& [cell, owner] : o) all &= owner.host == follower.name();
        return all;
      },
      absl::Seconds(30));
  ASSERT_EQ(owners.size(), 4u) << follower.log();
  ExpectEveryRecord(*stale, want);
  EXPECT_GT(stale->map_epoch(), epoch_before);
  cco.deadline = absl::Seconds(10);
  ExpectEveryRecord(**ClusterClient::Connect(cco), want);
  // The store's map followed etcd's (for a single process leaving later).
  absl::StatusOr<CellMap> stored =
      LoadCellMap(*rocksdb::FileSystem::Default(), dir / "store/CELLMAP");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(CellIds(*stored), (std::vector<uint32_t>{4, 6, 2, 3}));

  // A request the owner cannot run (a cell gone meanwhile) is dropped by
  // the controller, saying why.
  ReshapeRequest gone;
  gone.op = "split";
  gone.cells = {0};
  gone.map_revision = cluster.coord().ReadMap()->revision;
  absl::StatusOr<int64_t> asked = cluster.coord().RequestReshape(gone);
  ASSERT_TRUE(asked.ok()) << asked.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (cluster.coord().ReadReshape()->has_value() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));  // polling etcd; the deadline bounds it
  }
  const nlohmann::json result = nlohmann::json::parse(cluster.coord().ReadReshapeResult()->value);
  EXPECT_EQ(result["request"], *asked);
  EXPECT_EQ(result["outcome"], "failed");
  EXPECT_THAT(result.value("error", ""), ::testing::HasSubstr("no cell 0"));
  EXPECT_TRUE(WIFEXITED(follower.process().Terminate()));
}

// With --split-bytes the controller asks for the split of a cell whose
// reported size reaches it (the largest first); its owner runs it.
TEST(HostTest, TheControllerSplitsACellPastSplitBytes) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = testing::PopulateFourCells(dir);
  testing::EtcdServer etcd(dir.path());
  ASSERT_TRUE(etcd.Start().ok());
  Cluster cluster(etcd.endpoint());
  Host a(dir, "a", etcd.endpoint());
  ASSERT_FALSE(a.Start().empty()) << a.log();
  const std::map<uint32_t, uint64_t> sizes = cluster.AwaitSizes(4, absl::Seconds(30));
  ASSERT_EQ(sizes.size(), 4u) << a.log();
  uint32_t largest = 0;
  for (const auto& [cell, bytes] : sizes) {
    if (bytes > sizes.at(largest)) largest = cell;
  }
  ASSERT_TRUE(WIFEXITED(a.process().Terminate()));
  // Past the largest cell's size: nothing else qualifies at first.
  a.extra_args = {"--split-bytes", std::to_string(sizes.at(largest))};
  ASSERT_FALSE(a.Start().empty()) << a.log();
  ASSERT_TRUE(a.AwaitEvents("split", 1, absl::Seconds(60))) << a.log();
  nlohmann::json asked, split;
  for (const nlohmann::json& e : a.Events()) {
    if (e.value("event", "") == "split-requested" && asked.is_null()) asked = e;
    if (e.value("event", "") == "split" && split.is_null()) split = e;
  }
  EXPECT_EQ(asked.value("cell", 99u), largest) << a.log();
  EXPECT_THAT(asked.value("reason", ""), ::testing::HasSubstr("--split-bytes"));
  EXPECT_EQ(split["cells"], nlohmann::json({largest})) << a.log();
  const CellMap map = EtcdMap(cluster.coord());
  EXPECT_FALSE(map.IndexOf(largest));
  for (const nlohmann::json& child : split["children"]) {
    EXPECT_TRUE(map.IndexOf(child.get<uint32_t>())) << child;
  }
  ClusterClientOptions cco;
  cco.etcd_endpoints = {etcd.endpoint()};
  ExpectEveryRecord(**ClusterClient::Connect(cco), want);
  // etcd loses the map (restored from an old snapshot, say): the
  // controller publishes the one it serves again.
  ASSERT_TRUE(cluster.etcd().Delete(cluster.coord().prefix() + "map").ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (cluster.coord().ReadMap()->revision == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));  // polling etcd; the deadline bounds it
  }
  const CellMap again = EtcdMap(cluster.coord());
  EXPECT_EQ(again.index_id(), map.index_id()) << a.log();
  EXPECT_GE(again.epoch(), map.epoch());
  EXPECT_TRUE(WIFEXITED(a.process().Terminate()));
}

// With --merge-bytes the controller asks for the merge of neighbours
// that are small together, bringing them to one host first; merges go on
// while the merged cells stay under it.
TEST(HostTest, TheControllerMergesSmallNeighbours) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = testing::PopulateFourCells(dir);
  testing::EtcdServer etcd(dir.path());
  ASSERT_TRUE(etcd.Start().ok());
  Cluster cluster(etcd.endpoint());
  Host a(dir, "a", etcd.endpoint()), b(dir, "b", etcd.endpoint());
  a.extra_args = b.extra_args = {"--merge-bytes", std::to_string(uint64_t{1} << 30)};
  ASSERT_FALSE(a.Start().empty()) << a.log();
  ASSERT_FALSE(b.Start().empty()) << b.log();
  // Down to at most two cells: at least two merges.
  auto cells = [&]() -> size_t {
    absl::StatusOr<Versioned> v = cluster.coord().ReadMap();
    if (!v.ok() || v->revision == 0) return 4;  // not published yet
    absl::StatusOr<CellMap> map = CellMap::Decode(v->value);
    return map.ok() ? map->cells().size() : 4;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (cells() > 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));  // polling etcd; the deadline bounds it
  }
  ASSERT_LE(cells(), 2u) << a.log() << b.log();
  Host& controller = a.CountEvents("assigned") > 0 ? a : b;
  EXPECT_GE(controller.CountEvents("merge-requested"), 2u) << controller.log();
  // (Said once the host has taken the outcome, a pass after the commit.)
  const absl::Time said = absl::Now() + absl::Seconds(10);
  while (a.CountEvents("merged") + b.CountEvents("merged") < 2 && absl::Now() < said) {
    absl::SleepFor(absl::Milliseconds(20));  // polling the logs; the deadline bounds it
  }
  EXPECT_GE(a.CountEvents("merged") + b.CountEvents("merged"), 2u);
  ClusterClientOptions cco;
  cco.etcd_endpoints = {etcd.endpoint()};
  cco.deadline = absl::Seconds(30);
  ExpectEveryRecord(**ClusterClient::Connect(cco), want);
  EXPECT_TRUE(WIFEXITED(a.process().Terminate()));
  EXPECT_TRUE(WIFEXITED(b.process().Terminate()));
}

TEST(HostTest, AHostFrozenPastItsLeaseAcknowledgesNothingWhenItWakes) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = testing::PopulateFourCells(dir);
  testing::EtcdServer etcd(dir.path());
  ASSERT_TRUE(etcd.Start().ok());
  Host a(dir, "a", etcd.endpoint());
  ASSERT_FALSE(a.Start().empty()) << a.log();
  Cluster cluster(etcd.endpoint());
  ASSERT_EQ(cluster.AwaitOwners({"a"}, absl::Seconds(30)).size(), 4u) << a.log();
  // Acknowledged by a while it owns every cell (b's arrival moves some).
  Client* frozen = cluster.ClientFor(a.address());
  ASSERT_TRUE(frozen->Put({"bucket", Key(10)}, testing::Rec(777)).ok());
  want[Key(10)] = *frozen->Get({"bucket", Key(10)});
  Host b(dir, "b", etcd.endpoint());
  ASSERT_FALSE(b.Start().empty()) << b.log();

  ASSERT_TRUE(a.process().Stop());
  ASSERT_EQ(cluster.AwaitOwners({"b"}, absl::Seconds(30)).size(), 4u) << b.log();
  Client* owner = cluster.ClientFor(b.address());
  ExpectEveryRecord(*owner, want);
  ASSERT_TRUE(owner->Put({"bucket", Key(11)}, testing::Rec(888)).ok());
  want[Key(11)] = *owner->Get({"bucket", Key(11)});

  // Woken, the old owner must not acknowledge a write nor answer a read:
  // its view of the lease ended before etcd expired it.
  a.process().Signal(SIGCONT);
  ClientOptions quick;
  quick.deadline = absl::Seconds(1);
  std::unique_ptr<Client> late = *Client::Connect(a.address(), quick);
  absl::StatusOr<uint64_t> put = late->Put({"bucket", Key(12)}, testing::Rec(999));
  EXPECT_FALSE(put.ok());
  EXPECT_FALSE(late->Get({"bucket", Key(10)}).ok());
  // Its keeper finds the lease gone: it exits at once, without closing.
  int status = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!a.process().Exited(&status) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));  // polling for its exit; the deadline bounds it
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status << a.log();
  EXPECT_THAT(a.log(), ::testing::HasSubstr("lease is gone"));
  // Nothing it wrote is read: the new owner, and one after it, read exactly
  // what was acknowledged.
  ExpectEveryRecord(*owner, want);
  ASSERT_TRUE(WIFEXITED(b.process().Terminate()));
  Host c(dir, "c", etcd.endpoint());
  ASSERT_FALSE(c.Start().empty()) << c.log();
  ASSERT_EQ(cluster.AwaitOwners({"c"}, absl::Seconds(30)).size(), 4u) << c.log();
  ExpectEveryRecord(*cluster.ClientFor(c.address()), want);
  EXPECT_TRUE(WIFEXITED(c.process().Terminate()));
}

// etcd killed and restarted while the hosts take writes: each host serves
// what it owns while its lease holds (no renewal reaches etcd), and after
// the restart both carry on with the same cells, owners and epochs.
TEST(HostTest, EtcdRestartedUnderLoadTheHostsServeOnAndCarryOn) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = testing::PopulateFourCells(dir);
  testing::EtcdServer etcd(dir.path());
  ASSERT_TRUE(etcd.Start().ok());
  constexpr int kTtl = 6;  // the view lasts 4.8 s after the last renewal
  Host a(dir, "a", etcd.endpoint(), kTtl), b(dir, "b", etcd.endpoint(), kTtl);
  ASSERT_FALSE(a.Start().empty()) << a.log();
  ASSERT_FALSE(b.Start().empty()) << b.log();
  Cluster cluster(etcd.endpoint());
  const std::map<uint32_t, CellOwner> before = cluster.AwaitTwoEach(absl::Seconds(30));
  ASSERT_EQ(before.size(), 4u) << a.log() << b.log();
  absl::StatusOr<RemoteCellMap> map = cluster.ClientFor(a.address())->CellMap();
  ASSERT_TRUE(map.ok()) << map.status();
  std::map<std::string, Client*> route;
  for (int i = 0; i < 100; i += 5) route[Key(i)] = cluster.Route(Key(i), map->cells);

  etcd.Kill();
  // Writes and reads go on at both hosts while etcd is away: for 3 s, past
  // a renewal (every TTL / 3) that fails, within the lease's view.
  const absl::Time down = absl::Now();
  std::set<Client*> hosts_written;
  int writes = 0;
  while (absl::Now() - down < absl::Seconds(3)) {
    for (const auto& [key, owner] : route) {
      ASSERT_NE(owner, nullptr) << key;
      absl::StatusOr<uint64_t> v = owner->Put({"bucket", key}, testing::Rec(6000 + writes++));
      ASSERT_TRUE(v.ok()) << key << ": " << v.status() << a.log() << b.log();
      absl::StatusOr<ObjectRecord> r = owner->Get({"bucket", key});
      ASSERT_TRUE(r.ok()) << key << ": " << r.status();
      want[key] = *r;
      hosts_written.insert(owner);
    }
  }
  EXPECT_EQ(hosts_written.size(), 2u);
  ASSERT_TRUE(etcd.Start().ok());

  // Both hosts are alive and hold the same cells under the same epochs.
  int status = 0;
  EXPECT_FALSE(a.process().Exited(&status)) << status << a.log();
  EXPECT_FALSE(b.process().Exited(&status)) << status << b.log();
  absl::StatusOr<std::map<uint32_t, CellOwner>> after = cluster.coord().Owners();
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->size(), 4u);
  for (const auto& [cell, owner] : before) {
    EXPECT_EQ(after->at(cell).host, owner.host) << cell;
    EXPECT_EQ(after->at(cell).epoch, owner.epoch) << cell;
  }
  EXPECT_EQ(cluster.coord().Hosts()->size(), 2u);
  // And they carry on: writes through the cluster client, every record.
  ClusterClientOptions cco;
  cco.etcd_endpoints = {etcd.endpoint()};
  std::unique_ptr<ClusterClient> routed = *ClusterClient::Connect(cco);
  for (int i = 1; i < 100; i += 7) {
    absl::StatusOr<uint64_t> put = routed->Put({"bucket", Key(i)}, testing::Rec(8000 + i));
    ASSERT_TRUE(put.ok()) << Key(i) << ": " << put.status() << a.log() << b.log();
    want[Key(i)] = *routed->Get({"bucket", Key(i)});
  }
  ExpectEveryRecord(*routed, want);
  EXPECT_EQ(WEXITSTATUS(a.process().Terminate()), 0) << a.log();
  EXPECT_EQ(WEXITSTATUS(b.process().Terminate()), 0) << b.log();
}

// Bad flags are refused before etcd is asked or a directory made: one
// stderr line each, exit code 2.
TEST(HostTest, BadFlagsAreRefusedWithOneLine) {
  testing::ScratchDir dir;
  const std::string data = dir / "data", store = dir / "store";
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<std::string> good = {"--name", "a", "--etcd", "127.0.0.1:1", "--listen",
                                         "127.0.0.1:0"};
  auto with = [&](const std::string& flag, const std::string& value) {
    std::vector<std::string> args = good;
    bool replaced = false;
    for (size_t i = 0; i + 1 < args.size(); i += 2) {
      if (args[i] == flag) args[i + 1] = value, replaced = true;
    }
    if (!replaced) args.insert(args.end(), {flag, value});
    return args;
  };
  const std::vector<Case> cases = {
      {with("--name", "a/b"), "invalid host name"},
      {with("--name", ""), "invalid host name"},
      {with("--cluster-name", "x y"), "invalid cluster name"},
      {with("--lease-ttl", "0"), "--lease-ttl"},
      {with("--lease-ttl", "61"), "--lease-ttl"},
      {with("--lease-ttl", "3s"), "--lease-ttl"},
      {with("--listen", "nowhere"), "nowhere"},
      {with("--etcd", "127.0.0.1:99999"), "99999"},
      {with("--etcd", ""), "etcd"},
      {with("--split-bytes", "-1"), "--split-bytes"},
      {with("--split-bytes", "1MB"), "--split-bytes"},
      {[&] {
         std::vector<std::string> args = with("--split-bytes", "1000");
         args.insert(args.end(), {"--merge-bytes", "251"});
         return args;
       }(),
       "more than a quarter of --split-bytes"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {CELLINDEX_CLI_PATH, "--data", data, "--store", store,
                                     "host"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    testing::ProcessResult r = testing::RunProcess(args, dir.path(), 30);
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_THAT(r.err, ::testing::HasSubstr(c.says));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(PathExists(store)) << "refused, yet the store was made";
  }
  // Without --store: there is no shared store to serve.
  testing::ProcessResult r = testing::RunProcess(
      {CELLINDEX_CLI_PATH, "--data", data, "host", "--name", "a", "--etcd", "127.0.0.1:1",
       "--listen", "127.0.0.1:0"},
      dir.path(), 30);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("--store is required"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// Processes whose command line names `path`: what a drill there left running.
std::vector<std::string> ProcessesNaming(const std::string& path) {
  std::vector<std::string> found;
  for (const std::filesystem::directory_entry& e : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = e.path().filename();
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit)) continue;
    std::string cmdline = testing::ReadWholeFile(e.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (absl::StrContains(cmdline, path)) found.push_back(pid + ": " + cmdline);
  }
  return found;
}

// The drill with real processes: etcd and three hosts, a load through the
// cluster client, one host SIGKILLed under it. The other cells answer every
// request, the lost ones come back, nothing acknowledged is lost, and
// nothing it started is left running.
TEST(HostTest, TheProcessDrillKillsAHostUnderLoadAndLosesNothing) {
  testing::ScratchDir dir;
  const std::string data = dir / "data";
  testing::ProcessResult r = testing::RunProcess(
      {CELLINDEX_CLI_PATH, "--data", data, "--json", "drill", "--processes", "--objects", "20000",
       "--cells", "6", "--hosts", "3", "--lease-ttl", "2", "--before", "1", "--after", "1",
       "--writers", "2", "--readers", "1"},
      dir.path(), 240);
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["hosts"], 3);
  EXPECT_NE(j["killed_host"], "h0") << "the first host is the controller";
  ASSERT_FALSE(j["lost_cells"].empty());
  const double detection = j["kill_to_detection_seconds"];
  const double claim = j["kill_to_claim_seconds"];
  const double full = j["kill_to_full_availability_seconds"];
  EXPECT_GT(detection, 0);
  EXPECT_LE(detection, claim);
  EXPECT_LE(claim, full);
  const double restore_median = j["restore_seconds_median"];
  const double restore_max = j["restore_seconds_max"];
  EXPECT_GE(restore_median, 0);
  EXPECT_LE(restore_median, restore_max);
  EXPECT_LE(restore_max, full - detection);
  EXPECT_EQ(j["kill_to_cell_serving_seconds"].size(), j["lost_cells"].size());
  const nlohmann::json& other = j["requests"]["unaffected_cells"];
  EXPECT_GT(other["total"].get<uint64_t>(), 0u);
  EXPECT_EQ(other["failed"], 0);
  EXPECT_GT(j["requests"]["lost_cells"]["total"].get<uint64_t>(), 0u);
  EXPECT_GT(j["writes_acknowledged"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["acknowledged_writes_checked"], j["writes_acknowledged"]);
  EXPECT_EQ(j["acknowledged_writes_lost"], 0);
  EXPECT_EQ(j["unreadable_at_verify"], 0);
  EXPECT_EQ(j["loaded_objects_checked"], 20000);
  EXPECT_EQ(j["loaded_objects_wrong"], 0);
  EXPECT_EQ(j["wrong_reads"], 0);
  EXPECT_EQ(j["hosts_stopped_uncleanly"], 0);
  EXPECT_THAT(ProcessesNaming(data), ::testing::IsEmpty());
}

// What applies to the in-process drill only, or makes no drill, is refused
// with one line and exit code 2 before anything starts.
TEST(HostTest, TheProcessDrillRefusesWhatDoesNotApply) {
  testing::ScratchDir dir;
  const std::string data = dir / "data";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--processes", "--lose", "2"}, "--lose does not apply"},
      {{"--processes", "--split-keys", "10"}, "--split-keys does not apply"},
      {{"--processes", "--hosts", "1"}, "--hosts 2 or more"},
      {{"--processes", "--hosts", "4", "--cells", "3"}, "at least --hosts"},
      {{"--processes", "--lease-ttl", "1.5"}, "whole seconds"},
      {{"--processes", "--lease-ttl", "0"}, "--lease-ttl"},
      {{"--lease-ttl", "2"}, "apply to drill --processes only"},
      {{"--etcd-binary", "/bin/true"}, "apply to drill --processes only"},
  };
  for (const auto& [flags, says] : cases) {
    std::vector<std::string> args = {CELLINDEX_CLI_PATH, "--data", data, "drill"};
    args.insert(args.end(), flags.begin(), flags.end());
    testing::ProcessResult r = testing::RunProcess(args, dir.path(), 30);
    SCOPED_TRACE(absl::StrJoin(flags, " "));
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_THAT(r.err, ::testing::HasSubstr(says));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(PathExists(data + "/drill-processes")) << "refused, yet it started";
  }
  // An etcd that does not start: a clear error, nothing left running.
  testing::ProcessResult r = testing::RunProcess(
      {CELLINDEX_CLI_PATH, "--data", data, "drill", "--processes", "--objects", "100", "--cells",
       "2", "--hosts", "2", "--etcd-binary", "/nonexistent/etcd"},
      dir.path(), 120);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, ::testing::HasSubstr("etcd"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_THAT(ProcessesNaming(data), ::testing::IsEmpty());
}

}  // namespace
}  // namespace cellindex
