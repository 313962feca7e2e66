// What the benchmark programs share: how they stop on an error, timing,
// scratch directories and the files under them, the page cache, and the
// disk's own rates. File helpers go through the library's (index/base/
// file_util.h) on the default rocksdb::FileSystem where it has one.
#ifndef CELLINDEX_BENCH_BENCH_UTIL_H_
#define CELLINDEX_BENCH_BENCH_UTIL_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "index/index.h"
#include "index/internal_options.h"
#include "index/model/options.h"
#include "rocksdb/status.h"

namespace cellindex::bench {

// ---- Errors -------------------------------------------------------------------

// The name error messages start with; set first thing in main.
void SetProgramName(absl::string_view name);
// A directory Die removes before it exits (the run's scratch directory);
// empty: none.
void RemoveOnDie(const std::string& dir);
// Prints "<program>: <what>: <status>" to stderr and exits with 1.
[[noreturn]] void Die(absl::string_view what, const absl::Status& s);
// Dies unless `s` is OK.
void Check(const rocksdb::Status& s, absl::string_view what);

std::unique_ptr<Index> OpenIndex(const Options& options);
// With internal options (a file system of the benchmark's, hooks).
std::unique_ptr<Index> OpenIndex(const Options& options, const InternalOptions& internal);

// ---- Records ----------------------------------------------------------------------

// A typical object: two replicas, an S3-style ETag, a long content type.
// EncodeRecord gives about 200 bytes (index_bench prints it as record_bytes).
ObjectRecord BenchRecord();

// ---- Timing and statistics ------------------------------------------------------

using Clock = std::chrono::steady_clock;

// Seconds since `start`.
double Since(Clock::time_point start);
// CPU seconds (user + system) the process, all its threads, has used so far
// (getrusage RUSAGE_SELF): the difference around a timed part, beside its
// wall time, says whether CPU limited it.
double CpuSeconds();
// 0 for an empty list.
double Median(std::vector<double> v);
double Max(const std::vector<double>& v);

// SplitMix64's finalizer of x + the golden gamma: a bijection of 64-bit
// values that scatters neighbours, for keys in hash order.
uint64_t Mix64(uint64_t x);
// The SplitMix64 generator: advances `state` and returns the next value.
uint64_t SplitMix64(uint64_t* state);

// ---- Files ------------------------------------------------------------------------

// Creates a new directory `parent`/`name`-XXXXXX (mkdtemp) and returns its path.
std::string MakeTempDir(const std::string& parent, absl::string_view name);

// A new directory (MakeTempDir), removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir(const std::string& parent, absl::string_view name);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Removes `path` and everything below it; nothing when it does not exist.
void RemoveTree(const std::string& path);
// Creates `path` and its missing parents.
void MakeDirs(const std::string& path);
// Calls fn(path) for `root` when it is a file, else for every file below it;
// nothing when `root` does not exist.
void ForEachFile(const std::string& root, const std::function<void(const std::string&)>& fn);
// The sizes of all files ForEachFile(root) visits, added up.
uint64_t TreeBytes(const std::string& root);
// A small file's contents without trailing newlines and spaces ("" when it
// cannot be read): /proc and /sys entries.
std::string ReadSmallFile(const std::string& path);

// ---- The page cache and the disk ---------------------------------------------------

// Makes every file under `root` durable and drops it from the page cache, so
// the next read of it comes from the disk.
void DropFromPageCache(const std::string& root);
// Fraction of `path`'s pages in the page cache (mincore); -1 when unknown.
double ResidentFraction(const std::string& path);

// The machine's own rates, to put a benchmark's bytes per second beside.
struct DiskRates {
  double write_fsync = 0;  // bytes/s, sequential write + fsync
  double read_cold = 0;    // sequential read after DONTNEED
  double read_warm = 0;    // the same file again, from the page cache
  double copy_cold = 0;    // cold read + write + fsync of a copy (what a restore does)
  double resident_after_drop = 0;  // page-cache fraction left after DONTNEED
};

// Writes, reads and copies a file of `bytes` in `dir` (removed after).
DiskRates MeasureDisk(const std::string& dir, uint64_t bytes);

// The device and file system under `dir`, from /proc/mounts.
std::string DiskOf(const std::string& dir);

}  // namespace cellindex::bench

#endif  // CELLINDEX_BENCH_BENCH_UTIL_H_
