// Rebalancing cells onto added hosts: the plan stays within each pool and
// its per-host limits and is refused while a cell is unhealthy; carried out,
// it moves one cell at a time at its pace, under a running load, losing no
// acknowledged write and failing no request; a SIGKILL during a move leaves
// every cell on exactly one host after the restart.
#include <signal.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "index/internal_options.h"
#include "nlohmann/json.hpp"
#include "recovery/capacity_guard.h"
#include "tests/background_load.h"
#include "tests/four_cells.h"
#include "tests/process_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;

// ---- The plan -------------------------------------------------------------

// A map of cells placed as `hosts` says (one entry per cell) and each
// cell's bytes (100 * (id + 1)).
struct Layout {
  CellMap map;
  std::vector<CellLoad> loads;
};

Layout MakeLayout(const std::vector<std::string>& hosts) {
  std::vector<std::string> boundaries;
  for (size_t i = 1; i < hosts.size(); ++i) boundaries.push_back(absl::StrFormat("b%03d", i));
  Layout l;
  l.map = *CellMap::FromBoundaries(boundaries);
  for (size_t i = 0; i < hosts.size(); ++i) {
    l.map.MoveCell(i, hosts[i]);
    CellLoad load;
    load.bytes = 100 * (i + 1);
    l.loads.push_back(load);
  }
  return l;
}

Inventory HostsAndPools(const std::vector<std::string>& hosts, std::vector<Pool> pools) {
  Inventory inv;
  for (const std::string& h : hosts) inv.hosts[h] = "/hosts/" + h;
  for (Pool& p : pools) inv.SetPool(std::move(p));
  return inv;
}

// Cells per host once the plan's moves are made.
std::map<std::string, int> CellsAfter(const Layout& l, const RebalancePlan& plan) {
  std::map<std::string, std::string> host_of;
  for (const CellRange& c : l.map.cells()) host_of[absl::StrCat(c.id)] = c.host;
  for (const CellMove& m : plan.moves) {
    EXPECT_EQ(host_of[absl::StrCat(m.cell)], m.from) << "cell " << m.cell;
    host_of[absl::StrCat(m.cell)] = m.to;
  }
  std::map<std::string, int> out;
  for (const auto& [cell, host] : host_of) ++out[host];
  return out;
}

RebalanceRequest Plan() {
  RebalanceRequest r;
  r.pause = absl::ZeroDuration();
  return r;
}

TEST(RebalancePlanTest, BalancesEachPoolAndNeverCrossesPools) {
  // Pool a: a1 5 cells, a2 1, a3 none (just added). Default: b1 4, b2 none.
  // Pool c: c1, empty, must take nothing from the others.
  Layout l = MakeLayout({"a1", "a1", "a1", "a1", "a1", "a2", "b1", "b1", "b1", "b1"});
  Inventory inv = HostsAndPools({"a1", "a2", "a3", "b1", "b2", "c1"},
                                {{"a", {"a1", "a2", "a3"}}, {"c", {"c1"}}});
  absl::StatusOr<RebalancePlan> plan = PlanRebalance(l.map, inv, l.loads, Plan());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->refusal, RemovalRefusal::kNone);
  std::map<std::string, int> after = CellsAfter(l, *plan);
  EXPECT_EQ(after["a1"], 2);
  EXPECT_EQ(after["a2"], 2);
  EXPECT_EQ(after["a3"], 2);
  EXPECT_EQ(after["b1"], 2);
  EXPECT_EQ(after["b2"], 2);
  EXPECT_EQ(after["c1"], 0);
  ASSERT_EQ(plan->moves.size(), 5u);
  for (size_t k = 0; k < plan->moves.size(); ++k) {
    const CellMove& m = plan->moves[k];
    EXPECT_EQ(m.step, k);
    EXPECT_EQ(inv.PoolOf(m.from), inv.PoolOf(m.to)) << "cell " << m.cell;
  }
  // The first move: from the fullest host (a1) to the emptiest (a3), its
  // smallest cell (cell 0, 100 bytes).
  EXPECT_EQ(plan->moves[0].from, "a1");
  EXPECT_EQ(plan->moves[0].to, "a3");
  EXPECT_EQ(plan->moves[0].cell, 0u);
  EXPECT_EQ(plan->moves[0].bytes, 100u);
}

