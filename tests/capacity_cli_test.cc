// Removing capacity through the real `cellindex`: a table of unsafe
// removals (typos, patterns matching too much, pools going below their
// minimum, full survivors, steps too large, unhealthy cells), each refused
// with its own exit code and one stderr line, the cell map, inventory and
// hosts' directories unchanged, and one audit line written. Also the plan
// of a safe removal, `pools`, `audit` and `metrics` (checked by promtool).
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "index/index.h"
#include "nlohmann/json.hpp"
#include "recovery/audit_log.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Json = nlohmann::json;

constexpr int kCells = 16;
const char* const kHosts[] = {"cache-1", "db-1", "db-2", "db-3",
                              "web-1",   "web-2", "web-3", "web-4"};

// One row: pools to set first (each a `pools set` argument list), the
// `hosts remove` arguments, and the exit code and refusal expected.
struct Row {
  std::string name;
  std::vector<std::vector<std::string>> setup;
  std::vector<std::string> args;
  int code;
  std::string refusal;  // empty: not a refusal (usage error or a plan)
};

class CapacityCliTest : public ::testing::Test {
 protected:
  // 16 cells on 8 hosts (2 each) with a record per cell, checkpointed;
  // pools web (web-*, at least 3 hosts, 4 cells a host), db (db-*, at
  // least 2 hosts, 3 cells a host, 1 spare place), cache-1 in the default.
  void SetUp() override {
    Options o;
    o.data_dir = dir_ / "data";
    o.store_dir = dir_ / "store";
    o.block_cache_bytes = 8 << 20;
    o.cell_write_buffer_bytes = 1 << 20;
    o.validate_after_recovery = false;
    for (int i = 1; i < kCells; ++i) {
      o.cell_boundaries.push_back(EncodeKey({"bucket", absl::StrCat("k", 100 + i)}));
    }
    for (const char* h : kHosts) o.host_dirs[h] = dir_ / absl::StrCat("hosts/", h);
    {
      std::unique_ptr<Index> index = testing::OpenIndexOrFail(o);
      ASSERT_NE(index, nullptr);
      for (int i = 0; i < kCells; ++i) {
        ASSERT_TRUE(index->Put({"bucket", absl::StrCat("k", 100 + i)}, testing::SizedRecord(i)).ok());
      }
      ASSERT_TRUE(index->Checkpoint().ok());
    }
    BaselinePools();
  }

  void BaselinePools() {
    ASSERT_EQ(Run({"pools", "set", "web", "--hosts", "web-1,web-2,web-3,web-4", "--min-hosts",
                   "3", "--max-cells-per-host", "4", "--max-bytes-per-host", "0",
                   "--min-spare-cells", "0"})
                  .code,
              0);
    ASSERT_EQ(Run({"pools", "set", "db", "--hosts", "db-1,db-2,db-3", "--min-hosts", "2",
                   "--max-cells-per-host", "3", "--min-spare-cells", "1", "--max-bytes-per-host",
                   "0"})
                  .code,
              0);
    ASSERT_EQ(Run({"pools", "set", "default", "--min-hosts", "0", "--max-cells-per-host", "0",
                   "--max-bytes-per-host", "0", "--min-spare-cells", "0"})
                  .code,
              0);
  }

  testing::ProcessResult Run(std::vector<std::string> args) {
    args.insert(args.begin(),
                {CELLINDEX_CLI_PATH, "--data", dir_ / "data", "--store", dir_ / "store"});
    return testing::RunProcess(std::move(args), scratch_.path(), 120);
  }

  // What must not change: the map, the inventory, which cells each host's
  // directory holds (RocksDB's own files change at every open).
  std::string Snapshot() {
    std::string s = absl::CHexEscape(testing::ReadWholeFile(dir_ / "store/CELLMAP")) + "\n" +
                    absl::CHexEscape(testing::ReadWholeFile(dir_ / "store/INVENTORY")) + "\n";
    std::vector<std::string> cells;
    for (const auto& host : std::filesystem::directory_iterator(dir_ / "hosts")) {
      for (const auto& cell : std::filesystem::directory_iterator(host.path() / "cells")) {
        // A cell's state is cells/NNNNN; damaged state moved aside at an
        // open (cells/NNNNN.damaged-...) is the recovery's, not the removal's.
        if (cell.path().filename().string().size() == 5) cells.push_back(cell.path().string());
      }
    }
    std::sort(cells.begin(), cells.end());
    return s + absl::StrJoin(cells, "\n");
  }

