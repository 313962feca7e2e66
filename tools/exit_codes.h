// Exit codes of the cellindex command, one per class of outcome.
#ifndef CELLINDEX_TOOLS_EXIT_CODES_H_
#define CELLINDEX_TOOLS_EXIT_CODES_H_

#include "absl/status/status.h"

namespace cellindex::tools {

enum ExitCode : int {
  kExitOk = 0,
  kExitNotFound = 1,
  kExitInvalid = 2,        // invalid input or usage
  kExitPrecondition = 3,   // a precondition failed
  kExitUnavailable = 4,    // the cell is not serving
  kExitDataLoss = 5,
  kExitOther = 6,
};

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
