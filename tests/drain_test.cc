// Draining hosts (Index::RemoveHosts with execute): under a running load no
// acknowledged write is lost and requests to cells that stay all succeed;
// each moved cell's window without service is reported beside the restore
// time of a lost host's cells in the same run; a SIGKILL at each moment of
// a drain leaves every cell on exactly one host after the restart.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "index/internal_options.h"
#include "tests/background_load.h"
#include "tests/four_cells.h"
#include "tests/process_util.h"

namespace cellindex {
namespace {

const char* const kHosts[] = {"h1", "h2", "h3"};

Options ThreeHosts(const testing::ScratchDir& dir) {
  Options o = testing::FourCells(dir);
  for (const char* h : kHosts) o.host_dirs[h] = dir / absl::StrCat("hosts/", h);
  return o;
}

HostRemoval Drain(std::vector<std::string> hosts) {
  HostRemoval r;
  r.hosts = std::move(hosts);
  r.max_fraction = 1;
  r.execute = true;
  r.user = "drain_test";
  return r;
}

// Which hosts hold a directory for each cell.
std::map<CellId, std::set<std::string>> CellDirs(const testing::ScratchDir& dir) {
  std::map<CellId, std::set<std::string>> out;
  for (const char* h : kHosts) {
    const std::filesystem::path cells = dir / absl::StrCat("hosts/", h, "/cells");
    if (!std::filesystem::exists(cells)) continue;
    for (const auto& e : std::filesystem::directory_iterator(cells)) {
      const std::string name = e.path().filename().string();
      if (name.size() == 5) out[static_cast<CellId>(std::stoul(name))].insert(h);
    }
  }
  return out;
}

absl::Duration Median(std::vector<absl::Duration> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? absl::ZeroDuration() : v[v.size() / 2];
}

TEST(DrainTest, UnderLoadLosesNoAcknowledgedWriteAndOtherCellsAllSucceed) {
  testing::ScratchDir dir;
  Options o = ThreeHosts(dir);
  std::unique_ptr<Index> index = testing::OpenIndexOrFail(o);
  ASSERT_NE(index, nullptr);
  testing::Populate(*index);
  const CellMap before = index->cell_map();
  std::set<CellId> moving;
  for (const CellRange& c : before.cells()) {
    if (c.host == "h1") moving.insert(c.id);
  }
  ASSERT_FALSE(moving.empty());

  testing::BackgroundLoad load(*index, moving);
  ASSERT_TRUE(load.WaitForMore(200));
  absl::StatusOr<RemovalPlan> plan = index->RemoveHosts(Drain({"h1"}));
  // Load on the new placement too, and enough writes to read back.
  ASSERT_TRUE(load.WaitForMore(200));
  ASSERT_TRUE(load.WaitForAcked(101));
  load.Stop();
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->refusal, RemovalRefusal::kNone) << plan->reason;
  ASSERT_TRUE(plan->executed);
  ASSERT_EQ(plan->step_reports.size(), 1u);
  EXPECT_TRUE(plan->step_reports[0].done) << plan->step_reports[0].error;
  EXPECT_EQ(plan->step_reports[0].unavailable.size(), moving.size());

  EXPECT_EQ(load.staying_errors(), 0) << load.first_error();
  // Requests to the moving cells were held, not failed.
  EXPECT_EQ(load.moving_errors(), 0) << load.first_error();
  // The hosts: h1 gone, its cells on the others, each cell in one place.
  const CellMap after = index->cell_map();
  EXPECT_GT(after.epoch(), before.epoch());
  for (const CellRange& c : after.cells()) EXPECT_NE(c.host, "h1") << "cell " << c.id;
  EXPECT_EQ(index->inventory().hosts.count("h1"), 0u);
  // Every acknowledged write reads back.
  EXPECT_GT(load.ExpectAllAckedReadBack(), 100u);

