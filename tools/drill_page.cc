#include "tools/drill_page.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"
#include "rocksdb/file_system.h"
#include "tools/progress.h"

namespace cellindex::tools {
namespace {

// Layout of both plots, in SVG user units: a shared time axis.
constexpr double kWidth = 960, kLeft = 150, kRight = 20;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kRequestsHeight = 200, kAxis = 28;
constexpr double kMarkRow = 12;  // one row per mark's label, above the plot
constexpr double kRow = 12, kRowGap = 3;

const char* OutcomeColor(int outcome) {
  static const char* const kColors[kRequestOutcomes] = {"#2e9d49", "#f0a020", "#d33b3b"};
  return kColors[outcome];
}

const char* BandColor(CellBand band) {
  static const char* const kColors[kCellBands] = {"#2e9d49", "#b8b8b8", "#5b84d6", "#8d6ad6",
                                                  "#d6875b", "#d6bd4a", "#4fc1b0", "#d33b3b"};
  return kColors[static_cast<int>(band)];
}

std::string Escape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// The time axis: [0, span] seconds onto [kLeft, kLeft + kPlotWidth].
struct TimeAxis {
  double span;  // seconds
  double X(double t) const { return kLeft + std::clamp(t / span, 0.0, 1.0) * kPlotWidth; }
  double X(absl::Duration d) const { return X(absl::ToDoubleSeconds(d)); }
  // A tick every this many seconds: at most 15 ticks.
  double Step() const {
    for (double s : {0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0}) {
      if (span / s <= 15) return s;
    }
    return std::ceil(span / 15 / 60) * 60;
  }
};

// Ticks and their labels along y = `y`, and grid lines up to `top`.
std::string TimeTicks(const TimeAxis& axis, double y, double top) {
  std::string out;
  const double step = axis.Step();
  for (double t = 0; t <= axis.span + 1e-9; t += step) {
    const double x = axis.X(t);
    absl::StrAppendFormat(&out,
                          "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' class='grid'/>"
                          "<text x='%.1f' y='%.1f' class='tick'>%gs</text>\n",
                          x, top, x, y, x, y + 14, t);
  }
  return out;
}

// The marks (host loss, recovery) as dashed lines down to `bottom`. With
// `labels`, each label has a row of its own above `top` (marks close
// together stay readable) and its line starts there; otherwise lines start
// at `top`.
std::string Marks(const TimeAxis& axis, const std::vector<DrillTimeline::Mark>& marks, double top,
                  double bottom, bool labels) {
  std::string out;
  for (size_t i = 0; i < marks.size(); ++i) {
    const double x = axis.X(marks[i].at);
    const double row = top - (marks.size() - i) * kMarkRow;
    absl::StrAppendFormat(&out, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' class='mark'/>\n",
                          x, labels ? row : top, x, bottom);
    if (labels) {
      // Right of the line, or left of it near the plot's right end.
      const bool left = x > kLeft + 0.8 * kPlotWidth;
      absl::StrAppendFormat(&out,
                            "<text x='%.1f' y='%.1f' class='marklabel' text-anchor='%s'>%s</text>\n",
                            left ? x - 3 : x + 3, row + 9, left ? "end" : "start",
                            Escape(marks[i].label));
    }
  }
  return out;
}

std::string Legend(const std::vector<std::pair<std::string, const char*>>& items) {
  std::string out = "<div class='legend'>";
  for (const auto& [name, color] : items) {
    absl::StrAppend(&out, "<span><i style='background:", color, "'></i>", Escape(name),
                    "</span>");
  }
  return out + "</div>\n";
}

std::string RequestsSvg(const TimeAxis& axis, const DrillTimeline::Snapshot& t) {
  uint64_t most = 1;
  for (const auto& b : t.buckets) most = std::max(most, b[0] + b[1] + b[2]);
  const double top = 8 + kMarkRow * t.marks.size();
  const double bottom = top + kRequestsHeight;
  std::string out = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' role='img' "
      "aria-label='requests per 100 ms by outcome'>\n",
      kWidth, bottom + kAxis);
  absl::StrAppend(&out, TimeTicks(axis, bottom, top));
  absl::StrAppendFormat(&out,
                        "<text x='%.1f' y='%.1f' class='ylabel'>%d</text>"
                        "<text x='%.1f' y='%.1f' class='ylabel'>0</text>\n",
                        kLeft - 6, top + 4, most, kLeft - 6, bottom);
  const double width = kPlotWidth * absl::ToDoubleSeconds(DrillTimeline::kBucket) / axis.span;
  for (size_t i = 0; i < t.buckets.size(); ++i) {
    const double x = axis.X(absl::ToDoubleSeconds(DrillTimeline::kBucket) * i);
    double y = bottom;
    for (int o = 0; o < kRequestOutcomes; ++o) {
      if (t.buckets[i][o] == 0) continue;
      const double h = kRequestsHeight * t.buckets[i][o] / most;
      y -= h;
      absl::StrAppendFormat(&out,
                            "<rect x='%.2f' y='%.2f' width='%.2f' height='%.2f' fill='%s'>"
                            "<title>%.1fs: %d %s</title></rect>\n",
                            x, y, std::max(0.5, width - 0.4), h, OutcomeColor(o),
                            0.1 * i, t.buckets[i][o],
                            RequestOutcomeName(static_cast<RequestOutcome>(o)));
    }
  }
  absl::StrAppend(&out, Marks(axis, t.marks, top, bottom, true));
  return out + "</svg>\n";
}

std::string BandsSvg(const TimeAxis& axis, const DrillResult& r,
                     const DrillTimeline::Snapshot& t) {
  const double top = 8;
  const double bottom = top + t.cell_ids.size() * (kRow + kRowGap);
  std::string out = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' role='img' "
      "aria-label='each cell&#39;s state over the drill'>\n",
      kWidth, bottom + kAxis);
  absl::StrAppend(&out, TimeTicks(axis, bottom, top));
  for (size_t i = 0; i < t.cell_ids.size(); ++i) {
    const CellId id = t.cell_ids[i];
    const double y = top + i * (kRow + kRowGap);
    const bool recovered =
        std::find(r.recovering.begin(), r.recovering.end(), id) != r.recovering.end();
    const CellStats* cell = CellById(r.stats, id);
    const std::string host = cell != nullptr ? cell->host : "";
    absl::StrAppendFormat(&out, "<text x='%.1f' y='%.1f' class='%s'>cell %d %s</text>\n",
                          kLeft - 6, y + kRow - 2, recovered ? "rowlabel lost" : "rowlabel", id,
                          Escape(host));
    for (const DrillTimeline::Segment& s : t.segments[i]) {
      const double x0 = axis.X(s.start), x1 = std::max(axis.X(s.end), x0 + 1);
      absl::StrAppendFormat(&out,
                            "<rect x='%.2f' y='%.1f' width='%.2f' height='%.1f' fill='%s'>"
                            "<title>cell %d %s %.3fs to %.3fs</title></rect>\n",
                            x0, y, x1 - x0, kRow, BandColor(s.band), id, CellBandName(s.band),
                            absl::ToDoubleSeconds(s.start), absl::ToDoubleSeconds(s.end));
    }
  }
  absl::StrAppend(&out, Marks(axis, t.marks, top, bottom, false));
  return out + "</svg>\n";
}

