// Recovery after losing state: time until data serves again, on the same data,
// in one run.
//
//   (a) rocksdb   The monolith a user would otherwise build: one RocksDB with
//                 one cell's options (MakeCellDbOptions), WAL on, holding
//                 EncodeRecord(record) under EncodeKey(key) for every object.
//                 After the load it is backed up with rocksdb::BackupEngine
//                 (flush first, so the backup is SST files only); the tail
//                 writes then go to its WAL, which lives in the durable store
//                 (Options::wal_dir), like the backups, with the WAL archive
//                 on, so a WAL a flush made obsolete is kept too (why:
//                 recovery_bench_rocksdb.cc). Host loss: the DB directory is
//                 gone. Restore = BackupEngine::Open +
//                 RestoreDBFromLatestBackup (keep_log_files: the WALs stay and
//                 the archived ones move back) + DB::Open (replays the WALs)
//                 + DB::VerifyChecksum. A monolith serves nothing until then,
//                 so first = full availability. "open" is also reported: the
//                 time had it served before VerifyChecksum.
//   (a2) rocksdb  The strongest single-DB baseline: the same DB, with a
//   in place      rocksdb::Checkpoint taken into the store at the moment of
//                 the backup. Restore = the checkpoint's SST files
//                 hard-linked (no copy) and its small files copied into a new
//                 DB directory, the archived WALs moved back, DB::Open (WAL
//                 replay) + VerifyChecksum, as (a).
//   (b) lose host The Index on H hosts with C cells, the same objects loaded,
//                 Checkpoint(), the same tail written, then LoseHost("h3"):
//                 that host's cells are restored on the survivors from their
//                 checkpoints plus journal tails. From the LoseHost call to
//                 the first / last of those cells answering a Get (a probe
//                 every millisecond); the other cells serve throughout.
//   (c) cold      Every host directory deleted, Index::Open with
//                 wait_for_recovery = false: Stats().time_to_first_cell and
//                 time_to_all_cells (from the start of Open).
//
// Every repetition starts from the same state: the index as it was closed
// after the tail (kept aside and hard-linked back: every file the benchmark
// hard-links is checked unchanged afterwards, and so is (a2)'s checkpoint)
// and the backup and checkpoint plus a copy of the WAL directory. Before
// each timed restore every file of the durable store (backup, checkpoint and
// WALs for (a) and (a2), checkpoints and journals for (b) and (c)) is
// fsync'ed and dropped from the page cache (posix_fadvise DONTNEED), so
// restores read from the disk, as after a real host loss. The machine's sequential read rate is
// measured the same way in the same run, at the start and at the end.
//
// Repetitions interleave (a), (a2), (b), (c) so that a neighbour's burst of
// load does not land on one scenario only; medians are reported. Deep validation is off
// for the timed runs (validate_after_recovery = false: a restore still checks
// each fetched file's xxh3-128 against its manifest, as BackupEngine checks
// its files' crc32c); --validate adds one run of (b) and (c) with background
// validation and one with paranoid (inline) validation, the counterpart of
// (a)'s VerifyChecksum.
//
// Each restore also reports the CPU seconds of the whole process over its
// timed part (getrusage: CPU/wall near the core count means CPU-bound) and
// its file-system operations (fsyncs of files and directories, files
// created, links, renames, bytes written), counted by a rocksdb::FileSystem
// wrapper (recovery_bench_fs.h): for (b) and (c) per recovered cell too. The
// bytes per object of (a)'s DB and of the Index's cells (records against
// the reverse index) are measured after the build (recovery_bench_space.h).
//
// All hosts and the durable store are directories on one disk here: the lost
// host's cells restore onto several survivors that share that disk, where in a
// deployment each survivor would bring its own.
//
//   recovery_bench [--objects=N] [--cells=C] [--hosts=H] [--reps=R] [--json]
//
// prints a table; with --json the table goes to stderr and a JSON object with
// every repetition to stdout. --sweep=1,4 adds one (b) and (c) run at each
// recovery_parallelism and a table of them (--sweep alone: 1,2,4,8,16);
// --journal-segment-mb sets journal_segment_bytes.
//
// The default run (1M objects of ~200 bytes, 32 cells, 8 hosts, 3
// repetitions) takes 2-3 minutes on 2 busy cores, most of it loading the data.
#include <cstdio>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "bench/recovery_bench_flags.h"
#include "bench/recovery_bench_index.h"
#include "bench/recovery_bench_layout.h"
#include "bench/recovery_bench_report.h"
#include "bench/recovery_bench_rocksdb.h"
#include "bench/recovery_bench_space.h"