TEST(RebalancePlanTest, ABalancedIndexMovesNothing) {
  Layout l = MakeLayout({"h1", "h2", "h3", "h1", "h2"});
  absl::StatusOr<RebalancePlan> plan =
      PlanRebalance(l.map, HostsAndPools({"h1", "h2", "h3"}, {}), l.loads, Plan());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->moves.empty());
}

TEST(RebalancePlanTest, KeepsToPerHostLimitsAndMaxMoves) {
  // h1 holds cells 0-4 (100 to 500 bytes), h2 cell 5 (600), h3 nothing.
  // Unlimited, they would end two a host.
  Layout l = MakeLayout({"h1", "h1", "h1", "h1", "h1", "h2"});
  const std::vector<std::string> hosts = {"h1", "h2", "h3"};
  absl::StatusOr<RebalancePlan> plan =
      PlanRebalance(l.map, HostsAndPools(hosts, {}), l.loads, Plan());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(CellsAfter(l, *plan),
              ::testing::ElementsAre(::testing::Pair("h1", 2), ::testing::Pair("h2", 2),
                                     ::testing::Pair("h3", 2)));

  // One cell a host: h2 is full; h3 takes one.
  Pool cells_limit{"p", hosts};
  cells_limit.max_cells_per_host = 1;
  plan = PlanRebalance(l.map, HostsAndPools(hosts, {cells_limit}), l.loads, Plan());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(CellsAfter(l, *plan),
              ::testing::ElementsAre(::testing::Pair("h1", 4), ::testing::Pair("h2", 1),
                                     ::testing::Pair("h3", 1)));

  // 800 bytes a host: h3 takes the two smallest cells (0 and 1, 300 bytes);
  // h2 (600) has no room for any of h1's others (300 and up).
  Pool bytes_limit{"p", hosts};
  bytes_limit.max_bytes_per_host = 800;
  plan = PlanRebalance(l.map, HostsAndPools(hosts, {bytes_limit}), l.loads, Plan());
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->moves.size(), 2u);
  EXPECT_EQ(plan->moves[0].cell, 0u);
  EXPECT_EQ(plan->moves[0].to, "h3");
  EXPECT_EQ(plan->moves[1].cell, 1u);
  EXPECT_EQ(plan->moves[1].to, "h3");

  // max_moves caps the plan.
  RebalanceRequest one = Plan();
  one.max_moves = 1;
  plan = PlanRebalance(l.map, HostsAndPools(hosts, {}), l.loads, one);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->moves.size(), 1u);
}

TEST(RebalancePlanTest, TriesTheNextDonorWhenTheFullestHasNothingThatFits) {
  // a: three 500-byte cells, b: three 100-byte cells, c: none; 400 bytes a
  // host. Nothing of a fits anywhere, but b can give c a cell.
  Layout l = MakeLayout({"a", "a", "a", "b", "b", "b"});
  for (size_t i = 0; i < 6; ++i) l.loads[i].bytes = i < 3 ? 500 : 100;
  Pool p{"p", {"a", "b", "c"}};
  p.max_bytes_per_host = 400;
  absl::StatusOr<RebalancePlan> plan =
      PlanRebalance(l.map, HostsAndPools({"a", "b", "c"}, {p}), l.loads, Plan());
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->moves.size(), 1u);
  EXPECT_EQ(plan->moves[0].from, "b");
  EXPECT_EQ(plan->moves[0].to, "c");
}

