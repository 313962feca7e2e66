#include "bench/bench_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "index/base/file_util.h"
#include "index/base/rocks_status.h"
#include "rocksdb/file_system.h"

namespace cellindex::bench {
namespace {

std::string program_name = "bench";
std::string dir_to_remove;

rocksdb::FileSystem& DefaultFs() { return *rocksdb::FileSystem::Default(); }

}  // namespace

// ---- Errors -------------------------------------------------------------------

void SetProgramName(absl::string_view name) { program_name = std::string(name); }

void RemoveOnDie(const std::string& dir) { dir_to_remove = dir; }

void Die(absl::string_view what, const absl::Status& s) {
  std::fprintf(stderr, "%s: %.*s: %s\n", program_name.c_str(), static_cast<int>(what.size()),
               what.data(), s.ToString().c_str());
  if (!dir_to_remove.empty()) (void)RemoveAll(DefaultFs(), dir_to_remove);
  std::exit(1);
}

void Check(const rocksdb::Status& s, absl::string_view what) {
  if (!s.ok()) Die(what, FromRocks(s, "rocksdb"));
}

std::unique_ptr<Index> OpenIndex(const Options& options) {
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(options);
  if (!index.ok()) Die("open index", index.status());
  return *std::move(index);
}

std::unique_ptr<Index> OpenIndex(const Options& options, const InternalOptions& internal) {
  absl::StatusOr<std::unique_ptr<Index>> index = cellindex::OpenIndex(options, internal);
  if (!index.ok()) Die("open index", index.status());
  return *std::move(index);
}

// ---- Timing and statistics ------------------------------------------------------

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double CpuSeconds() {
  struct rusage u;
  if (::getrusage(RUSAGE_SELF, &u) != 0) return 0;
  auto seconds = [](const struct timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
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

uint64_t Mix64(uint64_t x) {
  uint64_t z = x + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t SplitMix64(uint64_t* state) {
  const uint64_t x = *state;
  *state += 0x9e3779b97f4a7c15ull;
  return Mix64(x);
}

// ---- Files ------------------------------------------------------------------------

std::string MakeTempDir(const std::string& parent, absl::string_view name) {
  std::string tmpl = absl::StrCat(parent, "/", name, "-XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp", absl::ErrnoToStatus(errno, tmpl));
  return tmpl;
}

TempDir::TempDir(const std::string& parent, absl::string_view name)
    : path_(MakeTempDir(parent, name)) {}

TempDir::~TempDir() { (void)RemoveAll(DefaultFs(), path_); }

void RemoveTree(const std::string& path) {
  if (absl::Status s = RemoveAll(DefaultFs(), path); !s.ok()) Die("remove", s);
}

void MakeDirs(const std::string& path) {
  if (absl::Status s = CreateDirs(DefaultFs(), path); !s.ok()) Die("mkdir", s);
}

void ForEachFile(const std::string& root, const std::function<void(const std::string&)>& fn) {
  absl::StatusOr<bool> dir = IsDirectory(DefaultFs(), root);
  if (absl::IsNotFound(dir.status())) return;
  if (!dir.ok()) Die("walk", dir.status());
  if (!*dir) {
    fn(root);
    return;
  }
  absl::StatusOr<std::vector<std::string>> names = ListDir(DefaultFs(), root);
  if (!names.ok()) Die("walk", names.status());
  for (const std::string& name : *names) ForEachFile(root + "/" + name, fn);
}

uint64_t TreeBytes(const std::string& root) {
  uint64_t total = 0;
  ForEachFile(root, [&](const std::string& p) {
    total += FileSize(DefaultFs(), p).value_or(0);
  });
  return total;
}

std::string ReadSmallFile(const std::string& path) {
  std::string s = ReadFileToString(DefaultFs(), path).value_or("");
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// ---- The page cache and the disk ---------------------------------------------------

void DropFromPageCache(const std::string& root) {
  ForEachFile(root, [](const std::string& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fdatasync(fd);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  });
}

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

ObjectRecord BenchRecord() {
  ObjectRecord r;
  r.size = 734003;
  r.etag = "\"9b2cf535f27731c974343645a3985328\"";
  r.created = absl::FromUnixSeconds(1700000000);
  r.modified = r.created;
  r.content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  r.version = 1000000;  // the Index assigns its own; same varint width
  r.locations = {{"node-0017.rack-04", "vol-0017-03", 4096, 734003},
                 {"node-0042.rack-11", "vol-0042-07", 81920, 734003}};
  return r;
}

}  // namespace cellindex::bench
