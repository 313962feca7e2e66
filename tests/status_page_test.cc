// The status page rendered by the real headless Chromium
// (chromium-headless-shell): a screenshot of a plausible size and the DOM
// text (cells by state, hosts, pools, audit tail, its age), rewritten after
// a change of state, and still rendering once the index is closed and its
// store and hosts deleted, where it says it is stale.
#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "index/status_page.h"
#include "tests/four_cells.h"
#include "tests/process_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Rendered {
  std::string dom;
  uint64_t png_bytes = 0;
  std::string png_head;
};

// Renders `page` with chromium-headless-shell: its DOM after scripts ran,
// and a 1200x1400 screenshot.
Rendered Render(const testing::ScratchDir& scratch, const std::string& page) {
  const std::vector<std::string> common = {"chromium-headless-shell", "--no-sandbox",
                                           "--disable-gpu",
                                           "--user-data-dir=" + scratch / "chromium"};
  Rendered r;
  std::vector<std::string> dump = common;
  dump.insert(dump.end(), {"--dump-dom", "file://" + page});
  testing::ProcessResult d = testing::RunProcess(dump, scratch.path(), 60);
  EXPECT_EQ(d.code, 0) << "chromium-headless-shell (Debian package) failed or is missing: "
                       << d.err.substr(0, 2000);
  r.dom = d.out;
  const std::string png = scratch / "page.png";
  std::filesystem::remove(png);
  std::vector<std::string> shot = common;
  shot.insert(shot.end(),
              {"--screenshot=" + png, "--window-size=1200,1400", "file://" + page});
  testing::ProcessResult s = testing::RunProcess(shot, scratch.path(), 60);
  EXPECT_EQ(s.code, 0) << s.err.substr(0, 2000);
  if (std::filesystem::exists(png)) {
    r.png_bytes = std::filesystem::file_size(png);
    r.png_head = testing::ReadWholeFile(png).substr(0, 8);
  }
  return r;
}