TEST(RebalancePlanTest, OnlyThePoolAskedFor) {
  Layout l = MakeLayout({"a1", "a1", "a1", "a1", "b1", "b1", "b1", "b1"});
  const Inventory inv =
      HostsAndPools({"a1", "a2", "b1", "b2"}, {{"a", {"a1", "a2"}}, {"b", {"b1", "b2"}}});
  RebalanceRequest only_b = Plan();
  only_b.pool = "b";
  absl::StatusOr<RebalancePlan> plan = PlanRebalance(l.map, inv, l.loads, only_b);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->moves.size(), 2u);
  for (const CellMove& m : plan->moves) EXPECT_EQ(m.to, "b2");
  only_b.pool = "c";
  EXPECT_TRUE(absl::IsInvalidArgument(PlanRebalance(l.map, inv, l.loads, only_b).status()));
}

TEST(RebalancePlanTest, RefusesWhileACellIsUnhealthyAndRejectsBadRequests) {
  Layout l = MakeLayout({"h1", "h1", "h1", "h1"});
  l.loads[2].healthy = false;
  l.loads[2].condition = "replaying";
  const Inventory inv = HostsAndPools({"h1", "h2"}, {});
  absl::StatusOr<RebalancePlan> plan = PlanRebalance(l.map, inv, l.loads, Plan());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->refusal, RemovalRefusal::kUnhealthyCell);
  EXPECT_THAT(plan->reason, HasSubstr("cell 2 is not healthy (replaying)"));
  EXPECT_TRUE(plan->moves.empty());

  l.loads[2].healthy = true;
  RebalanceRequest bad = Plan();
  bad.pause = absl::Seconds(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(PlanRebalance(l.map, inv, l.loads, bad).status()));
  bad = Plan();
  bad.health_wait = absl::Seconds(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(PlanRebalance(l.map, inv, l.loads, bad).status()));
}

// ---- Carried out ----------------------------------------------------------

// Eight cells over k000..k099 on h1 and h2 (four each).
Options EightCellsOnTwoHosts(const testing::ScratchDir& dir, bool with_hosts = true) {
  Options o = testing::FourCells(dir);
  o.cell_boundaries.clear();
  for (int b : {12, 25, 37, 50, 62, 75, 87}) {
    o.cell_boundaries.push_back(EncodeKey({"bucket", testing::Key(b)}));
  }
  if (with_hosts) {
    for (const char* h : {"h1", "h2"}) o.host_dirs[h] = dir / absl::StrCat("hosts/", h);
  }
  return o;
}

std::map<std::string, int> CellsPerHost(const CellMap& map) {
  std::map<std::string, int> out;
  for (const CellRange& c : map.cells()) ++out[c.host];
  return out;
}

// Which hosts hold a directory for each cell.
std::map<CellId, std::set<std::string>> CellDirs(const testing::ScratchDir& dir) {
  std::map<CellId, std::set<std::string>> out;
  for (const auto& host : std::filesystem::directory_iterator(dir / "hosts")) {
    if (!std::filesystem::exists(host.path() / "cells")) continue;
    for (const auto& e : std::filesystem::directory_iterator(host.path() / "cells")) {
      const std::string name = e.path().filename().string();
      if (name.size() == 5) {
        out[static_cast<CellId>(std::stoul(name))].insert(host.path().filename().string());
      }
    }
  }
  return out;
}

