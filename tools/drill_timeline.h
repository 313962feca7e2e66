// What happened over a drill, moment by moment, for its report page
// (tools/drill_page.h): requests per 100 ms by outcome, each cell's state as
// sampled (a band per state), and the moments of host loss and recovery.
// Thread-safe: the workers count, a sampler thread samples, the drill marks.
#ifndef CELLINDEX_TOOLS_DRILL_TIMELINE_H_
#define CELLINDEX_TOOLS_DRILL_TIMELINE_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "index/index.h"

namespace cellindex::tools {

// A request's outcome, as the drill classifies it.
enum class RequestOutcome { kOk, kUnavailable, kError };
inline constexpr int kRequestOutcomes = 3;
const char* RequestOutcomeName(RequestOutcome outcome);

// What a cell is doing, as a band of the timeline.
enum class CellBand { kServing, kQueued, kFetching, kVerifying, kOpening, kReplaying,
                      kValidating, kFailed };
inline constexpr int kCellBands = 8;
const char* CellBandName(CellBand band);
// A cell's band from its stats: its phase, and "validating" for a serving
// cell whose background validation runs.
CellBand BandOf(const CellStats& cell);

class DrillTimeline {
 public:
  static constexpr absl::Duration kBucket = absl::Milliseconds(100);

  // A stretch of time a cell spent in one band, from the timeline's start.
  struct Segment {
    CellBand band;
    absl::Duration start, end;
  };
  struct Mark {
    absl::Duration at;
    std::string label;
  };
  // What was recorded, copied out.
  struct Snapshot {
    absl::Duration length;  // the last moment recorded
    // Requests per bucket, by outcome: buckets[i][RequestOutcome].
    std::vector<std::array<uint64_t, kRequestOutcomes>> buckets;
    std::vector<CellId> cell_ids;                 // in sample order
    std::vector<std::vector<Segment>> segments;   // per cell, in time order
    std::vector<Mark> marks;                      // in time order
  };

  explicit DrillTimeline(absl::Time start) : start_(start) {}

  void Count(RequestOutcome outcome, absl::Time now = absl::Now());
  // Records each cell's band at `now`: extends its current segment, or
  // starts a new one where the band changed.
  void Sample(const IndexStats& stats, absl::Time now = absl::Now());
  void AddMark(std::string label, absl::Time at = absl::Now());

  Snapshot Get() const;

 private:
  absl::Duration Since(absl::Time t) const;

  const absl::Time start_;
  mutable absl::Mutex mu_;
  absl::Duration last_ ABSL_GUARDED_BY(mu_);
  std::vector<std::array<uint64_t, kRequestOutcomes>> buckets_ ABSL_GUARDED_BY(mu_);
  std::vector<CellId> cell_ids_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  std::vector<Mark> marks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_DRILL_TIMELINE_H_
