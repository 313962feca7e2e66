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

RequestMetrics::RequestMetrics(const std::vector<uint32_t>& cell_ids)
    : cell_ids_(cell_ids), registry_(std::make_shared<prometheus::Registry>()) {
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
  const size_t n = (cell_ids_.size() + 1) * kRequestOps * kRequestOutcomes;
  series_ = std::make_unique<std::atomic<Series*>[]>(n);
  for (size_t i = 0; i < n; ++i) series_[i].store(nullptr);
}

RequestMetrics::~RequestMetrics() = default;

RequestMetrics::Series* RequestMetrics::Get(size_t slot, size_t cell, RequestOp op,
                                            RequestOutcome outcome) {
  Series* s = series_[slot].load(std::memory_order_acquire);
  if (s != nullptr) return s;
  absl::MutexLock lock(&create_mu_);
  s = series_[slot].load(std::memory_order_acquire);
  if (s != nullptr) return s;
  auto created = std::make_unique<Series>();
  const bool per_cell = cell < cell_ids_.size();
  prometheus::Labels labels = {{"op", RequestOpName(op)}, {"outcome", RequestOutcomeName(outcome)}};
  if (per_cell) labels["cell"] = std::to_string(cell_ids_[cell]);
  created->count = &(per_cell ? cell_requests_ : index_requests_)->Add(labels);
  created->latency = &(per_cell ? cell_latency_ : index_latency_)->Add(labels, LatencyBuckets());
  s = created.get();
  owned_.push_back(std::move(created));
  series_[slot].store(s, std::memory_order_release);
  return s;
}

void RequestMetrics::Record(size_t cell, RequestOp op, const absl::Status& status,
                            absl::Duration latency) {
  if (op == RequestOp::kList || op == RequestOp::kLocate || cell >= cell_ids_.size()) {
    cell = cell_ids_.size();
  }
  const RequestOutcome outcome = OutcomeOf(status);
  const size_t slot =
      (cell * kRequestOps + static_cast<size_t>(op)) * kRequestOutcomes + static_cast<size_t>(outcome);
  Series* s = Get(slot, cell, op, outcome);
  s->count->Increment();
  s->latency->Observe(absl::ToDoubleSeconds(latency));
}

std::vector<prometheus::MetricFamily> RequestMetrics::Collect() const { return registry_->Collect(); }

}  // namespace cellindex
