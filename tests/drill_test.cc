// The restart drill end to end, small: the binary runs a drill, its JSON
// report is parsed, and what it promises is checked.
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace cellindex {
namespace {

struct DrillRun {
  int exit_code;
  nlohmann::json report;
};

DrillRun Drill(const std::string& data, const std::string& args) {
  const std::string cmd = absl::StrCat(CELLINDEX_CLI_PATH, " --data ", data, " --json drill ",
                                       args, " 2>/dev/null");
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  DrillRun r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, nlohmann::json::parse(out, nullptr, false)};
  return r;
}

void ExpectHealthyDrill(const DrillRun& r, size_t cells_recovered) {
  ASSERT_EQ(r.exit_code, 0);
  ASSERT_FALSE(r.report.is_discarded());
  EXPECT_EQ(r.report["acknowledged_writes_lost"], 0);
  EXPECT_EQ(r.report["cells_failed"], 0);
  EXPECT_EQ(r.report["cells_recovered"], cells_recovered);
  EXPECT_GT(r.report["acknowledged_writes_checked"].get<uint64_t>(),
            r.report["objects"].get<uint64_t>() - 1);
  EXPECT_GT(r.report["bytes_fetched"].get<uint64_t>(), 0u);
  EXPECT_EQ(r.report["requests"]["errors"], 0);
  const double first = r.report["time_to_first_availability_seconds"];
  const double full = r.report["time_to_full_availability_seconds"];
  EXPECT_GT(first, 0);
  EXPECT_LE(first, full);
}

TEST(DrillTest, LosingHostsUnderLoadLosesNoAcknowledgedWrite) {
  testing::ScratchDir dir;
  DrillRun r = Drill(dir.path(), "--hosts 4 --cells 8 --objects 3000 --lose 2 --before 0.3 --after 0.3");
  ExpectHealthyDrill(r, 4);  // 2 of 4 hosts held 4 of the 8 cells
  EXPECT_EQ(r.report["lost_hosts"].size(), 2u);
  // Cells that were never lost served every request.
  EXPECT_EQ(r.report["requests"]["healthy_cells_availability_percent"], 100.0);
}

TEST(DrillTest, ColdStartOfEveryHostLosesNoAcknowledgedWrite) {
  testing::ScratchDir dir;
  DrillRun r = Drill(dir.path(), "--hosts 3 --cells 6 --objects 2000 --all --before 0.3 --after 0.3");
  ExpectHealthyDrill(r, 6);
  EXPECT_EQ(r.report["cold_start"], true);
}

TEST(DrillTest, RefusesToLoseEveryHostWithoutAll) {
  testing::ScratchDir dir;
  EXPECT_EQ(Drill(dir.path(), "--hosts 2 --lose 2 --objects 10").exit_code, 2);
}

}  // namespace
}  // namespace cellindex