TEST(RebalanceTest, AddedHostsTakeCellsOneAtATimeUnderLoad) {
  testing::ScratchDir dir;
  // Each move's start and end, from the move hook.
  absl::Mutex mu;
  std::vector<std::pair<MoveEvent, absl::Time>> events;
  // At each move's start: whether the cell moved before it had passed its
  // deep validation on the target.
  std::vector<std::string> unvalidated;
  std::optional<CellId> last_moved;
  Index* index_ptr = nullptr;
  InternalOptions in;
  in.move_hook = [&](uint32_t cell, MoveEvent e) {
    absl::MutexLock lock(&mu);
    events.emplace_back(e, absl::Now());
    if (e == MoveEvent::kStart && last_moved) {
      const CellStats st = index_ptr->Stats().cells[*last_moved];
      if (st.validation != ValidationState::kOk) {
        unvalidated.push_back(
            absl::StrCat("cell ", *last_moved, " was ", ValidationStateName(st.validation)));
      }
    }
    if (e == MoveEvent::kStart) last_moved = cell;
  };
  Options o = EightCellsOnTwoHosts(dir);
  o.validate_after_recovery = true;
  auto opened = OpenIndex(o, in);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Index& index = **opened;
  index_ptr = &index;
  index.WaitForRecovery();
  const std::map<std::string, std::optional<ObjectRecord>> want = testing::Populate(index);
  ASSERT_TRUE(index.AddHost("h3", dir / "hosts/h3").ok());
  ASSERT_TRUE(index.AddHost("h4", dir / "hosts/h4").ok());

  // The dry run: four moves planned, nothing changed.
  const CellMap before = index.cell_map();
  RebalanceRequest request;
  request.pause = absl::Milliseconds(100);
  request.user = "rebalance_test";
  absl::StatusOr<RebalancePlan> dry = index.Rebalance(request);
  ASSERT_TRUE(dry.ok()) << dry.status();
  ASSERT_EQ(dry->refusal, RemovalRefusal::kNone) << dry->reason;
  EXPECT_FALSE(dry->executed);
  ASSERT_EQ(dry->moves.size(), 4u);
  EXPECT_EQ(index.cell_map().Encode(), before.Encode());
  std::set<CellId> moving;
  for (const CellMove& m : dry->moves) moving.insert(m.cell);

  testing::BackgroundLoad load(index, moving);
  ASSERT_TRUE(load.WaitForMore(200));
  request.execute = true;
  absl::StatusOr<RebalancePlan> plan = index.Rebalance(request);
  ASSERT_TRUE(load.WaitForMore(200));
  ASSERT_TRUE(load.WaitForAcked(101));  // enough writes to read back
  load.Stop();
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->refusal, RemovalRefusal::kNone) << plan->reason;
  ASSERT_TRUE(plan->executed);
  EXPECT_EQ(plan->unavailable.size(), 4u);
  EXPECT_TRUE(plan->error.empty()) << plan->error;
  // Requests to the cells that stayed all succeeded; those to the moving
  // cells were held, not failed; every acknowledged write reads back.
  EXPECT_EQ(load.staying_errors(), 0) << load.first_error();
  EXPECT_EQ(load.moving_errors(), 0) << load.first_error();
  EXPECT_GT(load.ExpectAllAckedReadBack(), 100u);
  testing::ExpectExactly(index, want);

  // Balanced: two cells a host, each cell's state on its host only.
  const CellMap after = index.cell_map();
  EXPECT_THAT(CellsPerHost(after),
              ::testing::ElementsAre(::testing::Pair("h1", 2), ::testing::Pair("h2", 2),
                                     ::testing::Pair("h3", 2), ::testing::Pair("h4", 2)));
  EXPECT_EQ(after.epoch(), before.epoch() + 4);
  for (const CellRange& c : after.cells()) {
    EXPECT_THAT(CellDirs(dir)[c.id], ::testing::ElementsAre(c.host)) << "cell " << c.id;
  }
  // One at a time, at the pace: each move ends (serving on its target)
  // before the next starts, and the pause lies between them.
  {
    absl::MutexLock lock(&mu);
    ASSERT_EQ(events.size(), 12u);  // start, before the switch, after the open
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_EQ(events[3 * k].first, MoveEvent::kStart);
      EXPECT_EQ(events[3 * k + 2].first, MoveEvent::kAfterOpen);
      if (k > 0) EXPECT_GE(events[3 * k].second - events[3 * k - 1].second, request.pause);
    }
    EXPECT_THAT(unvalidated, ::testing::IsEmpty());
  }
  // Audited: the plan, each move, the end.
  absl::StatusOr<std::vector<std::string>> audit = index.AuditLog();
  ASSERT_TRUE(audit.ok());
  int steps = 0;
  std::vector<std::string> ops;
  for (const std::string& line : *audit) {
    nlohmann::json j = nlohmann::json::parse(line);
    ops.push_back(j["op"]);
    if (j["op"] == "rebalance-step") {
      ++steps;
      EXPECT_EQ(j["outcome"], "done");
      EXPECT_EQ(j["user"], "rebalance_test");
    }
  }
  EXPECT_EQ(steps, 4);
  EXPECT_EQ(ops.back(), "rebalance-done");

  // Balanced now: another rebalance has nothing to do.
  absl::StatusOr<RebalancePlan> again = index.Rebalance(request);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->moves.empty());
}