std::string Row(absl::string_view name, absl::string_view value) {
  return absl::StrCat("<tr><th>", Escape(name), "</th><td>", Escape(value), "</td></tr>\n");
}

std::string FiguresTable(const DrillOptions& d, const DrillResult& r, const Outcomes& o) {
  const DrillSummary m = Summarize(r, o);
  std::string out = "<table class='figures'>\n";
  absl::StrAppend(&out, Row("time to first availability", HumanDuration(r.first_available)),
                  Row("time to full availability", HumanDuration(r.full_available)),
                  Row("cells recovered", absl::StrCat(r.recovering.size(), " (", m.failed_cells,
                                                      " failed)")),
                  Row("restore", d.restore_mode == RestoreMode::kCopy ? "by copy" : "in place"),
                  Row("bytes fetched", HumanBytes(m.bytes_fetched)),
                  Row("served from the store while copied", HumanBytes(m.bytes_in_store)),
                  Row("journal records replayed", absl::StrCat(m.records_replayed)));
  absl::StrAppend(
      &out,
      Row("requests during recovery",
          absl::StrFormat("%d: %.2f%% ok, %d unavailable, %d errors", m.requests, m.availability,
                          o.unavailable.load(), o.errors.load())),
      Row("requests to cells never lost",
          absl::StrFormat("%d: %.2f%% ok", m.healthy, m.healthy_availability)),
      Row("writes acknowledged during the drill", absl::StrCat(r.writes_acked)),
      Row("acknowledged writes checked", absl::StrCat(r.checked)),
      Row("acknowledged writes lost", absl::StrCat(r.lost)));
  absl::StrAppend(&out, "</table>\n<table class='figures'>\n"
                        "<tr><th>per recovered cell</th><td>median</td><td>max</td></tr>\n");
  for (const auto& [name, p] : m.phases) {
    absl::StrAppend(&out, "<tr><th>", name, "</th><td>", HumanDuration(p.median), "</td><td>",
                    HumanDuration(p.max), "</td></tr>\n");
  }
  return out + "</table>\n";
}

