// Recovery after losing state: time until data serves again, on the same data,
// in one run.
//
//   (a) rocksdb   The monolith a user would otherwise build: one RocksDB with
//                 one cell's options (MakeCellDbOptions), WAL on, holding
//                 EncodeRecord(record) under EncodeKey(key) for every object.
//                 After the load it is backed up with rocksdb::BackupEngine
//                 (flush first, so the backup is SST files only); the tail
//                 writes then go to its WAL, which lives in the durable store
//                 (Options::wal_dir), like the backups. Host loss: the DB
//                 directory is gone. Restore = BackupEngine::Open +
//                 RestoreDBFromLatestBackup (keep_log_files: the WAL stays) +
//                 DB::Open (replays the WAL) + DB::VerifyChecksum. A monolith
//                 serves nothing until then, so first = full availability.
//                 "open" is also reported: the time had it served before
//                 VerifyChecksum.
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
// hard-links is checked unchanged afterwards) and the backup plus a copy of
// the WAL. Before each timed restore every file of the durable store (backup
// and WAL for (a), checkpoints and journals for (b) and (c)) is fsync'ed and
// dropped from the page cache (posix_fadvise DONTNEED), so restores read from
// the disk, as after a real host loss. The machine's sequential read rate is
// measured the same way in the same run, at the start and at the end.
//
// Repetitions interleave (a), (b), (c) so that a neighbour's burst of load does
// not land on one scenario only; medians are reported. Deep validation is off
// for the timed runs (validate_after_recovery = false: a restore still checks
// each fetched file's xxh3-128 against its manifest, as BackupEngine checks
// its files' crc32c); --validate adds one run of (b) and (c) with background
// validation and one with paranoid (inline) validation, the counterpart of
// (a)'s VerifyChecksum.
//
// All hosts and the durable store are directories on one disk here: the lost
// host's cells restore onto several survivors that share that disk, where in a
// deployment each survivor would bring its own.
//
//   recovery_bench [--objects=N] [--cells=C] [--hosts=H] [--reps=R] [--json]
//
// prints a table; with --json the table goes to stderr and a JSON object with
// every repetition to stdout. --sweep=1,4 adds one (b) and (c) run at each
// recovery_parallelism; --journal-segment-mb sets journal_segment_bytes.
//
// The default run (1M objects of ~200 bytes, 32 cells, 8 hosts, 3
// repetitions) takes 2-3 minutes on 2 busy cores, most of it loading the data.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "index/index.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "index/model/options.h"
#include "index/cell/cell_resources.h"
#include "index/model/write_batch.h"
#include "recovery/store/checkpoint_manifest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/backup_engine.h"
#include "rocksdb/write_batch.h"

namespace cellindex {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kBucket[] = "photos-eu-1";
constexpr size_t kLoadBatch = 1000;
constexpr double kMiB = 1024.0 * 1024.0;

// ---- Flags ------------------------------------------------------------------

struct Flags {
  uint64_t objects = 1000000;
  size_t cells = 32;
  size_t hosts = 8;
  uint64_t tail = 0;  // 0: objects / 50
  int reps = 3;
  // A cell's restore mostly waits: on fsyncs (every fetched file, the
  // directory renames, RocksDB::Open's new MANIFEST/CURRENT/OPTIONS) more
  // than on bandwidth or CPU. Twice the cores keeps the disk and 2 cores
  // busy (measured with --sweep: 1 and 2 bring the last cell back later; 8
  // brings all of a cold start back sooner but delays the first cell).
  int recovery_parallelism = 4;
  int fetch_parallelism = 4;
  // BackupEngine copy threads for (a); the same number of concurrent file
  // copies as one cell restore uses.
  int backup_threads = 4;
  int load_threads = 2;
  uint64_t disk_test_mb = 512;
  // 0: the library's default journal_segment_bytes.
  uint64_t journal_segment_mb = 0;
  // Extra (b) and (c) runs, one each, at these recovery_parallelism values.
  std::vector<int> sweep;
  std::string lose = "h3";
  std::string dir = "/tmp";
  bool validate = false;
  bool json = false;
  bool keep = false;
};

// The scratch directory, removed on failure too (unless --keep).
std::string scratch_to_remove;

[[noreturn]] void Die(absl::string_view what, const absl::Status& s) {
  std::fprintf(stderr, "recovery_bench: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               s.ToString().c_str());
  if (!scratch_to_remove.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(scratch_to_remove, ec);
  }
  std::exit(1);
}

void Check(const rocksdb::Status& s, absl::string_view what) {
  if (!s.ok()) Die(what, FromRocks(s, "rocksdb"));
}

void Usage() {
  std::fprintf(stderr,
               "usage: recovery_bench [--objects=N] [--cells=C] [--hosts=H] [--reps=R]\n"
               "         [--tail=N] [--recovery-parallelism=P] [--fetch-parallelism=F]\n"
               "         [--backup-threads=B] [--load-threads=T] [--disk-test-mb=M]\n"
               "         [--journal-segment-mb=M] [--sweep=P1,P2,...] [--lose=HOST]\n"
               "         [--dir=DIR] [--validate] [--keep] [--json]\n");
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    const size_t eq = arg.find('=');
    auto take = [&]() -> const std::string& {
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        Usage();
      }
      return value;
    };
    const std::string name = arg.substr(0, eq);
    auto number = [&](auto* out) {
      uint64_t v;
      if (!absl::SimpleAtoi(take(), &v)) Usage();
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(v);
    };
    if (name == "--objects") number(&f.objects);
    else if (name == "--cells") number(&f.cells);
    else if (name == "--hosts") number(&f.hosts);
    else if (name == "--tail") number(&f.tail);
    else if (name == "--reps") number(&f.reps);
    else if (name == "--recovery-parallelism") number(&f.recovery_parallelism);
    else if (name == "--fetch-parallelism") number(&f.fetch_parallelism);
    else if (name == "--backup-threads") number(&f.backup_threads);
    else if (name == "--load-threads") number(&f.load_threads);
    else if (name == "--disk-test-mb") number(&f.disk_test_mb);
    else if (name == "--journal-segment-mb") number(&f.journal_segment_mb);
    else if (name == "--sweep") {
      for (absl::string_view p : absl::StrSplit(take(), ',')) {
        int v;
        if (!absl::SimpleAtoi(p, &v) || v < 1) Usage();
        f.sweep.push_back(v);
      }
    }
    else if (name == "--lose") f.lose = take();
    else if (name == "--dir") f.dir = take();
    else if (name == "--validate") f.validate = true;
    else if (name == "--keep") f.keep = true;
    else if (name == "--json") f.json = true;
    else Usage();
  }
  if (f.tail == 0) f.tail = std::max<uint64_t>(1, f.objects / 50);
  if (f.objects < 1000 || f.cells < 1 || f.hosts < 2 || f.reps < 1 || f.load_threads < 1) Usage();
  return f;
}

