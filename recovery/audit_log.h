// The audit log of capacity changes: one JSON object per line, appended and
// fsynced before the change it records goes on (STORE/AUDIT). Never
// rewritten: a crash can leave only its last line torn, which readers skip
// and the next append ends before it writes its own.
#ifndef CELLINDEX_RECOVERY_AUDIT_LOG_H_
#define CELLINDEX_RECOVERY_AUDIT_LOG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class FileSystem;
}

namespace cellindex {

inline constexpr char kAuditLogFile[] = "AUDIT";

// Appends `line` (one JSON object, no newline in it) to the log at `path`
// and syncs it (and its directory, when the append created the file).
absl::Status AppendAuditLine(rocksdb::FileSystem& fs, const std::string& path,
                             absl::string_view line);
// The whole lines of the log, oldest first; none when there is no log.
absl::StatusOr<std::vector<std::string>> ReadAuditLog(rocksdb::FileSystem& fs,
                                                      const std::string& path);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_AUDIT_LOG_H_
