#include "index/request_metrics.h"

#include <string>

namespace cellindex {
namespace {

// Seconds: 50 us to 2.5 s. A request held by a drain or a recovery lands in
// the top buckets.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
      0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
  return *buckets;
}

}  // namespace

const char* RequestOpName(RequestOp op) {
  switch (op) {
    case RequestOp::kPut:
      return "put";
    case RequestOp::kDelete:
      return "delete";
    case RequestOp::kWrite:
      return "write";
    case RequestOp::kGet:
      return "get";
    case RequestOp::kList:
      return "list";
    case RequestOp::kLocate:
      return "locate";
  }
  return "unknown";
}

const char* RequestOutcomeName(RequestOutcome outcome) {
  switch (outcome) {
    case RequestOutcome::kOk:
      return "ok";
    case RequestOutcome::kNotFound:
      return "not_found";
    case RequestOutcome::kInvalid:
      return "invalid";
    case RequestOutcome::kPrecondition:
      return "precondition_failed";
    case RequestOutcome::kUnavailable:
      return "unavailable";
    case RequestOutcome::kDataLoss:
      return "data_loss";
    case RequestOutcome::kError:
      return "error";
  }
  return "unknown";
}

RequestOutcome OutcomeOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return RequestOutcome::kOk;
    case absl::StatusCode::kNotFound:
      return RequestOutcome::kNotFound;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return RequestOutcome::kInvalid;
    case absl::StatusCode::kFailedPrecondition:
      return RequestOutcome::kPrecondition;
    case absl::StatusCode::kUnavailable:
      return RequestOutcome::kUnavailable;
    case absl::StatusCode::kDataLoss:
      return RequestOutcome::kDataLoss;
    default:
      return RequestOutcome::kError;
  }
}

RequestMetrics::RequestMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  cell_requests_ = &prometheus::BuildCounter()
                        .Name("cellindex_cell_requests_total")
                        .Help("Requests to a cell, by operation and outcome")
                        .Register(*registry_);
  cell_latency_ = &prometheus::BuildHistogram()
                       .Name("cellindex_cell_request_duration_seconds")
                       .Help("Latency of requests to a cell, by operation and outcome")
                       .Register(*registry_);
  index_requests_ = &prometheus::BuildCounter()
                         .Name("cellindex_index_requests_total")
                         .Help("Requests not counted for one cell (list and locate, which may read every cell, and writes refused before routing), by operation and outcome")
                         .Register(*registry_);
  index_latency_ = &prometheus::BuildHistogram()
                        .Name("cellindex_index_request_duration_seconds")
                        .Help("Latency of the requests of cellindex_index_requests_total")
                        .Register(*registry_);
}

RequestMetrics::~RequestMetrics() = default;

RequestMetrics::Series* RequestMetrics::Get(size_t cell, RequestOp op, RequestOutcome outcome) {
  const bool per_cell = cell != kNoCell;
  const uint64_t key = ((per_cell ? static_cast<uint64_t>(cell) + 1 : 0) * kRequestOps +
                        static_cast<uint64_t>(op)) *
                           kRequestOutcomes +
                       static_cast<uint64_t>(outcome);
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(key);
    if (it != series_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Series>& s = series_[key];
  if (s != nullptr) return s.get();
  s = std::make_unique<Series>();
  prometheus::Labels labels = {{"op", RequestOpName(op)}, {"outcome", RequestOutcomeName(outcome)}};
  if (per_cell) labels["cell"] = std::to_string(cell);
  s->count = &(per_cell ? cell_requests_ : index_requests_)->Add(labels);
  s->latency = &(per_cell ? cell_latency_ : index_latency_)->Add(labels, LatencyBuckets());
  return s.get();
}

void RequestMetrics::Record(size_t cell, RequestOp op, const absl::Status& status,
                            absl::Duration latency) {
  if (op == RequestOp::kList || op == RequestOp::kLocate) cell = kNoCell;
  Series* s = Get(cell, op, OutcomeOf(status));
  s->count->Increment();
  s->latency->Observe(absl::ToDoubleSeconds(latency));
}

std::vector<prometheus::MetricFamily> RequestMetrics::Collect() const { return registry_->Collect(); }

}  // namespace cellindex
