// `cellindex drill --report DIR`: the page and its data. The binary runs a
// small drill, the timeline in drill.json is checked against the drill's own
// figures, and the page is rendered by a real headless Chromium (Debian's
// chromium-headless-shell), whose DOM and screenshot are checked.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kChromium[] = "/usr/bin/chromium-headless-shell";

struct ShellRun {
  int exit_code;
  std::string out;
};

// Runs `cmd` under a time limit, with its stdout captured.
ShellRun Shell(const std::string& cmd) {
  FILE* p = ::popen(absl::StrCat("timeout 120 ", cmd).c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string Chromium(const std::string& args, const std::string& page) {
  return absl::StrCat(kChromium, " --no-sandbox --disable-gpu --hide-scrollbars ", args,
                      " file://", page, " 2>/dev/null");
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

uint32_t BigEndian32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

double MarkTime(const nlohmann::json& marks, const std::string& label) {
  for (const auto& m : marks) {
    if (m["label"] == label) return m["t"];
  }
  ADD_FAILURE() << "no mark " << label << " in " << marks.dump();
  return -1;
}

TEST(DrillReportTest, WritesATimelinePageThatChromiumRenders) {
  testing::ScratchDir dir;
  const std::string report = dir / "report";
  const ShellRun drill =
      Shell(absl::StrCat(CELLINDEX_CLI_PATH, " --data ", dir / "data", " --json drill --hosts 4 ",
                         "--cells 8 --objects 3000 --lose 1 --before 0.3 --after 0.3 --report ",
                         report, " 2>/dev/null"));
  ASSERT_EQ(drill.exit_code, 0);
  const nlohmann::json printed = nlohmann::json::parse(drill.out, nullptr, false);
  const nlohmann::json j = nlohmann::json::parse(ReadAll(report + "/drill.json"), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  ASSERT_FALSE(printed.is_discarded());
  // The file holds the printed report, plus the timeline.
  EXPECT_EQ(j["acknowledged_writes_checked"], printed["acknowledged_writes_checked"]);
  EXPECT_EQ(j["requests"], printed["requests"]);
  const nlohmann::json& t = j["timeline"];
  EXPECT_EQ(t["bucket_seconds"], 0.1);

  // Every request the drill counted during recovery is in the timeline
  // (which also counts from before the loss).
  uint64_t ok = 0, unavailable = 0, errors = 0;
  for (const auto& b : t["requests"]) {
    ok += b["ok"].get<uint64_t>();
    unavailable += b["unavailable"].get<uint64_t>();
    errors += b["error"].get<uint64_t>();
  }
  EXPECT_GE(ok, j["requests"]["ok"].get<uint64_t>());
  EXPECT_GE(unavailable, j["requests"]["unavailable"].get<uint64_t>());
  EXPECT_EQ(errors, 0u);

  const double lost = MarkTime(t["marks"], "lost h0");
  const double first = MarkTime(t["marks"], "first cell back");
  const double all = MarkTime(t["marks"], "all cells back");
  EXPECT_LE(lost, first);
  EXPECT_LE(first, all);
  EXPECT_NEAR(all - lost, j["time_to_full_availability_seconds"].get<double>(), 0.005);

  // Each cell has bands; only recovered cells left "serving" (the 10 ms
  // sampler may miss a fast one, but not all), and only after the loss; all
  // serve at the end.
  ASSERT_EQ(t["cells"].size(), 8u);
  const std::set<uint32_t> recovered = j["recovered_cell_ids"].get<std::set<uint32_t>>();
  ASSERT_EQ(recovered.size(), j["cells_recovered"].get<size_t>());
  std::set<uint32_t> left_serving;
  const std::set<std::string> recovering = {"queued", "fetching", "verifying", "opening",
                                            "replaying"};
  for (const auto& c : t["cells"]) {
    ASSERT_FALSE(c["bands"].empty()) << c.dump();
    for (const auto& b : c["bands"]) {
      EXPECT_LE(b["start"].get<double>(), b["end"].get<double>());
      if (recovering.count(b["band"]) != 0) {
        left_serving.insert(c["id"].get<uint32_t>());
        EXPECT_GE(b["start"].get<double>(), lost) << c.dump();
      }
    }
    const std::string last = c["bands"].back()["band"];
    EXPECT_TRUE(last == "serving" || last == "validating") << c.dump();
  }
  EXPECT_FALSE(left_serving.empty());
  for (uint32_t id : left_serving) EXPECT_EQ(recovered.count(id), 1u) << "cell " << id;

  // Self-contained: inline SVG, no script, nothing to fetch.
  const std::string page = report + "/drill.html";
  const std::string html = ReadAll(page);
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("href=")));

  // Chromium renders it: the DOM has the plots and the figures...
  const ShellRun dom = Shell(Chromium("--dump-dom", page));
  ASSERT_EQ(dom.exit_code, 0) << "is chromium-headless-shell installed (tools/install-deps.sh)?";
  for (const char* text : {"Requests per 100 ms", "Cell states", "lost h0", "all cells back",
                           "acknowledged writes lost", "time to full availability"}) {
    EXPECT_THAT(dom.out, HasSubstr(text));
  }
  EXPECT_THAT(dom.out, HasSubstr("<rect"));  // the bars and bands
  EXPECT_THAT(dom.out, HasSubstr("<title>cell 0 serving"));  // a band
  // ...and the screenshot is a PNG of the window's size with something
  // drawn in it (a blank page of this size compresses to a few KiB).
  const std::string png = dir / "shot.png";
  ASSERT_EQ(Shell(Chromium(absl::StrCat("--window-size=1000,900 --screenshot=", png), page))
                .exit_code,
            0);
  const std::string shot = ReadAll(png);
  ASSERT_GT(shot.size(), 24u);
  EXPECT_EQ(shot.substr(1, 3), "PNG");
  EXPECT_EQ(BigEndian32(shot, 16), 1000u);  // IHDR width
  EXPECT_EQ(BigEndian32(shot, 20), 900u);   // and height
  // Drawn: the "serving" green of the bars and bands covers far more than
  // its two 11x11 legend squares (242 pixels) would.
  const ShellRun green =
      Shell(absl::StrCat("/usr/bin/python3 ", PNG_COLOR_COUNT, " ", png, " 2e9d49"));
  ASSERT_EQ(green.exit_code, 0);
  EXPECT_GT(std::stoul(green.out), 20000u) << "the plots are missing from the screenshot";
  std::printf("drill page: %zu bytes of HTML; screenshot %zu bytes, %s pixels of serving green\n",
              html.size(), shot.size(), green.out.c_str());
}

// Relative paths are resolved against the working directory, and symlinks
// followed, before the report's directory is compared with the drill's.
TEST(DrillReportTest, ReportDirectoriesAreResolvedBeforeTheyAreChecked) {
  testing::ScratchDir dir;
  const std::string cli = absl::StrCat("env -C ", dir.path(), " ", CELLINDEX_CLI_PATH);
  const ShellRun ok = Shell(absl::StrCat(cli, " --data d drill --hosts 2 --cells 2 --objects 50 ",
                                         "--before 0 --after 0 --report rep 2>&1"));
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_TRUE(PathExists(dir / "rep/drill.html"));

  std::filesystem::create_directory_symlink(dir / "d/drill", dir / "link");
  ASSERT_TRUE(AtomicWriteFile(dir / "d/drill/marker", "a drill would wipe this").ok());
  for (const std::string& inside : {"d/drill/rep", "./d/../d/drill", "link/rep"}) {
    const ShellRun r =
        Shell(absl::StrCat(cli, " --data d drill --objects 10 --report ", inside, " 2>&1"));
    EXPECT_EQ(r.exit_code, 2) << inside;
    EXPECT_THAT(r.out, HasSubstr("lies inside the drill's directory")) << inside;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
  EXPECT_FALSE(PathExists(dir / "d/drill/rep"));  // nothing done
  EXPECT_TRUE(PathExists(dir / "d/drill/marker"));
}

}  // namespace
}  // namespace cellindex