  // Against a loss in the same run: h2's cells restored from the store.
  std::vector<absl::Duration> windows = plan->step_reports[0].unavailable;
  absl::StatusOr<std::vector<CellId>> lost = index->LoseHost("h2");
  ASSERT_TRUE(lost.ok()) << lost.status();
  index->WaitForRecovery();
  std::vector<absl::Duration> restores;
  IndexStats stats = index->Stats();
  for (CellId id : *lost) restores.push_back(stats.cells[id].recovery.time_to_serve);
  const std::string figures = absl::StrFormat(
      "drain: %d cells, unavailable median %.2f ms, max %.2f ms; loss: %d cells, restore "
      "median %.2f ms, max %.2f ms",
      windows.size(), absl::ToDoubleMilliseconds(Median(windows)),
      absl::ToDoubleMilliseconds(*std::max_element(windows.begin(), windows.end())),
      restores.size(), absl::ToDoubleMilliseconds(Median(restores)),
      restores.empty() ? 0.0
                       : absl::ToDoubleMilliseconds(*std::max_element(restores.begin(), restores.end())));
  std::printf("%s\n", figures.c_str());
  ::testing::Test::RecordProperty("windows", figures);
  // The audit log has the plan, the step and the end.
  absl::StatusOr<std::vector<std::string>> audit = index->AuditLog();
  ASSERT_TRUE(audit.ok());
  std::string all = absl::StrJoin(*audit, "\n");
  EXPECT_THAT(all, ::testing::HasSubstr("\"op\":\"remove-hosts-step\""));
  EXPECT_THAT(all, ::testing::HasSubstr("\"op\":\"remove-hosts-done\",\"hosts\":[\"h1\"],\"outcome\":\"done\""));
  EXPECT_THAT(all, ::testing::HasSubstr("\"op\":\"lose-hosts\""));
  // The loss says how long it waited for a capacity change and took, in
  // parts.
  EXPECT_THAT(all, ::testing::ContainsRegex(
                       "\"op\":\"lose-hosts\",\"hosts\":\\[\"h2\"\\],"
                       "\"waited_ms\":[0-9.e-]+,\"took_ms\":[0-9.e-]+,\"took_parts_ms\":\\{"
                       "\"checking\":[0-9.e-]+,\"taking_over\":[0-9.e-]+,\"saving\":[0-9.e-]+,"
                       "\"removing\":[0-9.e-]+\\}"));
}

TEST(DrainTest, AddedHostTakesCellsAndSurvivesReopen) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want;
  {
    std::unique_ptr<Index> index = testing::OpenIndexOrFail(ThreeHosts(dir));
    ASSERT_NE(index, nullptr);
    want = testing::Populate(*index);
    EXPECT_TRUE(absl::IsInvalidArgument(index->AddHost("h2", dir / "hosts/h4")));
    EXPECT_TRUE(absl::IsInvalidArgument(index->AddHost("h4", dir / "store/inside")));
    ASSERT_TRUE(index->AddHost("h4", dir / "hosts/h4").ok());
    // Drain h1 onto the others (h4 the emptiest).
    absl::StatusOr<RemovalPlan> plan = index->RemoveHosts(Drain({"h1"}));
    ASSERT_TRUE(plan.ok()) << plan.status();
    ASSERT_EQ(plan->refusal, RemovalRefusal::kNone) << plan->reason;
    bool to_h4 = false;
    for (const CellMove& m : plan->moves) to_h4 |= m.to == "h4";
    EXPECT_TRUE(to_h4);
    testing::ExpectExactly(*index, want);
  }
  // Reopened without host options: the inventory's hosts (h2, h3, h4).
  Options o = testing::FourCells(dir);
  std::unique_ptr<Index> index = testing::OpenIndexOrFail(o);
  ASSERT_NE(index, nullptr);
  std::vector<std::string> hosts;
  for (const auto& [h, d] : index->inventory().hosts) hosts.push_back(h);
  EXPECT_THAT(hosts, ::testing::ElementsAre("h2", "h3", "h4"));
  testing::ExpectExactly(*index, want);
  for (const auto& [cell, holders] : CellDirs(dir)) EXPECT_EQ(holders.size(), 1u) << cell;
}

// Where the child kills itself: a move event of the n-th moved cell, or a
// recovery event of a moved cell on its target (after the map's switch).
struct KillPoint {
  std::string name;
  int move = -1;      // a MoveEvent, or -1
  int recovery = -1;  // a RecoveryEvent, or -1
  int nth = 0;        // which moved cell (0: the first)
};