  std::vector<std::string> AuditLines() {
    absl::StatusOr<std::vector<std::string>> lines =
        ReadAuditLog(DefaultFs(), dir_ / "store/AUDIT");
    EXPECT_TRUE(lines.ok()) << lines.status();
    return lines.ok() ? *lines : std::vector<std::string>();
  }

  void Check(const Row& row) {
    SCOPED_TRACE(row.name + ": hosts remove " + absl::StrJoin(row.args, " "));
    for (const auto& setup : row.setup) {
      std::vector<std::string> args = {"pools", "set"};
      args.insert(args.end(), setup.begin(), setup.end());
      testing::ProcessResult r = Run(args);
      ASSERT_EQ(r.code, 0) << r.err;
    }
    const std::string before = Snapshot();
    const size_t audit_before = AuditLines().size();
    std::vector<std::string> args = {"hosts", "remove"};
    args.insert(args.end(), row.args.begin(), row.args.end());
    testing::ProcessResult r = Run(args);
    EXPECT_EQ(r.code, row.code) << r.out << r.err;
    EXPECT_EQ(Snapshot(), before) << "the removal changed the map, inventory or a host";
    if (r.code != 0) {
      // One line, naming the problem.
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
      EXPECT_THAT(r.err, StartsWith("cellindex: "));
    }
    const std::vector<std::string> audit = AuditLines();
    if (!row.refusal.empty()) {
      EXPECT_THAT(r.err, StartsWith(absl::StrCat("cellindex: refused (", row.refusal, "): ")));
      ASSERT_EQ(audit.size(), audit_before + 1) << "no audit line for the refusal";
      Json line = Json::parse(audit.back());
      EXPECT_EQ(line["op"], "remove-hosts");
      EXPECT_EQ(line["outcome"], "refused");
      EXPECT_EQ(line["refusal"], row.refusal);
      EXPECT_EQ(line["execute"], std::count(row.args.begin(), row.args.end(), "--execute") > 0);
      EXPECT_FALSE(line["user"].get<std::string>().empty());
      EXPECT_THAT(line["time"].get<std::string>(), HasSubstr("T"));
    } else if (row.code == 0) {
      ASSERT_EQ(audit.size(), audit_before + 1) << "no audit line for the plan";
      EXPECT_EQ(Json::parse(audit.back())["outcome"], "planned");
    }
    if (!row.setup.empty()) BaselinePools();
  }

  testing::ScratchDir dir_;
  testing::ScratchDir scratch_;
};

// Every full survivor: web and db hosts hold 2 cells each and may hold 2;
// cache-1 too.
const std::vector<std::vector<std::string>> kAllFull = {
    {"web", "--max-cells-per-host", "2"},
    {"db", "--max-cells-per-host", "2", "--min-spare-cells", "0"},
    {"default", "--max-cells-per-host", "2"}};
const std::vector<std::vector<std::string>> kAllTinyBytes = {
    {"web", "--max-bytes-per-host", "1"},
    {"db", "--max-bytes-per-host", "1"},
    {"default", "--max-bytes-per-host", "1"}};
// web may lose all but one host, which may hold every web cell.
const std::vector<std::vector<std::string>> kWebMinOne = {
    {"web", "--min-hosts", "1", "--max-cells-per-host", "8"}};

