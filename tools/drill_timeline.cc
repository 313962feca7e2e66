#include "tools/drill_timeline.h"

#include <algorithm>

namespace cellindex::tools {

const char* RequestOutcomeName(RequestOutcome outcome) {
  static const char* const kNames[kRequestOutcomes] = {"ok", "unavailable", "error"};
  return kNames[static_cast<int>(outcome)];
}

const char* CellBandName(CellBand band) {
  static const char* const kNames[kCellBands] = {"serving",   "queued",  "fetching",
                                                 "verifying", "opening", "replaying",
                                                 "validating", "failed"};
  return kNames[static_cast<int>(band)];
}

CellBand BandOf(const CellStats& cell) {
  switch (cell.state) {
    case CellPhase::kQueued:
      return CellBand::kQueued;
    case CellPhase::kFetch:
      return CellBand::kFetching;
    case CellPhase::kVerify:
      return CellBand::kVerifying;
    case CellPhase::kOpen:
      return CellBand::kOpening;
    case CellPhase::kReplay:
      return CellBand::kReplaying;
    case CellPhase::kValidate:
      return CellBand::kValidating;
    case CellPhase::kFailed:
      return CellBand::kFailed;
    case CellPhase::kServing:
      break;
  }
  return cell.validation == ValidationState::kRunning ? CellBand::kValidating : CellBand::kServing;
}

absl::Duration DrillTimeline::Since(absl::Time t) const {
  return std::max(absl::ZeroDuration(), t - start_);
}

void DrillTimeline::Count(RequestOutcome outcome, absl::Time now) {
  const absl::Duration at = Since(now);
  const size_t bucket = static_cast<size_t>(at / kBucket);
  absl::MutexLock lock(&mu_);
  if (buckets_.size() <= bucket) buckets_.resize(bucket + 1);
  ++buckets_[bucket][static_cast<int>(outcome)];
  last_ = std::max(last_, at);
}

void DrillTimeline::Sample(const IndexStats& stats, absl::Time now) {
  const absl::Duration at = Since(now);
  absl::MutexLock lock(&mu_);
  for (const CellStats& c : stats.cells) {
    auto it = std::find(cell_ids_.begin(), cell_ids_.end(), c.id);
    const size_t i = static_cast<size_t>(it - cell_ids_.begin());
    if (it == cell_ids_.end()) {
      cell_ids_.push_back(c.id);
      segments_.emplace_back();
    }
    std::vector<Segment>& s = segments_[i];
    const CellBand band = BandOf(c);
    if (!s.empty() && s.back().band == band) {
      s.back().end = at;
    } else {
      // The previous band lasted until this sample saw the change.
      if (!s.empty()) s.back().end = at;
      s.push_back({band, at, at});
    }
  }
  last_ = std::max(last_, at);
}

void DrillTimeline::AddMark(std::string label, absl::Time at) {
  const absl::Duration since = Since(at);
  absl::MutexLock lock(&mu_);
  auto pos = std::upper_bound(marks_.begin(), marks_.end(), since,
                              [](absl::Duration d, const Mark& m) { return d < m.at; });
  marks_.insert(pos, {since, std::move(label)});
  last_ = std::max(last_, since);
}

DrillTimeline::Snapshot DrillTimeline::Get() const {
  absl::MutexLock lock(&mu_);
  return {last_, buckets_, cell_ids_, segments_, marks_};
}

}  // namespace cellindex::tools
