// Small POSIX file helpers with the durability rules of the project: a file is
// published by writing a temporary, fsyncing it, renaming it over the target
// and fsyncing the directory, so a crash at any byte leaves the old or the new
// contents, never a mix.
#ifndef CELLINDEX_RECOVERY_FILE_UTIL_H_
#define CELLINDEX_RECOVERY_FILE_UTIL_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cellindex {

// The errno of the failed call as a Status whose message names the call and path.
absl::Status ErrnoStatus(absl::string_view call, absl::string_view path, int err);

// Creates `dir` and its missing parents, fsyncing each directory it created
// and its parent so the new entries survive a crash.
absl::Status CreateDirs(const std::string& dir);
absl::Status SyncDir(const std::string& dir);
// Write temp, fsync, rename over `path`, fsync the directory.
absl::Status AtomicWriteFile(const std::string& path, absl::string_view contents);
// NotFound when `path` does not exist.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);
// Names (not paths) of the entries of `dir`, sorted; NotFound when missing.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir);
bool PathExists(const std::string& path);
// Removes `path` and everything below it; OK when it does not exist.
absl::Status RemoveAll(const std::string& path);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_FILE_UTIL_H_