// Progress goes to stderr, so that --json output on stdout stays clean.
template <typename... Args>
void Log(const absl::FormatSpec<Args...>& format, const Args&... args) {
  std::fprintf(stderr, "%s\n", absl::StrFormat(format, args...).c_str());
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Max(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

// ---- Files ------------------------------------------------------------------

void RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) Die("remove", absl::ErrnoToStatus(ec.value(), path));
}

void MakeDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) Die("mkdir", absl::ErrnoToStatus(ec.value(), path));
}

template <typename Fn>
void ForEachFile(const std::string& root, Fn fn) {
  std::error_code ec;
  if (!fs::exists(root, ec)) return;
  if (fs::is_regular_file(root, ec)) {
    fn(root);
    return;
  }
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) fn(it->path().string());
  }
  if (ec) Die("walk", absl::ErrnoToStatus(ec.value(), root));
}

uint64_t TreeBytes(const std::string& root) {
  uint64_t total = 0;
  ForEachFile(root, [&](const std::string& p) {
    std::error_code ec;
    total += fs::file_size(p, ec);
  });
  return total;
}

// Makes every file under `root` durable and drops it from the page cache, so
// the next read of it comes from the disk.
void DropFromPageCache(const std::string& root) {
  ForEachFile(root, [](const std::string& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fdatasync(fd);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  });
}

// Fraction of `path`'s pages in the page cache (mincore).
double ResidentFraction(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size == 0) {
    ::close(fd);
    return -1;
  }
  void* m = ::mmap(nullptr, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) return -1;
  const long page = ::sysconf(_SC_PAGESIZE);
  const size_t pages = (st.st_size + page - 1) / page;
  std::vector<unsigned char> vec(pages);
  double frac = -1;
  if (::mincore(m, st.st_size, vec.data()) == 0) {
    size_t resident = 0;
    for (unsigned char c : vec) resident += c & 1;
    frac = static_cast<double>(resident) / pages;
  }
  ::munmap(m, st.st_size);
  return frac;
}

// Recreates the tree `from` at `to`: directories made, files copied or
// hard-linked as `link(path)` says. Only files nobody writes in place may be
// linked: SST files, and the store's files, which a restore only reads (a
// journal is appended to by writes only; the runs write nothing).
template <typename LinkFn>
void CloneTree(const std::string& from, const std::string& to, LinkFn link) {
  MakeDirs(to);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(from, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path dest = fs::path(to) / fs::relative(it->path(), from);
    if (it->is_directory()) {
      fs::create_directories(dest, ec);
    } else if (link(it->path().string())) {
      fs::create_hard_link(it->path(), dest, ec);
    } else {
      fs::copy_file(it->path(), dest, ec);
    }
    if (ec) Die("clone", absl::ErrnoToStatus(ec.value(), dest.string()));
  }
  if (ec) Die("clone", absl::ErrnoToStatus(ec.value(), from));
}

bool LinkNothing(const std::string&) { return false; }
bool LinkSstAndStore(const std::string& path) {
  return absl::EndsWith(path, ".sst") || absl::StrContains(path, "/store/");
}

// Size and modification time of every file under `root`: a hard-linked tree
// must come back from a run unchanged.
std::map<std::string, std::pair<uint64_t, int64_t>> Signature(const std::string& root) {
  std::map<std::string, std::pair<uint64_t, int64_t>> sig;
  ForEachFile(root, [&](const std::string& p) {
    struct stat st;
    if (::stat(p.c_str(), &st) == 0) {
      sig[p] = {static_cast<uint64_t>(st.st_size),
                static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    }
  });
  return sig;
}

// ---- Disk rates ---------------------------------------------------------------

struct DiskRates {
  double write_fsync = 0;  // bytes/s, sequential write + fsync
  double read_cold = 0;    // sequential read after DONTNEED
  double read_warm = 0;    // the same file again, from the page cache
  double copy_cold = 0;    // cold read + write + fsync of a copy (what a restore does)
  double resident_after_drop = 0;  // page-cache fraction left after DONTNEED
};

DiskRates MeasureDisk(const std::string& dir, uint64_t bytes) {
  const std::string a = dir + "/seq-a", b = dir + "/seq-b";
  std::string buf(1 << 20, '\0');
  uint64_t x = 0x1234567;
  for (char& c : buf) c = static_cast<char>((x = x * 6364136223846793005ull + 1) >> 56);
  DiskRates r;
  auto write_file = [&](const std::string& path, int in) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) Die("open", absl::ErrnoToStatus(errno, path));
    uint64_t done = 0;
    while (done < bytes) {
      if (in >= 0) {
        ssize_t n = ::read(in, buf.data(), buf.size());
        if (n <= 0) break;
      }
      if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
        Die("write", absl::ErrnoToStatus(errno, path));
      }
      done += buf.size();
    }
    (void)::fsync(fd);
    ::close(fd);
  };
  auto read_file = [&](const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Die("open", absl::ErrnoToStatus(errno, path));
    while (::read(fd, buf.data(), buf.size()) > 0) {
    }
    ::close(fd);
  };
  Clock::time_point t = Clock::now();
  write_file(a, -1);
  r.write_fsync = bytes / Since(t);
  DropFromPageCache(a);
  r.resident_after_drop = ResidentFraction(a);
  t = Clock::now();
  read_file(a);
  r.read_cold = bytes / Since(t);
  t = Clock::now();
  read_file(a);
  r.read_warm = bytes / Since(t);
  DropFromPageCache(a);
  t = Clock::now();
  {
    int in = ::open(a.c_str(), O_RDONLY | O_CLOEXEC);
    write_file(b, in);
    ::close(in);
  }
  r.copy_cold = bytes / Since(t);
  ::unlink(a.c_str());
  ::unlink(b.c_str());
  return r;
}

// ---- The data -------------------------------------------------------------------

uint64_t Mix(uint64_t x) {
  uint64_t z = x + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Object i: keys in hash order, so a load touches every cell and the key
// order has nothing to do with the load order. Mix is a bijection: keys are
// distinct.
ObjectKey KeyOf(uint64_t i) {
  const uint64_t h = Mix(i);
  return {kBucket, absl::StrFormat("user-%05u/2024/%016x.jpg", static_cast<unsigned>(h % 20000),
                                   h)};
}

// About 200 bytes encoded: two replicas, an S3-style ETag, a content type.
// `generation` 1 is the tail's overwrite of the same object.
ObjectRecord RecordOf(uint64_t i, uint64_t generation) {
  static const char* const kTypes[] = {
      "image/jpeg", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      "video/mp4", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"};
  const uint64_t h = Mix(i ^ 0x5eed);
  ObjectRecord r;
  r.size = 4096 + h % (64ull << 20) + generation;
  r.etag = absl::StrFormat("\"%016x%016x\"", h, Mix(h + generation));
  r.created = absl::FromUnixSeconds(1700000000 + static_cast<int64_t>(i % 30000000));
  r.modified = r.created + absl::Seconds(static_cast<int64_t>(generation));
  r.content_type = kTypes[h % 4];
  r.version = 1000000 + i;  // the Index assigns its own
  for (uint64_t replica = 0; replica < 2; ++replica) {
    const uint64_t node = (h >> (8 + 16 * replica)) % 2000;
    r.locations.push_back({absl::StrFormat("node-%04u.rack-%02u", node, node % 40),
                           absl::StrFormat("vol-%04u-%02u", node, (h >> 40) % 12),
                           (h >> 20) % (1ull << 40), r.size});
  }
  return r;
}

// The tail's t-th write overwrites this object.
uint64_t TailObject(uint64_t t, uint64_t objects) { return Mix(t + 0x7a11ull) % objects; }

// Runs fn(thread, begin, end) over [0, n) split into `threads` parts.
template <typename Fn>
void Parallel(int threads, uint64_t n, Fn fn) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] { fn(t, n * t / threads, n * (t + 1) / threads); });
  }
  for (std::thread& th : pool) th.join();
}