std::vector<KillPoint> KillPoints() {
  auto m = [](MoveEvent e) { return static_cast<int>(e); };
  auto r = [](RecoveryEvent e) { return static_cast<int>(e); };
  return {
      {"first cell: start", m(MoveEvent::kStart), -1, 0},
      {"first cell: held, before the switch", m(MoveEvent::kBeforeSwitch), -1, 0},
      {"first cell: switched, opening on the target", -1, r(RecoveryEvent::kOpen), 0},
      {"first cell: switched, replaying on the target", -1, r(RecoveryEvent::kReplay), 0},
      {"first cell: serving on the target", m(MoveEvent::kAfterOpen), -1, 0},
      {"second cell: held, before the switch", m(MoveEvent::kBeforeSwitch), -1, 1},
      {"second cell: switched, opening", -1, r(RecoveryEvent::kOpen), 1},
  };
}

// Run only as the child of the test below (a fresh process: RocksDB's
// background threads do not survive a fork): drains h1 of the index in
// $DRAIN_DIR and SIGKILLs itself at kill point $DRAIN_KILL_POINT.
TEST(DrainTest, DISABLED_ChildDrainsUntilKilled) {
  const char* dir_env = std::getenv("DRAIN_DIR");
  const char* point_env = std::getenv("DRAIN_KILL_POINT");
  ASSERT_TRUE(dir_env != nullptr && point_env != nullptr);
  const KillPoint point = KillPoints().at(std::stoul(point_env));
  testing::ScratchDir unused;
  Options o = testing::FourCells(unused);
  o.data_dir = std::string(dir_env) + "/data";
  o.store_dir = std::string(dir_env) + "/store";
  for (const char* h : kHosts) o.host_dirs[h] = std::string(dir_env) + "/hosts/" + h;
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
  absl::StatusOr<RemovalPlan> plan = (*index)->RemoveHosts(Drain({"h1"}));
  FAIL() << "the kill point never came: " << plan.status();
}

TEST(DrainTest, SigkillAtEachMomentLeavesEveryCellOnExactlyOneHost) {
  const std::vector<KillPoint> points = KillPoints();
  for (size_t p = 0; p < points.size(); ++p) {
    SCOPED_TRACE(points[p].name);
    testing::ScratchDir dir;
    std::map<std::string, std::optional<ObjectRecord>> want;
    {
      std::unique_ptr<Index> index = testing::OpenIndexOrFail(ThreeHosts(dir));
      ASSERT_NE(index, nullptr);
      want = testing::Populate(*index);
    }
    const int status = testing::RunChildTest(
        "DrainTest.DISABLED_ChildDrainsUntilKilled",
        {{"DRAIN_DIR", dir.path()}, {"DRAIN_KILL_POINT", std::to_string(p)}});
    ASSERT_EQ(testing::KilledOrWhy(status), "") << "the child was not killed at its point";
    // Restart (the hosts as the options list them): every record right, each
    // cell on the one host the map names, nowhere else.
    std::unique_ptr<Index> index = testing::OpenIndexOrFail(ThreeHosts(dir));
    ASSERT_NE(index, nullptr);
    testing::ExpectExactly(*index, want);
    const CellMap map = index->cell_map();
    std::map<CellId, std::set<std::string>> dirs = CellDirs(dir);
    for (const CellRange& c : map.cells()) {
      EXPECT_THAT(dirs[c.id], ::testing::ElementsAre(c.host)) << "cell " << c.id;
      EXPECT_EQ(index->Stats().cells[c.id].state, CellPhase::kServing) << "cell " << c.id;
    }
    // And the drain, run again, completes.
    absl::StatusOr<RemovalPlan> again = index->RemoveHosts(Drain({"h1"}));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->refusal, RemovalRefusal::kNone) << again->reason;
    testing::ExpectExactly(*index, want);
    const CellMap drained = index->cell_map();
    for (const CellRange& c : drained.cells()) EXPECT_NE(c.host, "h1");
  }
}

}  // namespace
}  // namespace cellindex
