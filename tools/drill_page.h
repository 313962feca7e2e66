// `cellindex drill --report DIR`: the drill as a page. DIR/drill.html is
// self-contained (inline CSS and SVG, no script, nothing fetched), so it
// shows wherever it is copied; DIR/drill.json holds the same data (the
// report's JSON plus the timeline). Each file is written atomically.
//
// The page plots the timeline: requests per 100 ms by outcome (ok,
// unavailable, error) as stacked bars, and each cell's state as bands
// (serving, queued, fetching, verifying, opening, replaying, validating,
// failed), with the moments of host loss and recovery marked across both;
// then the figures the drill prints.
//
// The SVG is written here rather than by gnuplot (its svg terminal, run as
// a child process): both plots are bars and rectangles on a shared time
// axis, which take less code than a gnuplot script and its data files, and
// the main job then needs no plotting package and no child process. See
// README ("The drill report") for the comparison.
#ifndef CELLINDEX_TOOLS_DRILL_PAGE_H_
#define CELLINDEX_TOOLS_DRILL_PAGE_H_

#include <string>

#include "absl/status/status.h"
#include "tools/drill_internal.h"
#include "tools/drill_timeline.h"

namespace cellindex::tools {

// The page's HTML.
std::string RenderDrillPage(const DrillOptions& options, const DrillResult& result,
                            const Outcomes& outcomes, const DrillTimeline::Snapshot& timeline);
// The timeline as JSON: {"bucket_seconds", "requests": [{"t", "ok",
// "unavailable", "error"}...], "cells": [{"id", "host", "bands": [{"band",
// "start", "end"}...]}...], "marks": [{"t", "label"}...]} (times in seconds
// from the timeline's start).
Json TimelineJson(const DrillResult& result, const DrillTimeline::Snapshot& timeline);

// Writes drill.html and drill.json into `dir` (created if missing).
absl::Status WriteDrillReport(const std::string& dir, const DrillOptions& options,
                              const DrillResult& result, const Outcomes& outcomes,
                              const DrillTimeline::Snapshot& timeline);

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_DRILL_PAGE_H_