// ---- (a) the RocksDB monolith ---------------------------------------------------

struct Layout {
  std::string root;
  std::string rocks_db() const { return root + "/rocks/db"; }
  std::string durable() const { return root + "/durable"; }
  std::string backup() const { return root + "/durable/backup"; }
  std::string wal() const { return root + "/durable/wal"; }
  std::string wal_kept() const { return root + "/wal.kept"; }
  std::string index() const { return root + "/index"; }
  std::string index_kept() const { return root + "/index.kept"; }
  std::string store() const { return index() + "/store"; }
};

Options IndexOptions(const Flags& f, const Layout& l) {
  Options o;
  o.data_dir = l.index() + "/data";
  o.store_dir = l.store();
  for (size_t h = 0; h < f.hosts; ++h) {
    o.host_dirs[absl::StrCat("h", h)] = absl::StrCat(l.index(), "/hosts/h", h);
  }
  o.durability = Durability::kBuffered;
  o.background_checkpoints = false;
  o.validate_after_recovery = false;
  o.recovery_parallelism = f.recovery_parallelism;
  o.fetch_parallelism = f.fetch_parallelism;
  if (f.journal_segment_mb > 0) o.journal_segment_bytes = f.journal_segment_mb << 20;
  return o;
}

struct RawDb {
  CellResources resources;
  std::unique_ptr<rocksdb::DB> db;  // destroyed before `resources`
};

rocksdb::Options RawDbOptions(const Flags& f, const Layout& l, const CellResources& r) {
  rocksdb::Options o = MakeCellDbOptions(IndexOptions(f, l), r);
  o.wal_dir = l.wal();  // in the durable store: it survives the host
  return o;
}

void OpenRaw(const Flags& f, const Layout& l, RawDb* raw) {
  raw->resources = MakeCellResources(IndexOptions(f, l));
  rocksdb::DB* db = nullptr;
  Check(rocksdb::DB::Open(RawDbOptions(f, l, raw->resources), l.rocks_db(), &db), "open rocksdb");
  raw->db.reset(db);
}

