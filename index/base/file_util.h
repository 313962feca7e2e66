// File helpers with the durability rules of the project. Every file cellindex
// writes (journal segments, store objects, the cell map) goes through a
// rocksdb::FileSystem, the same one its RocksDB instances use, so a test can
// put a fault-injecting file system under all of it.
//
// A file is published by writing a temporary, syncing it, renaming it over
// the target and syncing the directory, so a crash at any byte leaves the old
// or the new contents, never a mix.
#ifndef CELLINDEX_INDEX_BASE_FILE_UTIL_H_
#define CELLINDEX_INDEX_BASE_FILE_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/base/rocks_status.h"
#include "rocksdb/file_system.h"

namespace cellindex {

// Options for files cellindex writes itself: plain write(2) calls (RocksDB's
// default for EnvOptions is mmap writes), fallocate allowed.
rocksdb::FileOptions PlainFileOptions();

// Creates `dir` and its missing parents, syncing each directory it created
// and its parent so the new entries survive a crash.
absl::Status CreateDirs(rocksdb::FileSystem& fs, const std::string& dir);
absl::Status SyncDir(rocksdb::FileSystem& fs, const std::string& dir);
// Create `path`, write, sync (no rename, no directory sync): for a file
// written where nothing reads it yet, in a directory the caller renames
// into place as a whole. A failure removes what it wrote.
absl::Status WriteSyncedFile(rocksdb::FileSystem& fs, const std::string& path,
                             absl::string_view contents);
// Write temp, sync, rename over `path`, sync the directory.
absl::Status AtomicWriteFile(rocksdb::FileSystem& fs, const std::string& path,
                             absl::string_view contents);
// NotFound when `path` does not exist.
absl::StatusOr<std::string> ReadFileToString(rocksdb::FileSystem& fs, const std::string& path);
// Names (not paths) of the entries of `dir`, sorted; NotFound when missing.
absl::StatusOr<std::vector<std::string>> ListDir(rocksdb::FileSystem& fs, const std::string& dir);
bool PathExists(rocksdb::FileSystem& fs, const std::string& path);
// NotFound when missing.
absl::StatusOr<bool> IsDirectory(rocksdb::FileSystem& fs, const std::string& path);
absl::StatusOr<uint64_t> FileSize(rocksdb::FileSystem& fs, const std::string& path);
// Renames `from` to `to` and syncs the directories of both.
absl::Status RenameDurably(rocksdb::FileSystem& fs, const std::string& from,
                           const std::string& to);
// Removes `path` and everything below it; OK when it does not exist.
absl::Status RemoveAll(rocksdb::FileSystem& fs, const std::string& path);

// The directory part of `path` ("." for a bare name).
std::string ParentDir(const std::string& path);
// `path` made absolute against the working directory, without "." and ".."
// components and repeated or trailing slashes.
std::string NormalPath(rocksdb::FileSystem& fs, const std::string& path);
// Whether `inner` is `outer` or lies below it (both normalised).
bool PathWithin(const std::string& inner, const std::string& outer);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_BASE_FILE_UTIL_H_
