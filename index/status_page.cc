#include "index/status_page.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace cellindex {
namespace {

constexpr CellPhase kPhases[] = {CellPhase::kServing, CellPhase::kQueued, CellPhase::kFetch,
                                 CellPhase::kVerify,  CellPhase::kOpen,   CellPhase::kReplay,
                                 CellPhase::kValidate, CellPhase::kFailed};

const char* Color(CellPhase p) {
  switch (p) {
    case CellPhase::kServing:
      return "#2e7d32";
    case CellPhase::kFailed:
      return "#c62828";
    case CellPhase::kQueued:
      return "#9e9e9e";
    case CellPhase::kFetch:
      return "#1565c0";
    case CellPhase::kVerify:
      return "#6a1b9a";
    case CellPhase::kOpen:
      return "#ef6c00";
    case CellPhase::kReplay:
      return "#f9a825";
    case CellPhase::kValidate:
      return "#00838f";
  }
  return "#000";
}

std::string Escape(absl::string_view in) {
  std::string out;
  for (char c : in) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Ms(absl::Duration d) { return absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(d)); }

// Cells by state: one bar of counts, then one square per cell.
std::string CellsSvg(const StatusSnapshot& s) {
  std::map<CellPhase, int> counts;
  for (const CellStats& c : s.cells) ++counts[c.state];
  const int width = 960, bar = 28;
  const int per_row = 32, square = 26;
  const int rows = static_cast<int>((s.cells.size() + per_row - 1) / per_row);
  std::string out = absl::StrFormat(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="cells by state">)",
      width, bar + 40 + rows * (square + 4));
  double x = 0;
  const double total = std::max<size_t>(s.cells.size(), 1);
  for (CellPhase p : kPhases) {
    if (counts[p] == 0) continue;
    const double w = width * counts[p] / total;
    absl::StrAppendFormat(&out,
                          R"(<rect x="%.1f" y="0" width="%.1f" height="%d" fill="%s"><title>%s: %d</title></rect>)"
                          R"(<text x="%.1f" y="19" fill="#fff" font-size="13">%s %d</text>)",
                          x, w, bar, Color(p), CellPhaseName(p), counts[p], x + 4,
                          CellPhaseName(p), counts[p]);
    x += w;
  }
  for (size_t i = 0; i < s.cells.size(); ++i) {
    const CellStats& c = s.cells[i];
    const int cx = static_cast<int>(i % per_row) * (square + 4);
    const int cy = bar + 12 + static_cast<int>(i / per_row) * (square + 4);
    absl::StrAppendFormat(&out,
                          R"(<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>cell %d on %s: %s</title></rect>)"
                          R"(<text x="%d" y="%d" fill="#fff" font-size="10">%d</text>)",
                          cx, cy, square, square, Color(c.state), c.id, Escape(c.host),
                          CellPhaseName(c.state), cx + 3, cy + 16, c.id);
  }
  return out + "</svg>";
}

// Each pool: its hosts against the minimum, and spare cell places against
// theirs (a bar each, the minimum as a red line).
std::string PoolsSvg(const StatusSnapshot& s) {
  const int label = 140, width = 820, row = 26;
  uint64_t scale = 1;
  for (const PoolCapacity& p : s.pools) {
    scale = std::max({scale, p.hosts_before, p.min_hosts, p.spare_before.value_or(0),
                      p.min_spare_cells});
  }
  const int rows = static_cast<int>(s.pools.size()) * 2;
  std::string out = absl::StrFormat(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="pools">)",
      label + width + 20, rows * row + 4);
  int y = 0;
  auto bar = [&](const std::string& name, uint64_t have, uint64_t min, const char* color,
                 const std::string& text) {
    const double w = static_cast<double>(width) * have / scale;
    const double m = static_cast<double>(width) * min / scale;
    absl::StrAppendFormat(&out,
                          R"(<text x="0" y="%d" font-size="13">%s</text>)"
                          R"(<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>)"
                          R"(<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#c62828" stroke-width="3"/>)"
                          R"(<text x="%d" y="%d" font-size="12">%s</text>)",
                          y + 17, Escape(name), label, y + 3, w, row - 8, color, label + m,
                          label + m, y, y + row - 2, label + 6, y + 17, Escape(text));
    y += row;
  };
  for (const PoolCapacity& p : s.pools) {
    bar(p.pool + " hosts", p.hosts_before, p.min_hosts, "#90caf9",
        absl::StrCat(p.hosts_before, " hosts (min ", p.min_hosts, "), ", p.cells_before,
                     " cells"));
    if (p.spare_before.has_value()) {
      bar(p.pool + " spare", *p.spare_before, p.min_spare_cells, "#a5d6a7",
          absl::StrCat(*p.spare_before, " spare cell places (min ", p.min_spare_cells, ")"));
    } else {
      bar(p.pool + " spare", 0, 0, "#a5d6a7", "spare: no per-host cell limit");
    }
  }
  return out + "</svg>";
}

