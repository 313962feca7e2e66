// Exit codes of the cellindex command, one per class of outcome.
#ifndef CELLINDEX_TOOLS_EXIT_CODES_H_
#define CELLINDEX_TOOLS_EXIT_CODES_H_

#include "absl/status/status.h"
#include "index/model/capacity.h"

namespace cellindex::tools {

enum ExitCode : int {
  kExitOk = 0,
  kExitNotFound = 1,
  kExitInvalid = 2,        // invalid input or usage
  kExitPrecondition = 3,   // a precondition failed
  kExitUnavailable = 4,    // the cell is not serving
  kExitDataLoss = 5,
  kExitOther = 6,
  kExitLeaseLost = 7,      // `host`: its etcd lease is gone (or may be): it stopped at once
  // `hosts remove` refused (RemovalRefusal): nothing changed, one audit line.
  kExitUnknownHost = 10,       // a named host is not in the inventory
  kExitMatchCount = 11,        // --match matched another number of hosts than --expect
                               // (or more than one without it, or none)
  kExitBelowPoolMinimum = 12,  // a pool would drop below its minimum hosts or spare cells
  kExitSurvivorsFull = 13,     // the moved cells do not fit on the surviving hosts
  kExitUnhealthyCell = 14,     // a cell is recovering, validating or failed
  kExitStepTooLarge = 15,      // a step would take more than --max-fraction of a pool
  kExitRemovalStopped = 16,    // an executed removal (or rebalance) stopped at a failed step
};

inline int ExitCodeForRefusal(RemovalRefusal r) {
  switch (r) {
    case RemovalRefusal::kNone:
      return kExitOk;
    case RemovalRefusal::kUnknownHost:
      return kExitUnknownHost;
    case RemovalRefusal::kMatchCount:
      return kExitMatchCount;
    case RemovalRefusal::kBelowPoolMinimum:
      return kExitBelowPoolMinimum;
    case RemovalRefusal::kSurvivorsFull:
      return kExitSurvivorsFull;
    case RemovalRefusal::kUnhealthyCell:
      return kExitUnhealthyCell;
    case RemovalRefusal::kStepTooLarge:
      return kExitStepTooLarge;
  }
  return kExitOther;
}

inline int ExitCodeFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalid;
    case absl::StatusCode::kFailedPrecondition:
      return kExitPrecondition;
    case absl::StatusCode::kUnavailable:
      return kExitUnavailable;
    case absl::StatusCode::kDataLoss:
      return kExitDataLoss;
    default:
      return kExitOther;
  }
}

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_EXIT_CODES_H_