constexpr char kStyle[] = R"(<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 4px}
.sub{color:#555;margin:0 0 12px}
.legend span{margin-right:14px;white-space:nowrap} .legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
.grid{stroke:#e4e4e4} .mark{stroke:#333;stroke-dasharray:4 3}
.tick{font-size:11px;text-anchor:middle;fill:#555} .ylabel{font-size:11px;text-anchor:end;fill:#555}
.marklabel{font-size:11px;fill:#222} .rowlabel{font-size:10px;text-anchor:end;fill:#555} .lost{fill:#b02020;font-weight:bold}
table.figures{border-collapse:collapse;margin:8px 24px 8px 0;display:inline-table;vertical-align:top}
.figures th{text-align:left;font-weight:normal;color:#555;padding:2px 12px 2px 0} .figures td{padding:2px 12px 2px 0}
</style>
)";

}  // namespace

Json TimelineJson(const DrillResult& r, const DrillTimeline::Snapshot& t) {
  Json j;
  j["bucket_seconds"] = absl::ToDoubleSeconds(DrillTimeline::kBucket);
  j["requests"] = Json::array();
  for (size_t i = 0; i < t.buckets.size(); ++i) {
    Json b;
    b["t"] = absl::ToDoubleSeconds(DrillTimeline::kBucket * static_cast<int64_t>(i));
    for (int o = 0; o < kRequestOutcomes; ++o) {
      b[RequestOutcomeName(static_cast<RequestOutcome>(o))] = t.buckets[i][o];
    }
    j["requests"].push_back(b);
  }
  j["cells"] = Json::array();
  for (size_t i = 0; i < t.cell_ids.size(); ++i) {
    Json c;
    c["id"] = t.cell_ids[i];
    const CellStats* cell = CellById(r.stats, t.cell_ids[i]);
    c["host"] = cell != nullptr ? cell->host : "";
    c["bands"] = Json::array();
    for (const DrillTimeline::Segment& s : t.segments[i]) {
      c["bands"].push_back({{"band", CellBandName(s.band)},
                            {"start", absl::ToDoubleSeconds(s.start)},
                            {"end", absl::ToDoubleSeconds(s.end)}});
    }
    j["cells"].push_back(c);
  }
  j["marks"] = Json::array();
  for (const DrillTimeline::Mark& m : t.marks) {
    j["marks"].push_back({{"t", absl::ToDoubleSeconds(m.at)}, {"label", m.label}});
  }
  return j;
}

std::string RenderDrillPage(const DrillOptions& d, const DrillResult& r, const Outcomes& o,
                            const DrillTimeline::Snapshot& t) {
  // The axis ends at the next half second (whole seconds past 10 s).
  const double length = absl::ToDoubleSeconds(t.length);
  const TimeAxis axis{length <= 10 ? std::max(0.5, std::ceil(length * 2) / 2)
                                   : std::ceil(length)};
  const std::string what =
      d.all ? std::string("cold start of every host")
            : absl::StrCat("lost ", d.lose, " host(s): ", absl::StrJoin(r.lost_hosts, ", "));
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
      "<title>cellindex drill</title>\n",
      kStyle, "</head><body>\n<h1>cellindex drill</h1>\n<p class='sub'>",
      Escape(absl::StrFormat("%d hosts, %d cells, %d objects; %s. Written %s.", d.hosts,
                             r.stats.cells.size(), d.objects, what, Iso8601(absl::Now()))),
      "</p>\n");
  absl::StrAppend(&out, "<h2>Requests per 100 ms</h2>\n");
  std::vector<std::pair<std::string, const char*>> outcomes;
  for (int i = 0; i < kRequestOutcomes; ++i) {
    outcomes.emplace_back(RequestOutcomeName(static_cast<RequestOutcome>(i)), OutcomeColor(i));
  }
  absl::StrAppend(&out, Legend(outcomes), RequestsSvg(axis, t));
  absl::StrAppend(&out, "<h2>Cell states</h2>\n");
  std::vector<std::pair<std::string, const char*>> bands;
  for (int i = 0; i < kCellBands; ++i) {
    bands.emplace_back(CellBandName(static_cast<CellBand>(i)),
                       BandColor(static_cast<CellBand>(i)));
  }
  absl::StrAppend(&out, Legend(bands), BandsSvg(axis, r, t));
  absl::StrAppend(&out, "<p class='sub'>Cells in bold red were lost and recovered. Marks: ");
  std::vector<std::string> marks;
  for (const DrillTimeline::Mark& m : t.marks) {
    marks.push_back(absl::StrFormat("%s at %.3fs", Escape(m.label), absl::ToDoubleSeconds(m.at)));
  }
  absl::StrAppend(&out, absl::StrJoin(marks, "; "), ".</p>\n");
  absl::StrAppend(&out, "<h2>Figures</h2>\n", FiguresTable(d, r, o), "</body></html>\n");
  return out;
}

absl::Status WriteDrillReport(const std::string& dir, const DrillOptions& d, const DrillResult& r,
                              const Outcomes& o, const DrillTimeline::Snapshot& t) {
  rocksdb::FileSystem& fs = *rocksdb::FileSystem::Default();
  if (absl::Status s = CreateDirs(fs, dir); !s.ok()) return s;
  Json j = DrillJson(d, r, o);
  j["timeline"] = TimelineJson(r, t);
  const std::string json = j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  if (absl::Status s = AtomicWriteFile(fs, dir + "/drill.json", json); !s.ok()) return s;
  return AtomicWriteFile(fs, dir + "/drill.html", RenderDrillPage(d, r, o, t));
}

}  // namespace cellindex::tools
