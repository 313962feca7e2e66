// Helpers shared by the tests: a scratch directory removed at the end, and a
// small index opened in one.
#ifndef CELLINDEX_TESTS_TEST_UTIL_H_
#define CELLINDEX_TESTS_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "index/base/stats.h"
#include "index/cell/cell_resources.h"
#include "index/index.h"
#include "recovery/store/durable_store.h"
#include "index/base/file_util.h"
#include "rocksdb/file_system.h"
#include "tests/scratch_dir.h"

namespace cellindex {

// The names of the states tests compare, in failure messages.
inline std::ostream& operator<<(std::ostream& os, CellPhase p) { return os << CellPhaseName(p); }
inline std::ostream& operator<<(std::ostream& os, ValidationState v) {
  return os << ValidationStateName(v);
}
inline std::ostream& operator<<(std::ostream& os, RecoverySource s) {
  return os << RecoverySourceName(s);
}

// The file helpers on the default file system, for tests that look at or
// damage files directly (the library always passes its own file system).
inline rocksdb::FileSystem& DefaultFs() { return *rocksdb::FileSystem::Default(); }
inline absl::Status RemoveAll(const std::string& path) { return RemoveAll(DefaultFs(), path); }
inline bool PathExists(const std::string& path) { return PathExists(DefaultFs(), path); }
inline absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  return ReadFileToString(DefaultFs(), path);
}
inline absl::Status AtomicWriteFile(const std::string& path, absl::string_view contents) {
  return AtomicWriteFile(DefaultFs(), path, contents);
}
inline absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  return ListDir(DefaultFs(), dir);
}
inline absl::StatusOr<FileDigest> DigestFile(const std::string& path) {
  return DigestFile(DefaultFs(), path);
}

}  // namespace cellindex

namespace cellindex::testing {

// Built with ASan or TSan: every step runs several times slower there, so
// the longest randomized and table-driven tests run a smaller share of
// their cases (each says which); as built, all of them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kUnderSanitizer = true;
#else
inline constexpr bool kUnderSanitizer = false;
#endif

// A directory in memory when the machine has one (/dev/shm), else the
// temporary directory: for tests whose durability a fault-injecting file
// system models, so that real fsyncs cost nothing.
inline std::string MemoryDirOrTemp() {
  std::error_code ec;
  return std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "";
}

// A record of `size` bytes, with an ETag ("etag-<size>" unless given), a
// content type, one user metadata entry and one extent (node-1, vol-1).
inline ObjectRecord SizedRecord(uint64_t size, std::string etag = "") {
  ObjectRecord r;
  r.size = size;
  r.etag = etag.empty() ? absl::StrCat("\"etag-", size, "\"") : std::move(etag);
  r.content_type = "application/octet-stream";
  r.storage_class = "STANDARD";
  r.user_metadata = {{"n", absl::StrCat(size)}};
  r.locations = {{"node-1", "vol-1", 0, size + 1}};
  return r;
}

// Options for an index in `dir` (data/ and store/ below it): sync
// durability, small caches, 4 MiB memtables, one cell.
inline Options SyncIndexOptions(const ScratchDir& dir) {
  Options o;
  o.data_dir = dir / "data";
  o.store_dir = dir / "store";
  o.block_cache_bytes = 8 << 20;
  o.write_buffer_bytes = 32 << 20;
  o.cell_write_buffer_bytes = 4 << 20;
  return o;
}

// Options for a small index in `dir`: small caches and memtables, buffered
// durability, and the given cell boundaries (none: one cell).
inline Options SmallIndexOptions(const ScratchDir& dir,
                                 std::vector<std::string> boundaries = {}) {
  Options o;
  o.data_dir = dir / "data";
  o.store_dir = dir / "store";
  o.durability = Durability::kBuffered;
  o.block_cache_bytes = 8 << 20;
  o.write_buffer_bytes = 32 << 20;
  o.cell_write_buffer_bytes = 1 << 20;
  o.cell_boundaries = std::move(boundaries);
  return o;
}

// Polls `done` until it holds or `timeout` passes; false on timeout. For
// conditions no event announces (a background thread's progress): assert
// on the result, so a condition that never comes fails the test.
template <typename Pred>
bool WaitUntil(Pred done, absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// A cell's RocksDB opened directly, with both its column families (the
// records and state; the reverse index: index/cell/cell_keys.h), for tests
// that look into a state or tamper with it. The index must not have it open.
struct RawCellDb {
  explicit RawCellDb(const std::filesystem::path& dir) : resources(MakeCellResources(Options())) {
    rocksdb::Status s = OpenCellDb(Options(), resources, dir.string(), &db, &locations);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  CellResources resources;
  std::unique_ptr<rocksdb::DB> db;
  std::unique_ptr<rocksdb::ColumnFamilyHandle> locations;  // destroyed first
};

// Index::Open; an error fails the test and gives null.
inline std::unique_ptr<Index> OpenIndexOrFail(const Options& options) {
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(options);
  EXPECT_TRUE(index.ok()) << index.status();
  return index.ok() ? *std::move(index) : nullptr;
}

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_TEST_UTIL_H_
