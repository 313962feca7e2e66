// The file-system operations a restore makes: a rocksdb::FileSystem that
// passes every call to the default one and counts what makes data durable
// (file and directory fsyncs), what changes names (creations, renames, hard
// links, deletions) and the bytes written. Counts are kept per cell, the cell
// read from the path (the layout's "cells/NNNNN" component, on a host or in
// the store: recovery/store/layout.h); paths outside any cell count as
// kNoCell. The Index takes it through InternalOptions::file_system, the
// single RocksDB through Options::env (CellResources builds the Env).
#ifndef CELLINDEX_BENCH_RECOVERY_BENCH_FS_H_
#define CELLINDEX_BENCH_RECOVERY_BENCH_FS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/file_system.h"

namespace cellindex::bench::recovery_bench {

// Operations counted since the last Reset.
struct FsCounts {
  uint64_t syncs = 0;        // Sync and Fsync of files (fdatasync / fsync)
  uint64_t range_syncs = 0;  // RangeSync of files (sync_file_range, no durability)
  uint64_t dir_syncs = 0;    // Fsync and FsyncWithDirOptions of directories
  uint64_t files_created = 0;  // NewWritableFile, ReuseWritableFile, NewRandomRWFile
  uint64_t dirs_created = 0;   // CreateDir, CreateDirIfMissing
  uint64_t renames = 0;
  uint64_t links = 0;
  uint64_t deletes = 0;        // DeleteFile, DeleteDir
  uint64_t bytes_written = 0;  // Append, PositionedAppend, RandomRW writes

  // syncs + dir_syncs: the calls that wait for the disk.
  uint64_t fsyncs() const { return syncs + dir_syncs; }
  FsCounts& operator+=(const FsCounts& o);
};

// Each count's median over `v` (zero for an empty list).
FsCounts MedianCounts(const std::vector<FsCounts>& v);

inline constexpr int kNoCell = -1;

class CountingFileSystem : public rocksdb::FileSystemWrapper {
 public:
  CountingFileSystem();

  static const char* kClassName() { return "CountingFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // Zeroes every count.
  void Reset();
  // All counts added up.
  FsCounts Total() const;
  // Counts per cell id (kNoCell: paths outside any cell); cells with no
  // operation are absent.
  std::map<int, FsCounts> ByCell() const;

  // The cell `path` belongs to: the number after its last "/cells/"
  // component; kNoCell when there is none.
  static int CellOf(const std::string& path);

  // The counters of one cell, updated by the file handles it returns.
  struct Counters {
    std::atomic<uint64_t> syncs{0}, range_syncs{0}, dir_syncs{0}, files_created{0},
        dirs_created{0}, renames{0}, links{0}, deletes{0}, bytes_written{0};
  };
  Counters& For(const std::string& path);

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& d, const rocksdb::IOOptions& o,
                                 std::unique_ptr<rocksdb::FSDirectory>* r,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& d, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& d, const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& d, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& from, const std::string& to,
                             const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override;

 private:
  mutable absl::Mutex mu_;
  // Never erased: file handles hold pointers to the counters.
  std::map<int, std::unique_ptr<Counters>> cells_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellindex::bench::recovery_bench

#endif  // CELLINDEX_BENCH_RECOVERY_BENCH_FS_H_