TEST(RebalanceTest, AHostLostDuringThePauseGoesAheadAndStopsTheRebalance) {
  testing::ScratchDir dir;
  absl::Notification first_moved;
  InternalOptions in;
  in.move_hook = [&](uint32_t, MoveEvent e) {
    if (e == MoveEvent::kAfterOpen && !first_moved.HasBeenNotified()) first_moved.Notify();
  };
  auto opened = OpenIndex(EightCellsOnTwoHosts(dir), in);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Index& index = **opened;
  const std::map<std::string, std::optional<ObjectRecord>> want = testing::Populate(index);
  ASSERT_TRUE(index.AddHost("h3", dir / "hosts/h3").ok());
  ASSERT_TRUE(index.AddHost("h4", dir / "hosts/h4").ok());

  // An hour between moves: the loss must not wait for it.
  RebalanceRequest request;
  request.pause = absl::Hours(1);
  request.execute = true;
  absl::StatusOr<RebalancePlan> plan;
  std::thread rebalance([&] { plan = index.Rebalance(request); });
  first_moved.WaitForNotification();
  absl::StatusOr<std::vector<CellId>> lost = index.LoseHost("h2");
  rebalance.join();
  ASSERT_TRUE(lost.ok()) << lost.status();
  ASSERT_TRUE(absl::IsAborted(plan.status())) << plan.status();
  EXPECT_THAT(plan.status().message(), HasSubstr("changed since the plan was made"));
  index.WaitForRecovery();
  testing::ExpectExactly(index, want);
  const CellMap map = index.cell_map();
  for (const CellRange& c : map.cells()) {
    EXPECT_NE(c.host, "h2");
    EXPECT_THAT(CellDirs(dir)[c.id], ::testing::ElementsAre(c.host)) << "cell " << c.id;
  }
  // Planned again, it completes (the lost host's cells spread too).
  request.pause = absl::ZeroDuration();
  plan = index.Rebalance(request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(CellsPerHost(index.cell_map()),
              ::testing::UnorderedElementsAre(::testing::Pair("h1", ::testing::Ge(2)),
                                              ::testing::Pair("h3", ::testing::Ge(2)),
                                              ::testing::Pair("h4", ::testing::Ge(2))));
}

// Where the child kills itself: a move event of the n-th move, or a
// recovery event of the moved cell on its target.
struct KillPoint {
  std::string name;
  int move = -1;      // a MoveEvent, or -1
  int recovery = -1;  // a RecoveryEvent, or -1
  int nth = 0;        // which move (0: the first)
};

std::vector<KillPoint> KillPoints() {
  auto m = [](MoveEvent e) { return static_cast<int>(e); };
  auto r = [](RecoveryEvent e) { return static_cast<int>(e); };
  return {
      {"first move: held, before the switch", m(MoveEvent::kBeforeSwitch), -1, 0},
      {"first move: switched, replaying on the target", -1, r(RecoveryEvent::kReplay), 0},
      {"second move: start, after the first and its pause", m(MoveEvent::kStart), -1, 1},
      {"third move: switched, opening on the target", -1, r(RecoveryEvent::kOpen), 2},
  };
}

// Run only as the child of the test below: rebalances the index in
// $REBALANCE_DIR and SIGKILLs itself at kill point $REBALANCE_KILL_POINT.
TEST(RebalanceTest, DISABLED_ChildRebalancesUntilKilled) {
  const char* dir_env = std::getenv("REBALANCE_DIR");
  const char* point_env = std::getenv("REBALANCE_KILL_POINT");
  ASSERT_TRUE(dir_env != nullptr && point_env != nullptr);
  const KillPoint point = KillPoints().at(std::stoul(point_env));
  testing::ScratchDir unused;
  Options o = EightCellsOnTwoHosts(unused, /*with_hosts=*/false);
  o.data_dir = std::string(dir_env) + "/data";
  o.store_dir = std::string(dir_env) + "/store";
  InternalOptions in;
  std::atomic<int> started{-1};
  in.move_hook = [&](uint32_t, MoveEvent e) {
    if (e == MoveEvent::kStart) ++started;
    if (static_cast<int>(e) == point.move && started.load() == point.nth) ::raise(SIGKILL);
  };
  in.recovery_hook = [&](uint32_t, RecoveryEvent e) {
    if (static_cast<int>(e) == point.recovery && started.load() == point.nth) ::raise(SIGKILL);
  };
  auto index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok()) << index.status();
  RebalanceRequest request;
  request.pause = absl::Milliseconds(10);
  request.execute = true;
  absl::StatusOr<RebalancePlan> plan = (*index)->Rebalance(request);
  FAIL() << "the kill point never came: " << plan.status();
}