const std::vector<Row>& Rows() {
  static const auto* rows = new std::vector<Row>{
      // Typos and unknown names.
      {"unknown host", {}, {"web-5"}, 10, "unknown_host"},
      {"missing dash", {}, {"web1"}, 10, "unknown_host"},
      {"wrong case", {}, {"Web-1"}, 10, "unknown_host"},
      {"leading space", {}, {" web-1"}, 10, "unknown_host"},
      {"trailing space", {}, {"web-1 "}, 10, "unknown_host"},
      {"comma list as one name", {}, {"db-1,db-2"}, 10, "unknown_host"},
      {"one good one bad", {}, {"web-1", "web-9"}, 10, "unknown_host"},
      {"bad first", {}, {"wbe-1", "web-1"}, 10, "unknown_host"},
      {"pool name as host", {}, {"web"}, 10, "unknown_host"},
      {"glob without --match", {}, {"web-*"}, 10, "unknown_host"},
      {"unknown, executing", {}, {"web-5", "--execute"}, 10, "unknown_host"},
      // Patterns that match too much, too little, or not what was expected.
      {"pattern matches four", {}, {"--match", "web-*"}, 11, "match_count"},
      {"pattern matches all", {}, {"--match", "*"}, 11, "match_count"},
      {"pattern matches all, executing", {}, {"--match", "*", "--execute"}, 11, "match_count"},
      {"pattern over pools", {}, {"--match", "*-1"}, 11, "match_count"},
      {"pattern matches none", {}, {"--match", "nothing*"}, 11, "match_count"},
      {"pattern typo", {}, {"--match", "wbe-*"}, 11, "match_count"},
      {"expect fewer", {}, {"--match", "web-*", "--expect", "2"}, 11, "match_count"},
      {"expect more", {}, {"--match", "db-?", "--expect", "4"}, 11, "match_count"},
      {"expect one, class matches four", {}, {"--match", "web-[1-9]", "--expect", "1"}, 11,
       "match_count"},
      {"question mark matches seven", {}, {"--match", "*-?"}, 11, "match_count"},
      // Pools below their minimum.
      {"web below min hosts", {}, {"web-1", "web-2"}, 12, "below_pool_minimum"},
      {"all of web", {}, {"--match", "web-*", "--expect", "4"}, 12, "below_pool_minimum"},
      {"db below min spare", {}, {"db-1"}, 12, "below_pool_minimum"},
      {"db below min hosts", {}, {"db-1", "db-2"}, 12, "below_pool_minimum"},
      {"all of db, big steps", {}, {"--match", "db-*", "--expect", "3", "--max-step", "3"}, 12,
       "below_pool_minimum"},
      {"every host", {}, {"--match", "*", "--expect", "8"}, 12, "below_pool_minimum"},
      {"every host, executing", {}, {"--match", "*", "--expect", "8", "--execute"}, 12,
       "below_pool_minimum"},
      {"raised minimum", {{"web", "--min-hosts", "4"}}, {"web-3"}, 12, "below_pool_minimum"},
      // Survivors that cannot hold the moved cells.
      {"every survivor full (cells)", kAllFull, {"web-1"}, 13, "survivors_full"},
      {"every survivor full, executing", kAllFull, {"web-2", "--execute"}, 13, "survivors_full"},
      {"every survivor full (bytes)", kAllTinyBytes, {"cache-1"}, 13, "survivors_full"},
      {"every survivor full, default pool", kAllFull, {"cache-1"}, 13, "survivors_full"},
      // Too fast.
      {"fraction below one host", {}, {"web-1", "--max-fraction", "0.2"}, 15, "step_too_large"},
      {"three of four at once", kWebMinOne,
       {"web-1", "web-2", "web-3", "--max-step", "3"}, 15, "step_too_large"},
      {"two at once, small fraction", kWebMinOne,
       {"web-1", "web-2", "--max-step", "2", "--max-fraction", "0.3"}, 15, "step_too_large"},
      {"pattern, big step", kWebMinOne,
       {"--match", "web-[123]", "--expect", "3", "--max-step", "3"}, 15, "step_too_large"},
      {"lone default host", {}, {"cache-1"}, 15, "step_too_large"},
      {"two pools at once, one emptied", {}, {"cache-1", "web-1", "--max-step", "2"}, 15,
       "step_too_large"},
      {"fraction just under a quarter", {}, {"web-1", "--max-fraction", "0.24"}, 15,
       "step_too_large"},
      // Bad usage: exit 2, nothing changed (not a refusal).
      {"expect without match", {}, {"web-1", "--expect", "1"}, 2, ""},
      {"names and match", {}, {"web-1", "--match", "web-*"}, 2, ""},
      {"nothing named", {}, {}, 2, ""},
      {"max-step zero", {}, {"web-1", "--max-step", "0"}, 2, ""},
      {"max-step negative", {}, {"web-1", "--max-step", "-1"}, 2, ""},
      {"max-fraction above one", {}, {"web-1", "--max-fraction", "1.5"}, 2, ""},
      {"max-fraction zero", {}, {"web-1", "--max-fraction", "0"}, 2, ""},
      {"max-fraction not a number", {}, {"web-1", "--max-fraction", "half"}, 2, ""},
      {"expect not a number", {}, {"--match", "web-*", "--expect", "4x"}, 2, ""},
      // A safe removal, planned only: exit 0, nothing changed.
      {"dry run of one web host", {}, {"web-1"}, 0, ""},
      {"dry run by pattern", {}, {"--match", "web-4"}, 0, ""},
  };
  return *rows;
}