// Waits (up to a minute) until RocksDB has no flush or compaction to do.
void WaitQuietRaw(rocksdb::DB* db) {
  const Clock::time_point start = Clock::now();
  while (Since(start) < 60) {
    uint64_t pending = 0, running = 0, flushes = 0;
    db->GetIntProperty("rocksdb.compaction-pending", &pending);
    db->GetIntProperty("rocksdb.num-running-compactions", &running);
    db->GetIntProperty("rocksdb.num-running-flushes", &flushes);
    if (pending == 0 && running == 0 && flushes == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

struct RawBuild {
  double load_s = 0, backup_s = 0, tail_s = 0;
  uint64_t backup_bytes = 0, wal_bytes = 0, db_bytes = 0;
  uint64_t record_bytes = 0;  // encoded records, all objects
};

RawBuild BuildRaw(const Flags& f, const Layout& l) {
  RawBuild b;
  RawDb raw;
  MakeDirs(l.durable());
  MakeDirs(l.root + "/rocks");
  OpenRaw(f, l, &raw);
  rocksdb::WriteOptions wo;  // WAL on, not synced per write: a normal user's bulk load
  std::atomic<uint64_t> record_bytes{0};
  Clock::time_point t = Clock::now();
  Parallel(f.load_threads, f.objects, [&](int, uint64_t begin, uint64_t end) {
    rocksdb::WriteBatch batch;
    uint64_t bytes = 0;
    for (uint64_t i = begin; i < end; ++i) {
      const std::string value = EncodeRecord(RecordOf(i, 0));
      bytes += value.size();
      Check(batch.Put(EncodeKey(KeyOf(i)), value), "batch");
      if (batch.Count() >= kLoadBatch || i + 1 == end) {
        Check(raw.db->Write(wo, &batch), "rocksdb load");
        batch.Clear();
      }
    }
    record_bytes += bytes;
  });
  b.record_bytes = record_bytes;
  Check(raw.db->Flush(rocksdb::FlushOptions()), "flush");
  WaitQuietRaw(raw.db.get());
  b.load_s = Since(t);

  t = Clock::now();
  rocksdb::BackupEngineOptions bo(l.backup());
  bo.max_background_operations = f.backup_threads;
  bo.backup_log_files = false;  // the WAL is kept in the durable store itself
  rocksdb::BackupEngine* engine = nullptr;
  Check(rocksdb::BackupEngine::Open(bo, rocksdb::Env::Default(), &engine), "open backup engine");
  rocksdb::CreateBackupOptions cbo;
  cbo.flush_before_backup = true;
  Check(engine->CreateNewBackup(cbo, raw.db.get()), "backup");
  rocksdb::BackupInfo info;
  Check(engine->GetLatestBackupInfo(&info), "backup info");
  b.backup_bytes = info.size;
  delete engine;
  b.backup_s = Since(t);

  t = Clock::now();
  Parallel(f.load_threads, f.tail, [&](int, uint64_t begin, uint64_t end) {
    for (uint64_t k = begin; k < end; ++k) {
      const uint64_t i = TailObject(k, f.objects);
      Check(raw.db->Put(wo, EncodeKey(KeyOf(i)), EncodeRecord(RecordOf(i, 1))), "rocksdb tail");
    }
  });
  Check(raw.db->FlushWAL(/*sync=*/true), "sync wal");
  b.tail_s = Since(t);
  raw.db.reset();  // WAL on: closing does not flush, the tail stays in the WAL
  b.wal_bytes = TreeBytes(l.wal());
  b.db_bytes = TreeBytes(l.rocks_db());
  if (b.wal_bytes == 0) Die("build rocksdb", absl::InternalError("the tail is not in the WAL"));
  // The WAL as it was at the loss; every repetition restores from this copy.
  CloneTree(l.wal(), l.wal_kept(), LinkNothing);
  return b;
}

struct RawRun {
  double restore_s = 0;  // BackupEngine open + RestoreDBFromLatestBackup
  double open_s = 0;     // DB::Open, replaying the WAL
  double verify_s = 0;   // VerifyChecksum
  double first_s = 0, full_s = 0;
  double open_ready_s = 0;  // had it served before VerifyChecksum
  uint64_t bytes = 0;       // backup files + WAL
};

RawRun RunRaw(const Flags& f, const Layout& l, const RawBuild& build) {
  RemoveTree(l.rocks_db());
  RemoveTree(l.wal());
  CloneTree(l.wal_kept(), l.wal(), LinkNothing);
  DropFromPageCache(l.durable());

  RawRun r;
  RawDb raw;
  raw.resources = MakeCellResources(IndexOptions(f, l));
  const Clock::time_point t0 = Clock::now();
  rocksdb::BackupEngineOptions bo(l.backup());
  bo.max_background_operations = f.backup_threads;
  bo.backup_log_files = false;
  rocksdb::BackupEngineReadOnly* engine = nullptr;
  Check(rocksdb::BackupEngineReadOnly::Open(bo, rocksdb::Env::Default(), &engine),
        "open backup engine");
  Check(engine->RestoreDBFromLatestBackup(rocksdb::RestoreOptions(/*keep_log_files=*/true),
                                          l.rocks_db(), l.wal()),
        "restore");
  delete engine;
  r.restore_s = Since(t0);
  Clock::time_point t = Clock::now();
  rocksdb::DB* db = nullptr;
  Check(rocksdb::DB::Open(RawDbOptions(f, l, raw.resources), l.rocks_db(), &db), "open restored");
  raw.db.reset(db);
  r.open_s = Since(t);
  r.open_ready_s = Since(t0);
  t = Clock::now();
  Check(raw.db->VerifyChecksum(), "verify checksum");
  r.verify_s = Since(t);
  r.full_s = r.first_s = Since(t0);
  r.bytes = build.backup_bytes + build.wal_bytes;

  // The restored DB holds the tail (its WAL was replayed).
  const uint64_t i = TailObject(0, f.objects);
  std::string value;
  Check(raw.db->Get(rocksdb::ReadOptions(), EncodeKey(KeyOf(i)), &value), "get tail key");
  absl::StatusOr<ObjectRecord> rec = DecodeRecord(value);
  if (!rec.ok() || rec->size != RecordOf(i, 1).size) {
    Die("check restored rocksdb", absl::DataLossError("the tail write is missing"));
  }
  return r;
}

// ---- (b), (c) the Index ----------------------------------------------------------

std::unique_ptr<Index> OpenIndex(const Options& o) {
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(o);
  if (!index.ok()) Die("open index", index.status());
  return *std::move(index);
}

// Waits (up to a minute) until the cells' SST bytes stop changing: no
// flush or compaction left from the load.
void WaitQuietIndex(Index& index) {
  const Clock::time_point start = Clock::now();
  uint64_t last = 0;
  int stable = 0;
  while (Since(start) < 60 && stable < 3) {
    uint64_t sst = 0;
    for (const CellStats& c : index.Stats().cells) sst += c.sst_bytes + c.memtable_bytes;
    stable = sst == last ? stable + 1 : 0;
    last = sst;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

struct IndexBuild {
  double load_s = 0, checkpoint_s = 0, tail_s = 0;
  uint64_t checkpoint_bytes = 0;  // all cells
  uint64_t host_bytes = 0;        // all cells' local RocksDB state at close
  uint64_t journal_bytes = 0;     // all cells' journals in the store
  uint64_t journal_tail_bytes = 0;  // written since the checkpoint
  std::map<CellId, ObjectKey> probe_key;  // one stored key per cell
  std::map<CellId, uint64_t> cell_journal_bytes, cell_tail_bytes, cell_checkpoint_bytes;
  std::map<CellId, std::string> cell_host;
};

IndexBuild BuildIndex(const Flags& f, const Layout& l) {
  IndexBuild b;
  Options o = IndexOptions(f, l);
  o.num_cells = f.cells;
  // About 200 sampled keys per cell: boundaries at their quantiles.
  const uint64_t step = std::max<uint64_t>(1, f.objects / (200 * f.cells));
  for (uint64_t i = 0; i < f.objects; i += step) o.boundary_sample.push_back(KeyOf(i));
  std::unique_ptr<Index> index = OpenIndex(o);
  const CellMap map = index->cell_map();  // by value: cells() must not outlive it
  for (const CellRange& c : map.cells()) b.cell_host[c.id] = c.host;

  absl::Mutex mu;
  Clock::time_point t = Clock::now();
  Parallel(f.load_threads, f.objects, [&](int, uint64_t begin, uint64_t end) {
    absl::flat_hash_map<CellId, WriteBatch> batches;
    auto write = [&](WriteBatch& batch) {
      absl::StatusOr<std::vector<uint64_t>> v = index->Write(batch);
      if (!v.ok()) Die("index load", v.status());
      batch.Clear();
    };
    for (uint64_t i = begin; i < end; ++i) {
      ObjectKey key = KeyOf(i);
      const CellId cell = index->CellFor(key);
      if (i == begin || batches.find(cell) == batches.end()) {
        absl::MutexLock lock(&mu);
        b.probe_key.emplace(cell, key);
      }
      WriteBatch& batch = batches[cell];
      batch.Put(std::move(key), RecordOf(i, 0));
      if (batch.size() >= kLoadBatch) write(batch);
    }
    for (auto& [cell, batch] : batches) {
      if (!batch.empty()) write(batch);
    }
  });
  WaitQuietIndex(*index);
  b.load_s = Since(t);

  t = Clock::now();
  absl::StatusOr<std::vector<CheckpointReport>> reports = index->Checkpoint();
  if (!reports.ok()) Die("checkpoint", reports.status());
  b.checkpoint_s = Since(t);
  for (const CheckpointReport& r : *reports) {
    b.checkpoint_bytes += r.total_bytes;
    b.cell_checkpoint_bytes[r.cell] = r.total_bytes;
  }

  // CellStats::journal_bytes_since_checkpoint is not filled in (it reads
  // 0), so the tail's size is the journal's growth over the tail.
  std::map<CellId, uint64_t> journal_before;
  for (const CellStats& c : index->Stats().cells) journal_before[c.id] = c.journal_bytes;
  t = Clock::now();
  Parallel(f.load_threads, f.tail, [&](int, uint64_t begin, uint64_t end) {
    for (uint64_t k = begin; k < end; ++k) {
      const uint64_t i = TailObject(k, f.objects);
      absl::StatusOr<uint64_t> v = index->Put(KeyOf(i), RecordOf(i, 1));
      if (!v.ok()) Die("index tail", v.status());
    }
  });
  b.tail_s = Since(t);
  for (const CellStats& c : index->Stats().cells) {
    b.journal_bytes += c.journal_bytes;
    const uint64_t tail = c.journal_bytes - journal_before[c.id];
    b.journal_tail_bytes += tail;
    b.cell_journal_bytes[c.id] = c.journal_bytes;
    b.cell_tail_bytes[c.id] = tail;
  }
  index.reset();  // syncs the journals; the cells flush their memtables
  b.host_bytes = TreeBytes(l.index() + "/hosts");
  std::error_code ec;
  fs::rename(l.index(), l.index_kept(), ec);
  if (ec) Die("rename", absl::ErrnoToStatus(ec.value(), l.index()));
  return b;
}

// Per-cell recovery reports gathered over repetitions.
struct Phases {
  std::vector<double> fetch, verify, open, replay, validate, serve;
  std::vector<double> bytes_fetched, records_replayed;

  void Add(const RecoveryReport& r) {
    fetch.push_back(absl::ToDoubleSeconds(r.fetch_time));
    verify.push_back(absl::ToDoubleSeconds(r.verify_time));
    open.push_back(absl::ToDoubleSeconds(r.open_time));
    replay.push_back(absl::ToDoubleSeconds(r.replay_time));
    validate.push_back(absl::ToDoubleSeconds(r.validate_time));
    serve.push_back(absl::ToDoubleSeconds(r.time_to_serve));
    bytes_fetched.push_back(static_cast<double>(r.bytes_fetched));
    records_replayed.push_back(static_cast<double>(r.records_replayed));
  }
};

struct IndexRun {
  double first_s = 0, full_s = 0;  // the figures compared with (a)
  // (b): the LoseHost call (out of service, host dir removed, map saved);
  // first/last cell by the library's clock: the call plus time_to_serve.
  double lose_call_s = 0, lib_first_s = 0, lib_full_s = 0;
  // (c): Index::Open's return, and first/all by the probes.
  double open_return_s = 0, probe_first_s = 0, probe_full_s = 0;
  double wait_s = 0;            // until WaitForRecovery returned
  double validated_s = 0;       // until every recovered cell's validation was "ok"
  size_t cells = 0;             // cells recovered
  uint64_t bytes_fetched = 0;   // checkpoint files copied
  uint64_t journal_bytes = 0;   // journal segments read (whole segments)
  uint64_t records_replayed = 0;
  std::vector<std::string> sources;  // "checkpoint", ...
};

// Polls a Get of one stored key per cell in `want` every millisecond until
// each answers; returns seconds since t0 per cell.
std::map<CellId, double> Probe(Index& index, const std::map<CellId, ObjectKey>& keys,
                               const std::vector<CellId>& want, Clock::time_point t0) {
  std::map<CellId, double> ready;
  while (ready.size() < want.size()) {
    for (CellId id : want) {
      if (ready.count(id)) continue;
      absl::StatusOr<ObjectRecord> r = index.Get(keys.at(id));
      if (r.ok()) {
        ready[id] = Since(t0);
      } else if (!absl::IsUnavailable(r.status())) {
        Die(absl::StrCat("probe cell ", id), r.status());
      }
    }
    if (ready.size() < want.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return ready;
}

// Polls Stats() until every cell in `cells` has validation "ok".
double WaitValidated(Index& index, const std::vector<CellId>& cells, Clock::time_point t0) {
  while (true) {
    size_t ok = 0;
    for (const CellStats& c : index.Stats().cells) {
      if (std::find(cells.begin(), cells.end(), c.id) == cells.end()) continue;
      if (c.validation == ValidationState::kFailed) Die("validation", absl::DataLossError(c.error));
      ok += c.validation == ValidationState::kOk;
    }
    if (ok == cells.size()) return Since(t0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void CheckTail(Index& index, const Flags& f) {
  const uint64_t i = TailObject(0, f.objects);
  absl::StatusOr<ObjectRecord> r = index.Get(KeyOf(i));
  if (!r.ok()) Die("check tail key", r.status());
  if (r->size != RecordOf(i, 1).size) {
    Die("check restored index", absl::DataLossError("the tail write is missing"));
  }
}

enum class Validation { kOff, kBackground, kParanoid };

const char* ValidationName(Validation v) {
  return v == Validation::kOff ? "off" : v == Validation::kBackground ? "background" : "paranoid";
}

void ApplyValidation(Validation v, Options* o) {
  o->validate_after_recovery = v == Validation::kBackground;
  o->paranoid = v == Validation::kParanoid;
}

IndexRun RunLoseHost(const Flags& f, const Layout& l, const IndexBuild& build, Validation v,
                     Phases* phases) {
  RemoveTree(l.index());
  CloneTree(l.index_kept(), l.index(), LinkSstAndStore);
  Options o = IndexOptions(f, l);
  ApplyValidation(v, &o);
  std::unique_ptr<Index> index = OpenIndex(o);  // every cell reopens its local state
  for (const CellStats& c : index->Stats().cells) {
    if (c.state != CellPhase::kServing) Die("reopen", absl::InternalError(absl::StrCat("cell ", c.id)));
  }
  if (v == Validation::kBackground) {
    std::vector<CellId> all;
    for (const CellStats& c : index->Stats().cells) all.push_back(c.id);
    WaitValidated(*index, all, Clock::now());  // the reopen's own validation, not timed
  }
  DropFromPageCache(l.store());

  IndexRun r;
  const Clock::time_point t0 = Clock::now();
  absl::StatusOr<std::vector<CellId>> moved = index->LoseHost(f.lose);
  r.lose_call_s = Since(t0);
  if (!moved.ok()) Die("lose host", moved.status());
  std::map<CellId, double> ready = Probe(*index, build.probe_key, *moved, t0);
  index->WaitForRecovery();
  r.wait_s = Since(t0);
  if (v == Validation::kBackground) r.validated_s = WaitValidated(*index, *moved, t0);
  r.cells = moved->size();
  r.first_s = 1e9;
  for (const auto& [id, s] : ready) {
    r.first_s = std::min(r.first_s, s);
    r.full_s = std::max(r.full_s, s);
  }
  r.lib_first_s = 1e9;
  for (const CellStats& c : index->Stats().cells) {
    if (std::find(moved->begin(), moved->end(), c.id) == moved->end()) continue;
    if (c.state != CellPhase::kServing) Die("lose host", absl::InternalError(c.error));
    const double serve = r.lose_call_s + absl::ToDoubleSeconds(c.recovery.time_to_serve);
    r.lib_first_s = std::min(r.lib_first_s, serve);
    r.lib_full_s = std::max(r.lib_full_s, serve);
    r.bytes_fetched += c.recovery.bytes_fetched;
    r.records_replayed += c.recovery.records_replayed;
    r.journal_bytes += build.cell_journal_bytes.at(c.id);
    r.sources.push_back(RecoverySourceName(c.recovery.source));
    if (phases != nullptr) phases->Add(c.recovery);
  }
  CheckTail(*index, f);
  return r;
}

IndexRun RunColdStart(const Flags& f, const Layout& l, const IndexBuild& build, Validation v,
                      Phases* phases) {
  RemoveTree(l.index());
  // The durable store only: every host directory is gone.
  CloneTree(l.index_kept() + "/store", l.store(), LinkSstAndStore);
  MakeDirs(l.index() + "/data");
  Options o = IndexOptions(f, l);
  ApplyValidation(v, &o);
  o.wait_for_recovery = false;
  DropFromPageCache(l.store());

  IndexRun r;
  const Clock::time_point t0 = Clock::now();
  std::unique_ptr<Index> index = OpenIndex(o);
  r.open_return_s = Since(t0);
  std::vector<CellId> all;
  const CellMap map = index->cell_map();  // by value: cells() must not outlive it
  for (const CellRange& c : map.cells()) all.push_back(c.id);
  std::map<CellId, double> ready = Probe(*index, build.probe_key, all, t0);
  index->WaitForRecovery();
  r.wait_s = Since(t0);
  if (v == Validation::kBackground) r.validated_s = WaitValidated(*index, all, t0);
  r.probe_first_s = 1e9;
  for (const auto& [id, s] : ready) {
    r.probe_first_s = std::min(r.probe_first_s, s);
    r.probe_full_s = std::max(r.probe_full_s, s);
  }
  const IndexStats stats = index->Stats();
  r.first_s = absl::ToDoubleSeconds(stats.time_to_first_cell);
  r.full_s = absl::ToDoubleSeconds(stats.time_to_all_cells);
  r.cells = stats.cells.size();
  for (const CellStats& c : stats.cells) {
    if (c.state != CellPhase::kServing) Die("cold start", absl::InternalError(c.error));
    r.bytes_fetched += c.recovery.bytes_fetched;
    r.records_replayed += c.recovery.records_replayed;
    r.journal_bytes += build.cell_journal_bytes.at(c.id);
    r.sources.push_back(RecoverySourceName(c.recovery.source));
    if (phases != nullptr) phases->Add(c.recovery);
  }
  CheckTail(*index, f);
  return r;
}

// ---- Report -----------------------------------------------------------------------

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The device and file system under `dir`, from /proc/mounts.
std::string DiskOf(const std::string& dir) {
  std::ifstream in("/proc/mounts");
  std::string dev, mnt, type, rest, best, best_mnt;
  while (in >> dev >> mnt >> type && std::getline(in, rest)) {
    if (absl::StartsWith(dir, mnt) && mnt.size() >= best_mnt.size()) {
      best_mnt = mnt;
      best = absl::StrCat(dev, " (", type, ", mounted at ", mnt, ")");
      const std::string name = dev.substr(dev.find_last_of('/') + 1);
      const std::string rot = ReadSmallFile(absl::StrCat("/sys/block/", name, "/queue/rotational"));
      if (!rot.empty()) absl::StrAppend(&best, rot == "0" ? ", non-rotational" : ", rotational");
    }
  }
  return best;
}

std::string Mb(double bytes) { return absl::StrFormat("%.1f", bytes / kMiB); }

struct Results {
  Flags flags;
  std::string disk, load_before, load_after;
  unsigned cores = 0;
  size_t lost_cells = 0;
  double record_bytes_avg = 0;
  DiskRates disk_start, disk_end;
  RawBuild raw_build;
  IndexBuild index_build;
  std::vector<RawRun> a;
  std::vector<IndexRun> b, c;
  Phases b_phases, c_phases;
  std::vector<std::pair<std::string, IndexRun>> extra;  // --validate runs
  double total_s = 0;
};

template <typename T, typename Fn>
std::vector<double> Pick(const std::vector<T>& runs, Fn fn) {
  std::vector<double> v;
  for (const T& r : runs) v.push_back(fn(r));
  return v;
}

std::string JsonList(const std::vector<double>& v) {
  std::vector<std::string> s;
  for (double x : v) s.push_back(absl::StrFormat("%.4f", x));
  return absl::StrCat("[", absl::StrJoin(s, ", "), "]");
}

std::string JsonPhases(const Phases& p) {
  auto stat = [](const char* name, const std::vector<double>& v) {
    return absl::StrFormat("\"%s\": {\"median\": %.4f, \"max\": %.4f}", name, Median(v), Max(v));
  };
  return absl::StrCat("{", stat("fetch_s", p.fetch), ", ", stat("verify_s", p.verify), ", ",
                      stat("open_s", p.open), ", ", stat("replay_s", p.replay), ", ",
                      stat("time_to_serve_s", p.serve), ", ", stat("bytes_fetched", p.bytes_fetched),
                      ", ", stat("records_replayed", p.records_replayed), "}");
}

std::string JsonIndexRun(const IndexRun& r) {
  return absl::StrFormat(
      "{\"first_s\": %.4f, \"full_s\": %.4f, \"lose_call_s\": %.4f, \"lib_first_s\": %.4f, "
      "\"lib_full_s\": %.4f, \"open_return_s\": %.4f, \"probe_first_s\": %.4f, "
      "\"probe_full_s\": %.4f, \"wait_s\": %.4f, \"validated_s\": %.4f, \"cells\": %d, "
      "\"bytes_fetched\": %d, \"journal_bytes\": %d, \"records_replayed\": %d}",
      r.first_s, r.full_s, r.lose_call_s, r.lib_first_s, r.lib_full_s, r.open_return_s,
      r.probe_first_s, r.probe_full_s, r.wait_s, r.validated_s, r.cells, r.bytes_fetched,
      r.journal_bytes, r.records_replayed);
}

void PrintJson(const Results& res) {
  const Flags& f = res.flags;
  auto disk = [](const DiskRates& d) {
    return absl::StrFormat(
        "{\"write_fsync_Bps\": %.0f, \"read_cold_Bps\": %.0f, \"read_warm_Bps\": %.0f, "
        "\"copy_cold_Bps\": %.0f, \"resident_after_drop\": %.3f}",
        d.write_fsync, d.read_cold, d.read_warm, d.copy_cold, d.resident_after_drop);
  };
  std::string out = "{\n";
  absl::StrAppendFormat(
      &out,
      "  \"config\": {\"objects\": %d, \"tail\": %d, \"cells\": %d, \"hosts\": %d, \"lose\": "
      "\"%s\", \"lost_cells\": %d, \"reps\": %d, \"recovery_parallelism\": %d, "
      "\"fetch_parallelism\": %d, \"backup_threads\": %d, \"record_bytes_avg\": %.1f},\n",
      f.objects, f.tail, f.cells, f.hosts, f.lose, res.lost_cells, f.reps, f.recovery_parallelism,
      f.fetch_parallelism, f.backup_threads, res.record_bytes_avg);
  absl::StrAppendFormat(&out,
                        "  \"machine\": {\"cores\": %d, \"disk\": \"%s\", \"loadavg_start\": "
                        "\"%s\", \"loadavg_end\": \"%s\"},\n",
                        res.cores, res.disk, res.load_before, res.load_after);
  absl::StrAppendFormat(&out, "  \"disk_start\": %s,\n  \"disk_end\": %s,\n",
                        disk(res.disk_start), disk(res.disk_end));
  const RawBuild& rb = res.raw_build;
  const IndexBuild& ib = res.index_build;
  absl::StrAppendFormat(
      &out,
      "  \"build\": {\"rocksdb_load_s\": %.2f, \"rocksdb_backup_s\": %.2f, \"rocksdb_tail_s\": "
      "%.2f, \"rocksdb_backup_bytes\": %d, \"rocksdb_wal_bytes\": %d, \"index_load_s\": %.2f, "
      "\"index_checkpoint_s\": %.2f, \"index_tail_s\": %.2f, \"index_checkpoint_bytes\": %d, "
      "\"index_host_bytes\": %d, \"index_journal_bytes\": %d, \"index_journal_tail_bytes\": %d},\n",
      rb.load_s, rb.backup_s, rb.tail_s, rb.backup_bytes, rb.wal_bytes, ib.load_s,
      ib.checkpoint_s, ib.tail_s, ib.checkpoint_bytes, ib.host_bytes, ib.journal_bytes,
      ib.journal_tail_bytes);
  absl::StrAppendFormat(
      &out,
      "  \"a_rocksdb\": {\"first_s\": %s, \"full_s\": %s, \"restore_s\": %s, \"open_s\": %s, "
      "\"verify_s\": %s, \"open_ready_s\": %s, \"bytes\": %d},\n",
      JsonList(Pick(res.a, [](const RawRun& r) { return r.first_s; })),
      JsonList(Pick(res.a, [](const RawRun& r) { return r.full_s; })),
      JsonList(Pick(res.a, [](const RawRun& r) { return r.restore_s; })),
      JsonList(Pick(res.a, [](const RawRun& r) { return r.open_s; })),
      JsonList(Pick(res.a, [](const RawRun& r) { return r.verify_s; })),
      JsonList(Pick(res.a, [](const RawRun& r) { return r.open_ready_s; })),
      res.a.empty() ? 0 : res.a[0].bytes);
  auto runs = [](const std::vector<IndexRun>& v) {
    std::vector<std::string> s;
    for (const IndexRun& r : v) s.push_back(JsonIndexRun(r));
    return absl::StrCat("[", absl::StrJoin(s, ", "), "]");
  };
  absl::StrAppendFormat(&out, "  \"b_lose_host\": {\"runs\": %s, \"phases\": %s},\n", runs(res.b),
                        JsonPhases(res.b_phases));
  absl::StrAppendFormat(&out, "  \"c_cold_start\": {\"runs\": %s, \"phases\": %s},\n",
                        runs(res.c), JsonPhases(res.c_phases));
  std::vector<std::string> extra;
  for (const auto& [name, r] : res.extra) {
    extra.push_back(absl::StrFormat("\"%s\": %s", name, JsonIndexRun(r)));
  }
  absl::StrAppendFormat(&out, "  \"extra_runs\": {%s},\n", absl::StrJoin(extra, ", "));
  const double a_full = Median(Pick(res.a, [](const RawRun& r) { return r.full_s; }));
  const double b_full = Median(Pick(res.b, [](const IndexRun& r) { return r.full_s; }));
  const double c_first = Median(Pick(res.c, [](const IndexRun& r) { return r.first_s; }));
  const double c_full = Median(Pick(res.c, [](const IndexRun& r) { return r.full_s; }));
  absl::StrAppendFormat(
      &out,
      "  \"ratios\": {\"b_full_over_a\": %.4f, \"b_target\": 0.15, \"c_first_over_a\": %.4f, "
      "\"c_first_target\": 0.05, \"c_full_over_a\": %.4f, \"c_full_target\": 1.2},\n",
      b_full / a_full, c_first / a_full, c_full / a_full);
  absl::StrAppendFormat(&out, "  \"total_s\": %.1f\n}\n", res.total_s);
  std::fputs(out.c_str(), stdout);
}

void PrintTable(const Results& res, FILE* out) {
  const Flags& f = res.flags;
  const RawBuild& rb = res.raw_build;
  const IndexBuild& ib = res.index_build;
  std::fprintf(out, "recovery_bench: %llu objects (%.0f B records avg, %s MiB of records), tail %llu "
              "overwrites; index: %zu cells on %zu hosts, losing %s (%zu cells)\n",
              static_cast<unsigned long long>(f.objects), res.record_bytes_avg,
              Mb(rb.record_bytes).c_str(), static_cast<unsigned long long>(f.tail), f.cells,
              f.hosts, f.lose.c_str(), res.lost_cells);
  std::fprintf(out, "machine: %u cores, disk %s; load average %s at start, %s at end (shared machine: "
              "other work competes for CPU and disk)\n",
              res.cores, res.disk.c_str(), res.load_before.c_str(), res.load_after.c_str());
  std::fprintf(out, "recovery_parallelism %d, fetch_parallelism %d, BackupEngine "
              "max_background_operations %d; validation off unless noted; %d repetitions, "
              "medians\n\n",
              f.recovery_parallelism, f.fetch_parallelism, f.backup_threads, f.reps);
  for (const auto* d : {&res.disk_start, &res.disk_end}) {
    std::fprintf(out, "disk %s: sequential read %s MiB/s cold (%.0f%% left cached after DONTNEED), "
                "%s MiB/s warm; write+fsync %s MiB/s; cold copy+fsync %s MiB/s\n",
                d == &res.disk_start ? "at start" : "at end  ", Mb(d->read_cold).c_str(),
                100 * d->resident_after_drop, Mb(d->read_warm).c_str(),
                Mb(d->write_fsync).c_str(), Mb(d->copy_cold).c_str());
  }
  const double seq_read = Median({res.disk_start.read_cold, res.disk_end.read_cold});
  const double copy = Median({res.disk_start.copy_cold, res.disk_end.copy_cold});
  std::fprintf(out, "\nbuild: rocksdb load %.1fs, backup %.1fs (%s MiB), tail %.1fs (WAL %s MiB)\n",
              rb.load_s, rb.backup_s, Mb(rb.backup_bytes).c_str(), rb.tail_s,
              Mb(rb.wal_bytes).c_str());
  std::fprintf(out, "       index   load %.1fs, checkpoint %.1fs (%s MiB), tail %.1fs (journal %s MiB "
              "since the checkpoint, %s MiB in all); local state %s MiB\n\n",
              ib.load_s, ib.checkpoint_s, Mb(ib.checkpoint_bytes).c_str(), ib.tail_s,
              Mb(ib.journal_tail_bytes).c_str(), Mb(ib.journal_bytes).c_str(),
              Mb(ib.host_bytes).c_str());

  auto med_a = [&](auto fn) { return Median(Pick(res.a, fn)); };
  auto med_i = [&](const std::vector<IndexRun>& v, auto fn) { return Median(Pick(v, fn)); };
  const double a_full = med_a([](const RawRun& r) { return r.full_s; });
  const double a_bytes = res.a.empty() ? 0 : res.a[0].bytes;
  const double b_first = med_i(res.b, [](const IndexRun& r) { return r.first_s; });
  const double b_full = med_i(res.b, [](const IndexRun& r) { return r.full_s; });
  const double b_bytes = med_i(res.b, [](const IndexRun& r) { return r.bytes_fetched; });
  const double b_journal = med_i(res.b, [](const IndexRun& r) { return r.journal_bytes; });
  const double c_first = med_i(res.c, [](const IndexRun& r) { return r.first_s; });
  const double c_full = med_i(res.c, [](const IndexRun& r) { return r.full_s; });
  const double c_bytes = med_i(res.c, [](const IndexRun& r) { return r.bytes_fetched; });
  const double c_journal = med_i(res.c, [](const IndexRun& r) { return r.journal_bytes; });

  std::fprintf(out, "%-38s %8s %8s %11s %11s %8s %10s %7s\n", "scenario", "first s", "full s",
               "fetched MiB", "journal MiB", "MiB/s", "x seq read", "x copy");
  auto row = [&](const std::string& name, double first, double full, double bytes,
                 double journal) {
    const double rate = full > 0 ? (bytes + journal) / full : 0;
    std::fprintf(out, "%-38s %8.3f %8.3f %11s %11s %8s %10.2f %7.2f\n", name.c_str(), first,
                 full, Mb(bytes).c_str(), Mb(journal).c_str(), Mb(rate).c_str(),
                 seq_read > 0 ? rate / seq_read : 0, copy > 0 ? rate / copy : 0);
  };
  row("(a) rocksdb backup+WAL+VerifyChecksum", a_full, a_full, a_bytes - rb.wal_bytes,
      rb.wal_bytes);
  row(absl::StrFormat("(b) index, lose 1 of %zu hosts", f.hosts), b_first, b_full, b_bytes,
      b_journal);
  row("(c) index, cold start of all cells", c_first, c_full, c_bytes, c_journal);
  std::fprintf(out, "(MiB/s = (fetched + journal) / full time; for (a) fetched = backup, journal = "
               "WAL; the index reads its journals in place from the store, whole segments; x seq "
               "read / x copy: that rate over the cold sequential read / cold copy+fsync rate, "
               "medians of start and end)\n");
  std::fprintf(out, "\n(a) phases (median): restore %.3fs, open+WAL replay %.3fs, VerifyChecksum "
              "%.3fs; serving before VerifyChecksum would give %.3fs\n",
              med_a([](const RawRun& r) { return r.restore_s; }),
              med_a([](const RawRun& r) { return r.open_s; }),
              med_a([](const RawRun& r) { return r.verify_s; }),
              med_a([](const RawRun& r) { return r.open_ready_s; }));
  std::fprintf(out, "(b) LoseHost call %.3fs; by the library's clock first %.3fs, all %.3fs; "
              "WaitForRecovery returned at %.3fs\n",
              med_i(res.b, [](const IndexRun& r) { return r.lose_call_s; }),
              med_i(res.b, [](const IndexRun& r) { return r.lib_first_s; }),
              med_i(res.b, [](const IndexRun& r) { return r.lib_full_s; }),
              med_i(res.b, [](const IndexRun& r) { return r.wait_s; }));
  std::fprintf(out, "(c) Index::Open returned at %.3fs; probes saw first %.3fs, all %.3fs\n",
              med_i(res.c, [](const IndexRun& r) { return r.open_return_s; }),
              med_i(res.c, [](const IndexRun& r) { return r.probe_first_s; }),
              med_i(res.c, [](const IndexRun& r) { return r.probe_full_s; }));

  std::fprintf(out, "\nper-cell recovery phases, seconds (median / max over cells and repetitions):\n");
  std::fprintf(out, "%-4s %15s %15s %15s %15s %15s %17s %17s\n", "", "fetch", "verify", "open",
              "replay", "time_to_serve", "fetched MiB", "records replayed");
  auto phase_row = [out](const char* name, const Phases& p) {
    auto mm = [](const std::vector<double>& v, double scale) {
      return absl::StrFormat("%.3f / %.3f", Median(v) / scale, Max(v) / scale);
    };
    std::fprintf(out, "%-4s %15s %15s %15s %15s %15s %17s %17s\n", name, mm(p.fetch, 1).c_str(),
                mm(p.verify, 1).c_str(), mm(p.open, 1).c_str(), mm(p.replay, 1).c_str(),
                mm(p.serve, 1).c_str(), mm(p.bytes_fetched, kMiB).c_str(),
                absl::StrFormat("%.0f / %.0f", Median(p.records_replayed),
                                Max(p.records_replayed))
                    .c_str());
  };
  phase_row("(b)", res.b_phases);
  phase_row("(c)", res.c_phases);

  for (const auto& [name, r] : res.extra) {
    std::fprintf(out, "%-30s first %.3fs, all %.3fs%s\n", name.c_str(), r.first_s, r.full_s,
                r.validated_s > 0 ? absl::StrFormat(", all validated %.3fs", r.validated_s).c_str()
                                  : "");
  }

  std::fprintf(out, "\nratios against (a) = %.3fs (medians; each repetition: a %s, b %s, c %s/%s)\n",
              a_full,
              JsonList(Pick(res.a, [](const RawRun& r) { return r.full_s; })).c_str(),
              JsonList(Pick(res.b, [](const IndexRun& r) { return r.full_s; })).c_str(),
              JsonList(Pick(res.c, [](const IndexRun& r) { return r.first_s; })).c_str(),
              JsonList(Pick(res.c, [](const IndexRun& r) { return r.full_s; })).c_str());
  auto ratio = [&](const char* what, double x, double target) {
    std::fprintf(out, "  %-40s %6.3f  target <= %.2f: %s\n", what, x / a_full, target,
                x / a_full <= target ? "met" : "NOT met");
  };
  ratio("(b) all lost cells serving / (a)", b_full, 0.15);
  ratio("(c) first cell serving / (a)", c_first, 0.05);
  ratio("(c) all cells serving / (a)", c_full, 1.2);
  std::fprintf(out, "\ntotal run time %.1fs\n", res.total_s);
}

int Main(int argc, char** argv) {
  Results res;
  res.flags = ParseFlags(argc, argv);
  const Flags& f = res.flags;
  const Clock::time_point start = Clock::now();
  res.cores = std::thread::hardware_concurrency();
  res.load_before = ReadSmallFile("/proc/loadavg");
  res.disk = DiskOf(f.dir);

  Layout l;
  {
    std::string tmpl = f.dir + "/cellindex-recovery-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp", absl::ErrnoToStatus(errno, tmpl));
    l.root = tmpl;
  }
  if (!f.keep) scratch_to_remove = l.root;
  Log("scratch dir %s", l.root);

  Log("disk: %d MiB sequential write/read/copy", f.disk_test_mb);
  res.disk_start = MeasureDisk(l.root, f.disk_test_mb << 20);

  Log("(a) rocksdb: load %d objects, backup, tail of %d", f.objects, f.tail);
  res.raw_build = BuildRaw(f, l);
  res.record_bytes_avg = static_cast<double>(res.raw_build.record_bytes) / f.objects;
  Log("(b)(c) index: load, checkpoint, tail");
  res.index_build = BuildIndex(f, l);
  for (const auto& [id, host] : res.index_build.cell_host) res.lost_cells += host == f.lose;
  if (res.lost_cells == 0) Die("layout", absl::InvalidArgumentError("--lose names no host"));
  const auto kept_signature = Signature(l.index_kept());

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
    res.a.push_back(RunRaw(f, l, res.raw_build));
    Log("rep %d (a) full %.3fs", rep + 1, res.a.back().full_s);
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
}  // namespace cellindex

int main(int argc, char** argv) { return cellindex::Main(argc, argv); }