TEST(RebalanceTest, SigkillDuringAMoveLeavesEveryCellOnExactlyOneHost) {
  const std::vector<KillPoint> points = KillPoints();
  for (size_t p = 0; p < points.size(); ++p) {
    SCOPED_TRACE(points[p].name);
    testing::ScratchDir dir;
    std::map<std::string, std::optional<ObjectRecord>> want;
    {
      std::unique_ptr<Index> index = testing::OpenIndexOrFail(EightCellsOnTwoHosts(dir));
      ASSERT_NE(index, nullptr);
      want = testing::Populate(*index);
      ASSERT_TRUE(index->AddHost("h3", dir / "hosts/h3").ok());
      ASSERT_TRUE(index->AddHost("h4", dir / "hosts/h4").ok());
    }
    const int status = testing::RunChildTest(
        "RebalanceTest.DISABLED_ChildRebalancesUntilKilled",
        {{"REBALANCE_DIR", dir.path()}, {"REBALANCE_KILL_POINT", std::to_string(p)}});
    ASSERT_EQ(testing::KilledOrWhy(status), "") << "the child was not killed at its point";
    // Restart: every record right, each cell serving on the one host the
    // map names and held nowhere else.
    std::unique_ptr<Index> index =
        testing::OpenIndexOrFail(EightCellsOnTwoHosts(dir, /*with_hosts=*/false));
    ASSERT_NE(index, nullptr);
    testing::ExpectExactly(*index, want);
    const CellMap map = index->cell_map();
    std::map<CellId, std::set<std::string>> dirs = CellDirs(dir);
    for (const CellRange& c : map.cells()) {
      EXPECT_THAT(dirs[c.id], ::testing::ElementsAre(c.host)) << "cell " << c.id;
      EXPECT_EQ(index->Stats().cells[c.id].state, CellPhase::kServing) << "cell " << c.id;
    }
    // And the rebalance, run again, completes.
    RebalanceRequest request;
    request.pause = absl::ZeroDuration();
    request.execute = true;
    absl::StatusOr<RebalancePlan> again = index->Rebalance(request);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->refusal, RemovalRefusal::kNone) << again->reason;
    testing::ExpectExactly(*index, want);
    EXPECT_THAT(CellsPerHost(index->cell_map()),
                ::testing::ElementsAre(::testing::Pair("h1", 2), ::testing::Pair("h2", 2),
                                       ::testing::Pair("h3", 2), ::testing::Pair("h4", 2)));
  }
}

}  // namespace
}  // namespace cellindex