namespace cellindex::bench::recovery_bench {
namespace {

// Progress goes to stderr, so that --json output on stdout stays clean.
template <typename... Args>
void Log(const absl::FormatSpec<Args...>& format, const Args&... args) {
  std::fprintf(stderr, "%s\n", absl::StrFormat(format, args...).c_str());
}

int Main(int argc, char** argv) {
  SetProgramName("recovery_bench");
  Results res;
  res.flags = ParseFlags(argc, argv);
  const Flags& f = res.flags;
  const Clock::time_point start = Clock::now();
  res.cores = std::thread::hardware_concurrency();
  res.load_before = ReadSmallFile("/proc/loadavg");
  res.disk = DiskOf(f.dir);

  Layout l;
  l.root = MakeTempDir(f.dir, "cellindex-recovery-bench");
  if (!f.keep) RemoveOnDie(l.root);  // the scratch directory, removed on failure too
  Log("scratch dir %s", l.root);

  Log("disk: %d MiB sequential write/read/copy", f.disk_test_mb);
  res.disk_start = MeasureDisk(l.root, f.disk_test_mb << 20);

  Log("(a) rocksdb: load %d objects, backup, tail of %d", f.objects, f.tail);
  res.raw_build = BuildRaw(f, l);
  res.record_bytes_avg = static_cast<double>(res.raw_build.record_bytes) / f.objects;
  Log("(b)(c) index: load, checkpoint, tail");
  res.index_build = BuildIndex(f, l);
  Log("index: bytes per object in each cell's key space");
  res.index_space = MeasureIndexSpace(l.index_kept() + "/hosts");
  for (const auto& [id, host] : res.index_build.cell_host) res.lost_cells += host == f.lose;
  if (res.lost_cells == 0) Die("layout", absl::InvalidArgumentError("--lose names no host"));
  const auto kept_signature = Signature(l.index_kept());
  const auto checkpoint_signature = Signature(l.checkpoint());
  auto check_checkpoint = [&] {
    if (Signature(l.checkpoint()) == checkpoint_signature) return;
    Die("kept state", absl::InternalError("a run of (a2) changed the checkpoint it linked"));
  };

  auto check_kept = [&] {
    const auto now = Signature(l.index_kept());
    if (now == kept_signature) return;
    std::string changed;
    for (const auto& [path, sig] : kept_signature) {
      auto it = now.find(path);
      if (it == now.end() || it->second != sig) absl::StrAppend(&changed, " ", path);
    }
    for (const auto& [path, sig] : now) {
      if (!kept_signature.count(path)) absl::StrAppend(&changed, " new:", path);
    }
    Die("kept state", absl::InternalError(absl::StrCat("a run changed hard-linked files:", changed)));
  };
  for (int rep = 0; rep < f.reps; ++rep) {
    res.a.push_back(RunRaw(f, l, res.raw_build, RawSource::kBackup));
    Log("rep %d (a) full %.3fs", rep + 1, res.a.back().full_s);
    res.a2.push_back(RunRaw(f, l, res.raw_build, RawSource::kCheckpoint));
    check_checkpoint();
    Log("rep %d (a2) full %.3fs", rep + 1, res.a2.back().full_s);
    res.b.push_back(RunLoseHost(f, l, res.index_build, Validation::kOff, &res.b_phases));
    check_kept();
    Log("rep %d (b) first %.3fs full %.3fs", rep + 1, res.b.back().first_s, res.b.back().full_s);
    res.c.push_back(RunColdStart(f, l, res.index_build, Validation::kOff, &res.c_phases));
    check_kept();
    Log("rep %d (c) first %.3fs full %.3fs", rep + 1, res.c.back().first_s, res.c.back().full_s);
  }
  if (f.validate) {
    for (Validation v : {Validation::kBackground, Validation::kParanoid}) {
      IndexRun b = RunLoseHost(f, l, res.index_build, v, nullptr);
      check_kept();
      res.extra.emplace_back(absl::StrCat("(b) validation ", ValidationName(v)), b);
      IndexRun c = RunColdStart(f, l, res.index_build, v, nullptr);
      check_kept();
      res.extra.emplace_back(absl::StrCat("(c) validation ", ValidationName(v)), c);
      Log("validation %s: (b) full %.3fs, (c) full %.3fs", ValidationName(v), b.full_s, c.full_s);
    }
  }
  for (int p : f.sweep) {
    Flags g = f;
    g.recovery_parallelism = p;
    IndexRun b = RunLoseHost(g, l, res.index_build, Validation::kOff, nullptr);
    check_kept();
    res.extra.emplace_back(absl::StrCat("(b) recovery_parallelism ", p), b);
    IndexRun c = RunColdStart(g, l, res.index_build, Validation::kOff, nullptr);
    check_kept();
    res.extra.emplace_back(absl::StrCat("(c) recovery_parallelism ", p), c);
    res.sweep.push_back({p, b, c});
    Log("recovery_parallelism %d: (b) full %.3fs, (c) first %.3fs full %.3fs", p, b.full_s,
        c.first_s, c.full_s);
  }
  RemoveTree(l.index());
  RemoveTree(l.rocks_db());
  res.disk_end = MeasureDisk(l.root, f.disk_test_mb << 20);
  res.load_after = ReadSmallFile("/proc/loadavg");
  if (!f.keep) RemoveTree(l.root);
  res.total_s = Since(start);
  // With --json the table goes to stderr and stdout holds only the JSON.
  PrintTable(res, f.json ? stderr : stdout);
  if (f.json) PrintJson(res);
  return 0;
}

}  // namespace
}  // namespace cellindex::bench::recovery_bench

int main(int argc, char** argv) { return cellindex::bench::recovery_bench::Main(argc, argv); }