TEST(StatusPageTest, RendersUpdatesAndOutlivesTheIndexAndItsStore) {
  testing::ScratchDir dir, scratch;
  Options o = testing::FourCells(dir);
  o.host_dirs = {{"h1", dir / "hosts/h1"}, {"h2", dir / "hosts/h2"}, {"h3", dir / "hosts/h3"}};
  const std::string status_dir = scratch / "status";
  const std::string page = status_dir + "/index.html";
  {
    std::unique_ptr<Index> index = testing::OpenIndexOrFail(o);
    ASSERT_NE(index, nullptr);
    testing::Populate(*index);
    // Its own directory: never inside the store, the data dir or a host.
    EXPECT_TRUE(absl::IsInvalidArgument(index->StartStatusPage(dir / "store/status")));
    EXPECT_TRUE(absl::IsInvalidArgument(index->StartStatusPage(dir / "data")));
    EXPECT_TRUE(absl::IsInvalidArgument(index->StartStatusPage(dir / "hosts/h2/status")));
    EXPECT_TRUE(absl::IsInvalidArgument(index->StartStatusPage(dir.path())));  // holds them
    Pool web;
    web.name = "webpool";
    web.hosts = {"h1", "h2"};
    web.min_hosts = 1;
    web.max_cells_per_host = 3;
    ASSERT_TRUE(index->SetPool(web).ok());
    // A long interval: what the page shows below came from the change
    // itself, not from a periodic rewrite.
    ASSERT_TRUE(index->StartStatusPage(status_dir, absl::Hours(1)).ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(index->StartStatusPage(scratch / "other")));

    Rendered r = Render(scratch, page);
    EXPECT_THAT(r.dom, HasSubstr("cellindex status"));
    EXPECT_THAT(r.dom, HasSubstr("4 cells: 4 serving"));
    EXPECT_THAT(r.dom, HasSubstr("s ago"));  // the page's script ran: its age
    EXPECT_THAT(r.dom, HasSubstr("webpool hosts"));
    EXPECT_THAT(r.dom, HasSubstr("2 hosts (min 1)"));
    EXPECT_THAT(r.dom, HasSubstr("set-pool"));
    EXPECT_THAT(r.dom, HasSubstr("<svg"));
    EXPECT_EQ(r.png_head, "\x89PNG\r\n\x1a\n");
    EXPECT_GT(r.png_bytes, 20000u);  // a white page is a few KB
    EXPECT_LT(r.png_bytes, 5000000u);
    std::printf("screenshot while open: %llu bytes\n",
                static_cast<unsigned long long>(r.png_bytes));

    // A change of state is on the page without waiting for the tick.
    ASSERT_TRUE(index->LoseHost("h3").ok());
    index->WaitForRecovery();
    ASSERT_TRUE(testing::WaitUntil([&] {
      absl::StatusOr<std::string> html = ReadFileToString(page);
      return html.ok() && html->find("lose-hosts") != std::string::npos &&
             html->find("4 cells: 4 serving") != std::string::npos;
    })) << "the page never showed the host loss";
  }
  // Everything the page reports on is gone; the page is not.
  ASSERT_TRUE(RemoveAll(dir / "store").ok());
  ASSERT_TRUE(RemoveAll(dir / "hosts").ok());
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  Rendered r = Render(scratch, page);
  EXPECT_THAT(r.dom, HasSubstr("cellindex status"));
  EXPECT_THAT(r.dom, HasSubstr("lose-hosts"));
  EXPECT_THAT(r.dom, HasSubstr("s ago"));
  EXPECT_THAT(r.dom, HasSubstr("4 cells: 4 serving"));  // h3's cells back on h1, h2
  EXPECT_THAT(r.dom, Not(HasSubstr("<td>h3</td>")));
  EXPECT_EQ(r.png_head, "\x89PNG\r\n\x1a\n");
  EXPECT_GT(r.png_bytes, 20000u);
  std::printf("screenshot after the store was deleted: %llu bytes\n",
              static_cast<unsigned long long>(r.png_bytes));
}

// A page the index stopped rewriting says so once it is older than three
// intervals.
TEST(StatusPageTest, SaysWhenItIsStale) {
  testing::ScratchDir scratch;
  StatusSnapshot s;
  s.written = absl::Now() - absl::Minutes(10);
  s.rewrite_every = absl::Seconds(2);
  const std::string page = scratch / "index.html";
  ASSERT_TRUE(AtomicWriteFile(page, RenderStatusPage(s)).ok());
  Rendered r = Render(scratch, page);
  // Rendered some time after it was written: 600 s or a little more.
  EXPECT_THAT(r.dom, ::testing::ContainsRegex("STALE: written 6[0-4][0-9] s ago"));
  EXPECT_THAT(r.dom, HasSubstr("may be down"));
  s.written = absl::Now();
  ASSERT_TRUE(AtomicWriteFile(page, RenderStatusPage(s)).ok());
  r = Render(scratch, page);
  EXPECT_THAT(r.dom, Not(HasSubstr("STALE: written")));
}

// The renderer escapes what it shows (host names and audit text come from
// users).
TEST(StatusPageTest, EscapesNamesAndAuditText) {
  StatusSnapshot s;
  s.written = absl::Now();
  s.rewrite_every = absl::Seconds(2);
  CellStats c;
  c.id = 1;
  c.host = "<b>evil</b>";
  c.state = CellPhase::kServing;
  s.cells.push_back(c);
  s.inventory.hosts["<b>evil</b>"] = "/x";
  s.audit_tail.push_back(R"({"time":"t","user":"u","op":"<script>x</script>","outcome":"done"})");
  const std::string html = RenderStatusPage(s);
  EXPECT_THAT(html, Not(HasSubstr("<b>evil</b>")));
  EXPECT_THAT(html, HasSubstr("&lt;b&gt;evil&lt;/b&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<script>x</script>")));
}

}  // namespace
}  // namespace cellindex
