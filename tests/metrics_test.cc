// Index::Metrics: values read back from the Prometheus text (request counts
// by cell, operation and outcome; keys; states during and after a host
// loss; the last recovery's availability), and the text checked by the real
// promtool (`promtool check metrics`).
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "index/internal_options.h"
#include "tests/four_cells.h"
#include "tests/process_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;

// The value of the sample named exactly `series` (name and labels as
// serialized, labels sorted by name); nullopt when absent.
std::optional<double> Sample(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.size() > series.size() && line.substr(0, series.size()) == series &&
        line[series.size()] == ' ') {
      double v;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return std::nullopt;
}

// `promtool check metrics` on `text`: its exit code and complaints.
testing::ProcessResult Promtool(const testing::ScratchDir& dir, const std::string& text) {
  const std::string path = dir / "metrics.txt";
  EXPECT_TRUE(AtomicWriteFile(path, text).ok());
  return testing::RunProcess({"promtool", "check", "metrics"}, dir.path(), 60, path);
}

Options TwoHosts(const testing::ScratchDir& dir) {
  Options o = testing::FourCells(dir);
  o.host_dirs = {{"h1", dir / "hosts/h1"}, {"h2", dir / "hosts/h2"}};
  return o;
}

TEST(MetricsTest, CountsRequestsByCellOperationAndOutcome) {
  testing::ScratchDir dir;
  std::unique_ptr<Index> index = testing::OpenIndexOrFail(TwoHosts(dir));
  ASSERT_NE(index, nullptr);
  const CellId c0 = index->CellFor({"bucket", "k001"});
  const CellId c3 = index->CellFor({"bucket", "k090"});
  ASSERT_NE(c0, c3);
  for (int i = 0; i < 17; ++i) {
    ASSERT_TRUE(index->Put({"bucket", testing::Key(i)}, testing::Rec(i)).ok());
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(index->Get({"bucket", "k001"}).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::IsNotFound(index->Get({"bucket", "k090"}).status()));
  }
  Precondition absent;
  absent.if_none_match = true;
  EXPECT_TRUE(absl::IsFailedPrecondition(
      index->Put({"bucket", "k002"}, testing::Rec(1), absent).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(index->Put({"NO", "k"}, testing::Rec(1)).status()));
  ASSERT_TRUE(index->Delete({"bucket", "k003"}).ok());
  ASSERT_TRUE(index->List("bucket").ok());

  const std::string text = index->Metrics();
  const std::string cell0 = absl::StrCat("cell=\"", c0, "\"");
  const std::string cell3 = absl::StrCat("cell=\"", c3, "\"");
  EXPECT_EQ(Sample(text, "cellindex_cell_requests_total{" + cell0 + ",op=\"put\",outcome=\"ok\"}"),
            17);
  EXPECT_EQ(Sample(text, "cellindex_cell_request_duration_seconds_count{" + cell0 +
                             ",op=\"put\",outcome=\"ok\"}"),
            17);
  EXPECT_EQ(Sample(text, "cellindex_cell_requests_total{" + cell0 + ",op=\"get\",outcome=\"ok\"}"),
            5);
  EXPECT_EQ(Sample(text, "cellindex_cell_requests_total{" + cell3 +
                             ",op=\"get\",outcome=\"not_found\"}"),
            3);
  EXPECT_EQ(Sample(text, "cellindex_cell_requests_total{" + cell0 +
                             ",op=\"put\",outcome=\"precondition_failed\"}"),
            1);
  EXPECT_EQ(Sample(text, "cellindex_cell_requests_total{" + cell0 +
                             ",op=\"delete\",outcome=\"ok\"}"),
            1);
  EXPECT_EQ(Sample(text, "cellindex_index_requests_total{op=\"put\",outcome=\"invalid\"}"), 1);
  EXPECT_EQ(Sample(text, "cellindex_index_requests_total{op=\"list\",outcome=\"ok\"}"), 1);
  // No request of a kind: no series.
  EXPECT_EQ(Sample(text, "cellindex_cell_requests_total{" + cell3 + ",op=\"put\",outcome=\"ok\"}"),
            std::nullopt);
  // Gauges: keys k000..k016 less k003, all in cell c0 (k000..k024).
  EXPECT_EQ(Sample(text, "cellindex_cell_keys{" + cell0 + "}"), 16);
  EXPECT_EQ(Sample(text, "cellindex_cell_keys{" + cell3 + "}"), 0);
  EXPECT_GT(*Sample(text, "cellindex_cell_journal_bytes_since_checkpoint{" + cell0 + "}"), 0);
  EXPECT_EQ(Sample(text, "cellindex_cells{state=\"serving\"}"), 4);
  EXPECT_EQ(Sample(text, "cellindex_hosts"), 2);
  EXPECT_EQ(Sample(text, "cellindex_last_recovery_cells"), 4);
  EXPECT_TRUE(Sample(text, "cellindex_last_recovery_full_available_seconds").has_value());

  testing::ProcessResult check = Promtool(dir, text);
  EXPECT_EQ(check.code, 0) << "promtool check metrics: " << check.out << check.err;
}

TEST(MetricsTest, StateGaugesFollowAHostLossAndItsRecovery) {
  testing::ScratchDir dir;
  absl::Notification reached, release;
  InternalOptions in;
  std::atomic<bool> hold{false};
  std::atomic<uint32_t> held{UINT32_MAX};
  in.recovery_hook = [&](uint32_t cell, RecoveryEvent event) {
    if (event == RecoveryEvent::kOpen && hold.exchange(false)) {
      held.store(cell);
      reached.Notify();
      release.WaitForNotification();
    }
  };
  auto opened = OpenIndex(TwoHosts(dir), in);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<Index> index = *std::move(opened);
  testing::Populate(*index);
  hold.store(true);
  absl::StatusOr<std::vector<CellId>> moved = index->LoseHost("h1");
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_TRUE(reached.WaitForNotificationWithTimeout(absl::Seconds(60)));
  // One moved cell is held in its open; the text says so.
  std::string text = index->Metrics();
  const std::string labels = absl::StrCat("{cell=\"", held.load(), "\",host=\"h2\",state=");
  EXPECT_EQ(Sample(text, "cellindex_cell_state" + labels + "\"open\"}"), 1) << text;
  EXPECT_EQ(Sample(text, "cellindex_cell_state" + labels + "\"serving\"}"), 0);
  EXPECT_GE(Sample(text, "cellindex_cells{state=\"open\"}"), 1);
  double total = 0;
  for (const char* state :
       {"queued", "fetch", "verify", "open", "replay", "validate", "serving", "failed"}) {
    total += Sample(text, absl::StrCat("cellindex_cells{state=\"", state, "\"}")).value_or(-100);
  }
  EXPECT_EQ(total, 4);
  // The cells that stayed serve; the held one does not.
  const double serving_now = *Sample(text, "cellindex_cells{state=\"serving\"}");
  EXPECT_GE(serving_now, 4.0 - moved->size());
  EXPECT_LE(serving_now, 3);
  EXPECT_EQ(Sample(text, "cellindex_last_recovery_cells"), moved->size());
  EXPECT_EQ(Sample(text, "cellindex_last_recovery_full_available_seconds"), std::nullopt);
  EXPECT_EQ(Sample(text, "cellindex_hosts"), 1);
  release.Notify();
  index->WaitForRecovery();
  text = index->Metrics();
  for (CellId c : *moved) {
    EXPECT_EQ(Sample(text, absl::StrCat("cellindex_cell_state{cell=\"", c,
                                        "\",host=\"h2\",state=\"serving\"}")),
              1);
    EXPECT_GT(*Sample(text, absl::StrCat("cellindex_cell_recovery_time_to_serve_seconds{cell=\"",
                                         c, "\"}")),
              0);
  }
  EXPECT_EQ(Sample(text, "cellindex_cells{state=\"serving\"}"), 4);
  const std::optional<double> first = Sample(text, "cellindex_last_recovery_first_available_seconds");
  const std::optional<double> full = Sample(text, "cellindex_last_recovery_full_available_seconds");
  ASSERT_TRUE(first.has_value() && full.has_value()) << text;
  EXPECT_LE(*first, *full);
  testing::ProcessResult check = Promtool(dir, text);
  EXPECT_EQ(check.code, 0) << "promtool check metrics: " << check.out << check.err;
}

// promtool must be there, and must fail bad text: otherwise the checks above
// prove nothing.
TEST(MetricsTest, PromtoolRefusesBrokenText) {
  testing::ScratchDir dir;
  testing::ProcessResult check =
      Promtool(dir, "# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\nnot a metric line\n");
  EXPECT_NE(check.code, 0);
  EXPECT_NE(check.code, 127) << "promtool is missing (Debian package prometheus)";
  testing::ProcessResult version = testing::RunProcess({"promtool", "--version"}, dir.path());
  EXPECT_EQ(version.code, 0) << "promtool is missing (Debian package prometheus)";
}

}  // namespace
}  // namespace cellindex