TEST_F(CapacityCliTest, RefusesEveryUnsafeRemovalAndChangesNothing) {
  // Each row is a few processes of the command. Under a sanitizer, where
  // each takes several times longer, the first row of each outcome (exit
  // code and refusal): the same code paths, a quarter of the rows.
  std::set<std::pair<int, std::string>> outcomes;
  for (const Row& row : Rows()) {
    if (testing::kUnderSanitizer && !outcomes.insert({row.code, row.refusal}).second) continue;
    Check(row);
  }
}

TEST_F(CapacityCliTest, RefusesWhileACellIsUnhealthy) {
  // Cell 5's journal head is damaged: nothing can prove its journal's
  // extent, so it fails (DataLoss) at the next open; the others serve.
  ASSERT_TRUE(AtomicWriteFile(dir_ / "store/cells/00005/JOURNAL-HEAD", "garbage").ok());
  testing::ProcessResult cells = Run({"--json", "cells"});
  ASSERT_EQ(cells.code, 0) << cells.err;
  EXPECT_EQ(Json::parse(cells.out)[5]["state"], "failed") << cells.out;
  for (const Row& row : std::vector<Row>{
           {"unhealthy: safe otherwise", {}, {"web-1"}, 14, "unhealthy_cell"},
           {"unhealthy: executing", {}, {"web-1", "--execute"}, 14, "unhealthy_cell"},
           {"unhealthy: by pattern", {}, {"--match", "web-2"}, 14, "unhealthy_cell"},
           {"unhealthy: the failed cell's host", {}, {"web-2", "--execute"}, 14,
            "unhealthy_cell"}}) {
    Check(row);
  }
  // Nor does any cell move to balance the hosts.
  const std::string map_before = testing::ReadWholeFile(dir_ / "store/CELLMAP");
  const std::string before = Snapshot();
  const size_t audit_before = AuditLines().size();
  testing::ProcessResult r = Run({"hosts", "rebalance", "--execute", "--pause", "0"});
  EXPECT_EQ(r.code, 14) << r.out << r.err;
  EXPECT_THAT(r.err, StartsWith("cellindex: rebalance refused (unhealthy_cell): cell 5 "));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(Snapshot(), before);
  const std::vector<std::string> audit = AuditLines();
  ASSERT_EQ(audit.size(), audit_before + 1);
  EXPECT_EQ(Json::parse(audit.back())["op"], "rebalance");
  EXPECT_EQ(Json::parse(audit.back())["outcome"], "refused");

  // Adding a host is still possible; only its rebalance waits. Without
  // --rebalance the refusal is information (exit 0), with it exit 14, the
  // host added either way.
  r = Run({"hosts", "add", "web-5", dir_ / "hosts/web-5", "--pool", "web"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("host web-5 added"));
  EXPECT_THAT(r.out, HasSubstr("rebalance: refused for now (unhealthy_cell): cell 5 "));
  r = Run({"hosts", "add", "web-6", dir_ / "hosts/web-6", "--pool", "web", "--rebalance"});
  EXPECT_EQ(r.code, 14) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("host web-6 added"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(testing::ReadWholeFile(dir_ / "store/CELLMAP"), map_before);
}

TEST_F(CapacityCliTest, AddsAHostToItsPoolAndRebalancesOntoIt) {
  const std::string web5 = dir_ / "hosts/web-5";
  // Bad input: exit 2, one line, nothing changed (the host is not added).
  const std::string before = Snapshot();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"hosts", "add", "web-1", web5},
           {"hosts", "add", "web-5", dir_ / "store/web-5"},
           {"hosts", "add", "web-5", web5, "--pool", "Bad Name"},
           {"hosts", "add", "web-5", web5, "--pool", ""},
           {"hosts", "rebalance", "--pool", "no-such-pool"},
           {"hosts", "add", "web-5", web5, "--pause", "-1"},
           {"hosts", "add", "web-5", web5, "--max-moves", "1x"},
           {"hosts", "rebalance", "--pause", "soon"},
           {"hosts", "rebalance", "--max-moves", "-2"}}) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    testing::ProcessResult r = Run(args);
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(Snapshot(), before);
  }

  // Added to pool web (8 cells on 4 hosts): the plan moves one cell onto
  // it, and without --rebalance nothing moves.
  const std::string map_before = testing::ReadWholeFile(dir_ / "store/CELLMAP");
  testing::ProcessResult r = Run({"hosts", "add", "web-5", web5, "--pool", "web"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("host web-5 added at " + web5 + " in pool web"));
  EXPECT_THAT(r.out, HasSubstr("rebalance of pool web: 1 move,"));
  EXPECT_THAT(r.out, HasSubstr(" -> web-5"));
  EXPECT_THAT(r.out, HasSubstr("dry run: no cell moved"));
  EXPECT_EQ(testing::ReadWholeFile(dir_ / "store/CELLMAP"), map_before);
  auto cells_of = [&](const std::string& host) {
    testing::ProcessResult h = Run({"--json", "hosts"});
    EXPECT_EQ(h.code, 0) << h.err;
    for (const Json& j : Json::parse(h.out)) {
      if (j["host"] == host) {
        EXPECT_EQ(j["pool"], "web");
        return j["cells"].get<int>();
      }
    }
    ADD_FAILURE() << "no host " << host << " in " << h.out;
    return -1;
  };
  EXPECT_EQ(cells_of("web-5"), 0);

  r = Run({"--json", "hosts", "rebalance", "--execute", "--pause", "0"});
  ASSERT_EQ(r.code, 0) << r.err;
  Json plan = Json::parse(r.out)["rebalance"];
  ASSERT_EQ(plan["moves"].size(), 1u) << r.out;
  EXPECT_EQ(plan["moves"][0]["to"], "web-5");
  EXPECT_THAT(plan["moves"][0]["from"].get<std::string>(), StartsWith("web-"));
  EXPECT_EQ(plan["executed"], true);
  EXPECT_EQ(plan["unavailable_ms"].size(), 1u);
  EXPECT_EQ(cells_of("web-5"), 1);
  r = Run({"hosts", "rebalance"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("rebalance: 0 moves"));
  // Adding web-6 with --rebalance moves a cell at once (web holds 8 cells
  // on 6 hosts: 2,2,2,1,1,0 -> one move onto web-6).
  r = Run({"--json", "hosts", "add", "web-6", dir_ / "hosts/web-6", "--pool", "web",
           "--rebalance", "--pause", "0"});
  ASSERT_EQ(r.code, 0) << r.err;
  Json added = Json::parse(r.out);
  EXPECT_EQ(added["host"], "web-6");
  EXPECT_EQ(added["pool"], "web");
  ASSERT_EQ(added["rebalance"]["moves"].size(), 1u) << r.out;
  EXPECT_EQ(added["rebalance"]["moves"][0]["to"], "web-6");
  EXPECT_EQ(cells_of("web-6"), 1);

  std::vector<std::string> ops;
  for (const std::string& line : AuditLines()) {
    Json j = Json::parse(line);
    if (absl::StartsWith(j["op"].get<std::string>(), "rebalance") || j["op"] == "add-host") {
      ops.push_back(absl::StrCat(j["op"].get<std::string>(), ":", j["outcome"].get<std::string>()));
    }
  }
  EXPECT_THAT(ops, ::testing::ElementsAre("add-host:refused", "add-host:refused",
                                          "add-host:refused", "rebalance:invalid",
                                          "add-host:done", "rebalance:planned",
                                          "rebalance:accepted", "rebalance-step:done",
                                          "rebalance-done:done", "rebalance:planned",
                                          "add-host:done", "rebalance:accepted",
                                          "rebalance-step:done", "rebalance-done:done"));
}

TEST_F(CapacityCliTest, PlansShowsPoolsAndAuditsASafeRemoval) {
  testing::ProcessResult r = Run({"hosts", "remove", "web-1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("plan: remove 1 host (web-1) in 1 step"));
  EXPECT_THAT(r.out, HasSubstr("web-1 -> web-"));
  EXPECT_THAT(r.out, HasSubstr("4 -> 3 (3)"));  // web's hosts before -> after (min)
  EXPECT_THAT(r.out, HasSubstr("dry run: nothing changed"));
  r = Run({"--json", "hosts", "remove", "--match", "web-[12]", "--expect", "2", "--max-step",
           "1"});
  EXPECT_EQ(r.code, 12) << r.err;  // web keeps 2 < 3
  r = Run({"--json", "hosts", "remove", "web-4"});
  ASSERT_EQ(r.code, 0) << r.err;
  Json plan = Json::parse(r.out);
  EXPECT_EQ(plan["hosts"], Json::array({"web-4"}));
  ASSERT_EQ(plan["moves"].size(), 2u);
  for (const Json& m : plan["moves"]) {
    EXPECT_EQ(m["from"], "web-4");
    EXPECT_THAT(m["to"].get<std::string>(), StartsWith("web-"));  // its own pool first
  }
  EXPECT_EQ(plan["executed"], false);

  r = Run({"--json", "pools"});
  ASSERT_EQ(r.code, 0) << r.err;
  Json pools = Json::parse(r.out);
  ASSERT_EQ(pools.size(), 3u);
  EXPECT_EQ(pools[0]["pool"], "db");
  EXPECT_EQ(pools[0]["hosts"], 3);
  EXPECT_EQ(pools[0]["min_hosts"], 2);
  EXPECT_EQ(pools[0]["cells"], 6);
  EXPECT_EQ(pools[0]["spare_cells"], 3);  // 3 hosts x 3 - 6
  EXPECT_EQ(pools[1]["pool"], "web");
  EXPECT_EQ(pools[2]["pool"], "default");
  EXPECT_EQ(pools[2]["hosts"], 1);

  // Pools are checked: an unknown member or a bad name changes nothing.
  const std::string before = Snapshot();
  r = Run({"pools", "set", "web", "--hosts", "web-1,web-9"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown host \"web-9\""));
  r = Run({"pools", "set", "Bad Name"});
  EXPECT_EQ(r.code, 2);
  r = Run({"pools", "set", "web", "--min-hosts", "-1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(Snapshot(), before);

  r = Run({"--json", "audit"});
  ASSERT_EQ(r.code, 0) << r.err;
  Json audit = Json::parse(r.out);
  ASSERT_GE(audit.size(), 6u);
  EXPECT_EQ(audit[0]["op"], "set-pool");  // the baseline pools
  bool saw_refused_pool = false, saw_plan = false;
  for (const Json& line : audit) {
    if (line["op"] == "set-pool" && line["outcome"] == "refused") saw_refused_pool = true;
    if (line["op"] == "remove-hosts" && line["outcome"] == "planned") saw_plan = true;
  }
  EXPECT_TRUE(saw_refused_pool);
  EXPECT_TRUE(saw_plan);
}

TEST_F(CapacityCliTest, StatusDirIsItsOwnAndThePageFollowsTheCommand) {
  const std::string before = Snapshot();
  testing::ProcessResult r = Run({"--status-dir", dir_ / "store/status", "status"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("overlaps the store"));
  r = Run({"--status-dir", dir_ / "hosts/web-1/x", "status"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(Snapshot(), before);
  const std::string status = scratch_ / "status";
  r = Run({"--status-dir", status, "status"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, status + "/index.html\n");
  std::string page = testing::ReadWholeFile(status + "/index.html");
  EXPECT_THAT(page, HasSubstr("16 cells: 16 serving"));
  EXPECT_THAT(page, Not(HasSubstr("remove-hosts")));
  // A refused removal with --status-dir: the page shows it (written as the
  // command's index closes).
  r = Run({"--status-dir", status, "hosts", "remove", "web-7"});
  EXPECT_EQ(r.code, 10);
  page = testing::ReadWholeFile(status + "/index.html");
  EXPECT_THAT(page, HasSubstr("unknown host &quot;web-7&quot;"));
}

TEST_F(CapacityCliTest, MetricsCommandPassesPromtool) {
  testing::ProcessResult r = Run({"metrics"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\ncellindex_hosts 8\n"));
  EXPECT_THAT(r.out, HasSubstr("cellindex_cells{state=\"serving\"} 16\n"));
  EXPECT_THAT(r.out, HasSubstr("cellindex_pool_min_hosts{pool=\"web\"} 3\n"));
  EXPECT_THAT(r.out, HasSubstr("cellindex_cell_keys{cell=\"7\"} 1\n"));
  const std::string path = scratch_ / "metrics.txt";
  ASSERT_TRUE(AtomicWriteFile(path, r.out).ok());
  testing::ProcessResult check =
      testing::RunProcess({"promtool", "check", "metrics"}, scratch_.path(), 60, path);
  EXPECT_EQ(check.code, 0) << check.out << check.err;
}

}  // namespace
}  // namespace cellindex
