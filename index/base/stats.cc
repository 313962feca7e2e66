#include "index/base/stats.h"

namespace cellindex {

const char* CellPhaseName(CellPhase phase) {
  switch (phase) {
    case CellPhase::kQueued:
      return "queued";
    case CellPhase::kFetch:
      return "fetch";
    case CellPhase::kVerify:
      return "verify";
    case CellPhase::kOpen:
      return "open";
    case CellPhase::kReplay:
      return "replay";
    case CellPhase::kValidate:
      return "validate";
    case CellPhase::kServing:
      return "serving";
    case CellPhase::kFailed:
      return "failed";
  }
  return "unknown";
}

const char* RecoverySourceName(RecoverySource source) {
  switch (source) {
    case RecoverySource::kNone:
      return "none";
    case RecoverySource::kLocal:
      return "local";
    case RecoverySource::kCheckpoint:
      return "checkpoint";
    case RecoverySource::kJournal:
      return "journal";
    case RecoverySource::kParent:
      return "parent";
  }
  return "unknown";
}

const char* ValidationStateName(ValidationState v) {
  switch (v) {
    case ValidationState::kOff:
      return "off";
    case ValidationState::kPending:
      return "pending";
    case ValidationState::kRunning:
      return "running";
    case ValidationState::kOk:
      return "ok";
    case ValidationState::kFailed:
      return "failed";
  }
  return "unknown";
}

}  // namespace cellindex