// The last recoveries: one timeline per cell, its phases in order.
std::string RecoveriesSvg(const StatusSnapshot& s) {
  std::vector<const CellStats*> recovered;
  for (const CellStats& c : s.cells) {
    if (c.recovery.source != RecoverySource::kNone) recovered.push_back(&c);
  }
  std::sort(recovered.begin(), recovered.end(), [](const CellStats* a, const CellStats* b) {
    return a->recovery.time_to_serve > b->recovery.time_to_serve;
  });
  if (recovered.size() > 16) recovered.resize(16);
  absl::Duration longest = absl::Milliseconds(1);
  for (const CellStats* c : recovered) {
    const RecoveryReport& r = c->recovery;
    longest = std::max({longest, r.time_to_serve,
                        r.fetch_time + r.verify_time + r.open_time + r.replay_time});
  }
  const int label = 200, width = 700, row = 22;
  std::string out = absl::StrFormat(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="recoveries">)",
      label + width + 120, static_cast<int>(recovered.size()) * row + 24);
  int y = 0;
  for (const CellStats* c : recovered) {
    const RecoveryReport& r = c->recovery;
    absl::StrAppendFormat(&out, R"(<text x="0" y="%d" font-size="12">cell %d (%s, %s)</text>)",
                          y + 15, c->id, Escape(c->host), RecoverySourceName(r.source));
    double x = label;
    const std::pair<CellPhase, absl::Duration> phases[] = {{CellPhase::kFetch, r.fetch_time},
                                                           {CellPhase::kVerify, r.verify_time},
                                                           {CellPhase::kOpen, r.open_time},
                                                           {CellPhase::kReplay, r.replay_time}};
    for (const auto& [phase, d] : phases) {
      const double w = width * absl::FDivDuration(d, longest);
      absl::StrAppendFormat(&out,
                            R"(<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s</title></rect>)",
                            x, y + 3, w, row - 6, Color(phase), CellPhaseName(phase), Ms(d));
      x += w;
    }
    absl::StrAppendFormat(&out, R"(<text x="%.1f" y="%d" font-size="12">serving after %s</text>)",
                          x + 6, y + 15, Ms(r.time_to_serve));
    y += row;
  }
  int lx = 0;
  for (CellPhase p : {CellPhase::kFetch, CellPhase::kVerify, CellPhase::kOpen, CellPhase::kReplay}) {
    absl::StrAppendFormat(&out,
                          R"(<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12">%s</text>)",
                          lx, y + 6, Color(p), lx + 16, y + 17, CellPhaseName(p));
    lx += 90;
  }
  return out + "</svg>";
}

std::string AuditTable(const StatusSnapshot& s) {
  std::string out =
      "<table><tr><th>time</th><th>user</th><th>operation</th><th>outcome</th><th>detail</th></tr>";
  for (auto it = s.audit_tail.rbegin(); it != s.audit_tail.rend(); ++it) {
    nlohmann::json j = nlohmann::json::parse(*it, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) continue;
    auto field = [&j](const char* name) {
      return j.contains(name) && j[name].is_string() ? j[name].get<std::string>() : std::string();
    };
    std::string detail = field("reason");
    if (detail.empty() && j.contains("hosts")) detail = j["hosts"].dump();
    absl::StrAppend(&out, "<tr><td>", Escape(field("time")), "</td><td>", Escape(field("user")),
                    "</td><td>", Escape(field("op")), "</td><td>", Escape(field("outcome")),
                    "</td><td>", Escape(detail), "</td></tr>");
  }
  return out + "</table>";
}

}  // namespace

std::string RenderStatusPage(const StatusSnapshot& s) {
  std::map<CellPhase, int> counts;
  for (const CellStats& c : s.cells) ++counts[c.state];
  const int64_t written_ms = absl::ToUnixMillis(s.written);
  const int64_t stale_ms = absl::ToInt64Milliseconds(s.rewrite_every * 3);
  const std::string when = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", s.written, absl::UTCTimeZone());
  std::string summary;
  for (CellPhase p : kPhases) {
    if (counts[p] > 0) absl::StrAppend(&summary, summary.empty() ? "" : ", ", counts[p], " ", CellPhaseName(p));
  }
  std::string hosts = "<table><tr><th>host</th><th>pool</th><th>cells</th><th>directory</th></tr>";
  std::map<std::string, int> per_host;
  for (const CellStats& c : s.cells) ++per_host[c.host];
  for (const auto& [h, d] : s.inventory.hosts) {
    absl::StrAppend(&hosts, "<tr><td>", Escape(h), "</td><td>", Escape(s.inventory.PoolOf(h)),
                    "</td><td>", per_host[h], "</td><td>", Escape(d), "</td></tr>");
  }
  hosts += "</table>";
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>cellindex status</title><style>"
      "body{font-family:sans-serif;margin:24px;color:#222}"
      "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
      "#age.stale{color:#fff;background:#c62828;padding:2px 6px}h2{margin-top:28px}"
      "</style></head><body>\n<h1>cellindex status</h1>\n<p>index ",
      Escape(s.index_id), ", cell map epoch ", s.epoch, ". Written at <time>", when,
      "</time>; <span id=\"age\" data-written-ms=\"", written_ms, "\" data-stale-ms=\"", stale_ms,
      "\">age unknown (scripts off)</span>. This page is a file of its own: it reads the same "
      "when the index and its store are down, and then grows old.</p>\n<h2>Cells by state</h2>\n<p id=\"cells\">",
      s.cells.size(), " cells: ", summary, "</p>\n", CellsSvg(s),
      "\n<h2>Hosts and pools</h2>\n", PoolsSvg(s), "\n", hosts,
      "\n<h2>Last recoveries</h2>\n", RecoveriesSvg(s), "\n<h2>Audit log (newest first)</h2>\n",
      AuditTable(s),
      "\n<script>(function(){var e=document.getElementById('age');"
      "function tick(){var ms=Date.now()-Number(e.dataset.writtenMs);var s=Math.max(0,Math.round(ms/1000));"
      "var stale=ms>Number(e.dataset.staleMs);e.textContent=(stale?'STALE: ':'')+'written '+s+' s ago'+"
      "(stale?' (the index has not rewritten it since; it may be down)':'');"
      "e.className=stale?'stale':'';}tick();setInterval(tick,1000);})();</script>\n"
      "</body></html>\n");
}

}  // namespace cellindex
