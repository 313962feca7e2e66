// Request counts and latencies of an index, by cell, operation and outcome,
// kept in prometheus-cpp counters and histograms (their core library only:
// the index serializes them as text, it serves no HTTP).
//
// Series exist from a request of their kind on: an index that never served
// a Get shows no get series. Recording takes a reader lock once a series exists.
#ifndef CELLINDEX_INDEX_REQUEST_METRICS_H_
#define CELLINDEX_INDEX_REQUEST_METRICS_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace cellindex {

// What a request asked for. Put, delete and (multi-op) write go to one cell;
// list and locate may read every cell and are counted per index.
enum class RequestOp { kPut, kDelete, kWrite, kGet, kList, kLocate };
inline constexpr size_t kRequestOps = 6;
const char* RequestOpName(RequestOp op);

// How it ended: by its status code.
enum class RequestOutcome {
  kOk,
  kNotFound,
  kInvalid,       // InvalidArgument, OutOfRange
  kPrecondition,  // FailedPrecondition (if-match / if-none-match)
  kUnavailable,   // the cell was not serving
  kDataLoss,
  kError,         // any other code
};
inline constexpr size_t kRequestOutcomes = 7;
const char* RequestOutcomeName(RequestOutcome outcome);
RequestOutcome OutcomeOf(const absl::Status& s);

class RequestMetrics {
 public:
  RequestMetrics();
  ~RequestMetrics();
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;

  // One request to the cell with id `cell`, or to the index as a whole
  // (list, locate, or `cell` == kNoCell: refused before routing).
  static constexpr size_t kNoCell = SIZE_MAX;
  void Record(size_t cell, RequestOp op, const absl::Status& status, absl::Duration latency);
  // The families of every series recorded so far.
  std::vector<prometheus::MetricFamily> Collect() const;

 private:
  struct Series {
    prometheus::Counter* count;
    prometheus::Histogram* latency;
  };
  Series* Get(size_t cell, RequestOp op, RequestOutcome outcome);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* cell_requests_;
  prometheus::Family<prometheus::Histogram>* cell_latency_;
  prometheus::Family<prometheus::Counter>* index_requests_;
  prometheus::Family<prometheus::Histogram>* index_latency_;
  // (cell, op, outcome) -> its series, made at the first request. Cells
  // come and go (splits), so the series are found by key, under a reader
  // lock once they exist.
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Series>> series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_REQUEST_METRICS_H_
