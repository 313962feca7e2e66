#include "bench/recovery_bench_fs.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "bench/bench_util.h"

namespace cellindex::bench::recovery_bench {
namespace {

using Counters = CountingFileSystem::Counters;

void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

class CountingWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  CountingWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, Counters* c)
      : FSWritableFileOwnerWrapper(std::move(file)), c_(c) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    Bump(c_->bytes_written, data.size());
    return target()->Append(data, o, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    Bump(c_->bytes_written, data.size());
    return target()->Append(data, o, info, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* dbg) override {
    Bump(c_->bytes_written, data.size());
    return target()->PositionedAppend(data, offset, o, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& o,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    Bump(c_->bytes_written, data.size());
    return target()->PositionedAppend(data, offset, o, info, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    Bump(c_->syncs);
    return target()->Sync(o, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    Bump(c_->syncs);
    return target()->Fsync(o, dbg);
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t n, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    Bump(c_->range_syncs);
    return target()->RangeSync(offset, n, o, dbg);
  }

 private:
  Counters* c_;
};

class CountingRandomRWFile : public rocksdb::FSRandomRWFileOwnerWrapper {
 public:
  CountingRandomRWFile(std::unique_ptr<rocksdb::FSRandomRWFile> file, Counters* c)
      : FSRandomRWFileOwnerWrapper(std::move(file)), c_(c) {}

  rocksdb::IOStatus Write(uint64_t offset, const rocksdb::Slice& data,
                          const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    Bump(c_->bytes_written, data.size());
    return FSRandomRWFileOwnerWrapper::Write(offset, data, o, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    Bump(c_->syncs);
    return FSRandomRWFileOwnerWrapper::Sync(o, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    Bump(c_->syncs);
    return FSRandomRWFileOwnerWrapper::Fsync(o, dbg);
  }

 private:
  Counters* c_;
};

class CountingDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  CountingDirectory(std::unique_ptr<rocksdb::FSDirectory> dir, Counters* c)
      : FSDirectoryWrapper(std::move(dir)), c_(c) {}

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    Bump(c_->dir_syncs);
    return FSDirectoryWrapper::Fsync(o, dbg);
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& opts) override {
    Bump(c_->dir_syncs);
    return FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, opts);
  }

 private:
  Counters* c_;
};

FsCounts CountsOf(const Counters& c) {
  FsCounts f;
  f.syncs = c.syncs.load(std::memory_order_relaxed);
  f.range_syncs = c.range_syncs.load(std::memory_order_relaxed);
  f.dir_syncs = c.dir_syncs.load(std::memory_order_relaxed);
  f.files_created = c.files_created.load(std::memory_order_relaxed);
  f.dirs_created = c.dirs_created.load(std::memory_order_relaxed);
  f.renames = c.renames.load(std::memory_order_relaxed);
  f.links = c.links.load(std::memory_order_relaxed);
  f.deletes = c.deletes.load(std::memory_order_relaxed);
  f.bytes_written = c.bytes_written.load(std::memory_order_relaxed);
  return f;
}

}  // namespace

FsCounts& FsCounts::operator+=(const FsCounts& o) {
  syncs += o.syncs;
  range_syncs += o.range_syncs;
  dir_syncs += o.dir_syncs;
  files_created += o.files_created;
  dirs_created += o.dirs_created;
  renames += o.renames;
  links += o.links;
  deletes += o.deletes;
  bytes_written += o.bytes_written;
  return *this;
}

FsCounts MedianCounts(const std::vector<FsCounts>& v) {
  auto median = [&](uint64_t FsCounts::*field) {
    std::vector<double> x;
    for (const FsCounts& c : v) x.push_back(static_cast<double>(c.*field));
    return static_cast<uint64_t>(Median(x) + 0.5);
  };
  FsCounts m;
  for (uint64_t FsCounts::*field :
       {&FsCounts::syncs, &FsCounts::range_syncs, &FsCounts::dir_syncs, &FsCounts::files_created,
        &FsCounts::dirs_created, &FsCounts::renames, &FsCounts::links, &FsCounts::deletes,
        &FsCounts::bytes_written}) {
    m.*field = median(field);
  }
  return m;
}

CountingFileSystem::CountingFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

int CountingFileSystem::CellOf(const std::string& path) {
  constexpr char kCells[] = "/cells/";
  const size_t at = path.rfind(kCells);
  if (at == std::string::npos) return kNoCell;
  size_t i = at + sizeof(kCells) - 1;
  if (i >= path.size() || !absl::ascii_isdigit(path[i])) return kNoCell;
  int id = 0;
  for (; i < path.size() && absl::ascii_isdigit(path[i]) && id < (1 << 24); ++i) {
    id = id * 10 + (path[i] - '0');
  }
  return id;
}

CountingFileSystem::Counters& CountingFileSystem::For(const std::string& path) {
  const int cell = CellOf(path);
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Counters>& c = cells_[cell];
  if (c == nullptr) c = std::make_unique<Counters>();
  return *c;
}

void CountingFileSystem::Reset() {
  absl::MutexLock lock(&mu_);
  for (auto& [cell, c] : cells_) {
    for (std::atomic<uint64_t>* a :
         {&c->syncs, &c->range_syncs, &c->dir_syncs, &c->files_created, &c->dirs_created,
          &c->renames, &c->links, &c->deletes, &c->bytes_written}) {
      a->store(0, std::memory_order_relaxed);
    }
  }
}

FsCounts CountingFileSystem::Total() const {
  FsCounts total;
  for (const auto& [cell, c] : ByCell()) total += c;
  return total;
}

std::map<int, FsCounts> CountingFileSystem::ByCell() const {
  std::map<int, FsCounts> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [cell, c] : cells_) {
    const FsCounts f = CountsOf(*c);
    if (f.fsyncs() + f.range_syncs + f.files_created + f.dirs_created + f.renames + f.links +
            f.deletes + f.bytes_written >
        0) {
      out[cell] = f;
    }
  }
  return out;
}

rocksdb::IOStatus CountingFileSystem::NewWritableFile(const std::string& f,
                                                      const rocksdb::FileOptions& o,
                                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                                      rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->NewWritableFile(f, o, &file, dbg);
  if (!s.ok()) return s;
  Counters& c = For(f);
  Bump(c.files_created);
  *r = std::make_unique<CountingWritableFile>(std::move(file), &c);
  return s;
}

rocksdb::IOStatus CountingFileSystem::ReopenWritableFile(
    const std::string& f, const rocksdb::FileOptions& o,
    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReopenWritableFile(f, o, &file, dbg);
  if (!s.ok()) return s;
  *r = std::make_unique<CountingWritableFile>(std::move(file), &For(f));
  return s;
}

rocksdb::IOStatus CountingFileSystem::ReuseWritableFile(
    const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReuseWritableFile(f, old, o, &file, dbg);
  if (!s.ok()) return s;
  Counters& c = For(f);
  Bump(c.files_created);
  Bump(c.renames);
  *r = std::make_unique<CountingWritableFile>(std::move(file), &c);
  return s;
}

rocksdb::IOStatus CountingFileSystem::NewRandomRWFile(const std::string& f,
                                                      const rocksdb::FileOptions& o,
                                                      std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                                      rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSRandomRWFile> file;
  rocksdb::IOStatus s = target()->NewRandomRWFile(f, o, &file, dbg);
  if (!s.ok()) return s;
  Counters& c = For(f);
  Bump(c.files_created);
  *r = std::make_unique<CountingRandomRWFile>(std::move(file), &c);
  return s;
}

rocksdb::IOStatus CountingFileSystem::NewDirectory(const std::string& d,
                                                   const rocksdb::IOOptions& o,
                                                   std::unique_ptr<rocksdb::FSDirectory>* r,
                                                   rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> dir;
  rocksdb::IOStatus s = target()->NewDirectory(d, o, &dir, dbg);
  if (!s.ok()) return s;
  *r = std::make_unique<CountingDirectory>(std::move(dir), &For(d));
  return s;
}

rocksdb::IOStatus CountingFileSystem::CreateDir(const std::string& d, const rocksdb::IOOptions& o,
                                                rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->CreateDir(d, o, dbg);
  if (s.ok()) Bump(For(d).dirs_created);
  return s;
}

rocksdb::IOStatus CountingFileSystem::CreateDirIfMissing(const std::string& d,
                                                         const rocksdb::IOOptions& o,
                                                         rocksdb::IODebugContext* dbg) {
  bool existed = false;
  (void)target()->IsDirectory(d, o, &existed, dbg);
  rocksdb::IOStatus s = target()->CreateDirIfMissing(d, o, dbg);
  if (s.ok() && !existed) Bump(For(d).dirs_created);
  return s;
}

rocksdb::IOStatus CountingFileSystem::DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                                                 rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->DeleteFile(f, o, dbg);
  if (s.ok()) Bump(For(f).deletes);
  return s;
}

rocksdb::IOStatus CountingFileSystem::DeleteDir(const std::string& d, const rocksdb::IOOptions& o,
                                                rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->DeleteDir(d, o, dbg);
  if (s.ok()) Bump(For(d).deletes);
  return s;
}

rocksdb::IOStatus CountingFileSystem::RenameFile(const std::string& from, const std::string& to,
                                                 const rocksdb::IOOptions& o,
                                                 rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->RenameFile(from, to, o, dbg);
  if (s.ok()) Bump(For(to).renames);
  return s;
}

rocksdb::IOStatus CountingFileSystem::LinkFile(const std::string& from, const std::string& to,
                                               const rocksdb::IOOptions& o,
                                               rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->LinkFile(from, to, o, dbg);
  if (s.ok()) Bump(For(to).links);
  return s;
}

}  // namespace cellindex::bench::recovery_bench
