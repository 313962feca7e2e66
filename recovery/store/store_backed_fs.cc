#include "recovery/store/store_backed_fs.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "index/base/coding.h"
#include "index/base/file_util.h"
#include "index/base/rocks_status.h"

namespace cellindex {
namespace {

constexpr uint32_t kMagic = 0x4d455243;  // "CREM"
constexpr uint8_t kFormat = 1;
// A file being landed: fetched here, renamed to its name once it verifies.
constexpr char kLandingSuffix[] = ".landing";

std::string StripSlashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// Reads of a store object in order, for RocksDB's sequential readers.
class SequentialOverRandom : public rocksdb::FSSequentialFile {
 public:
  explicit SequentialOverRandom(std::unique_ptr<rocksdb::FSRandomAccessFile> file)
      : file_(std::move(file)) {}
  rocksdb::IOStatus Read(size_t n, const rocksdb::IOOptions& options, rocksdb::Slice* result,
                         char* scratch, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = file_->Read(offset_, n, options, result, scratch, dbg);
    if (s.ok()) offset_ += result->size();
    return s;
  }
  rocksdb::IOStatus Skip(uint64_t n) override {
    offset_ += n;
    return rocksdb::IOStatus::OK();
  }

 private:
  std::unique_ptr<rocksdb::FSRandomAccessFile> file_;
  uint64_t offset_ = 0;
};

}  // namespace

std::string EncodeRemoteFiles(const std::vector<CheckpointFile>& files) {
  std::string out;
  PutFrameHeader(&out, kMagic, kFormat);
  PutVarint64(&out, files.size());
  for (const CheckpointFile& f : files) PutCheckpointFile(&out, f);
  PutChecksumTrailer(&out);
  return out;
}

absl::StatusOr<std::vector<CheckpointFile>> DecodeRemoteFiles(absl::string_view data) {
  auto damaged = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("remote file list: ", why));
  };
  absl::string_view body;
  if (const char* why = OpenFrame(data, kMagic, kFormat, &body)) return damaged(why);
  uint64_t n;
  // Each entry takes at least 18 bytes.
  if (!GetVarint64(&body, &n) || n > body.size() / 18) return damaged("bad file count");
  std::vector<CheckpointFile> files(n);
  for (CheckpointFile& f : files) {
    if (!GetCheckpointFile(&body, &f)) return damaged("truncated entry");
    if (f.db_name.empty() || f.db_name.find('/') != std::string::npos || f.store_name.empty()) {
      return damaged("bad file name");
    }
  }
  if (!body.empty()) return damaged("trailing bytes");
  return files;
}

bool StoreBackedFs::HasList(rocksdb::FileSystem& fs, const std::string& db_dir) {
  return PathExists(fs, db_dir + "/" + kRemoteFilesName);
}

absl::StatusOr<std::shared_ptr<StoreBackedFs>> StoreBackedFs::Open(
    std::shared_ptr<rocksdb::FileSystem> base, DurableStore* store, const std::string& db_dir) {
  const std::string dir = StripSlashes(db_dir);
  absl::StatusOr<std::string> data = ReadFileToString(*base, dir + "/" + kRemoteFilesName);
  if (!data.ok()) return data.status();
  absl::StatusOr<std::vector<CheckpointFile>> files = DecodeRemoteFiles(*data);
  if (!files.ok()) {
    return absl::DataLossError(absl::StrCat(dir, ": ", files.status().message()));
  }
  absl::StatusOr<std::vector<std::string>> names = ListDir(*base, dir);
  if (!names.ok()) return names.status();
  const std::set<std::string> local(names->begin(), names->end());
  for (const std::string& n : local) {
    if (absl::StrContains(n, kLandingSuffix)) {
      if (absl::Status s = FromIO(base->DeleteFile(dir + "/" + n, rocksdb::IOOptions(), nullptr),
                                  absl::StrCat("remove ", dir, "/", n));
          !s.ok()) {
        return s;
      }
    }
  }
  const size_t listed = files->size();
  files->erase(std::remove_if(files->begin(), files->end(),
                              [&](const CheckpointFile& f) { return local.count(f.db_name) > 0; }),
               files->end());
  std::shared_ptr<StoreBackedFs> fs(
      new StoreBackedFs(std::move(base), store, dir, *std::move(files)));
  if (fs->listed_.size() != listed) {
    absl::MutexLock lock(&fs->mu_);
    if (absl::Status s = fs->PersistLocked(); !s.ok()) return s;
  }
  return fs;
}

StoreBackedFs::StoreBackedFs(std::shared_ptr<rocksdb::FileSystem> base, DurableStore* store,
                             std::string db_dir, std::vector<CheckpointFile> files)
    : rocksdb::FileSystemWrapper(std::move(base)), store_(store), db_dir_(std::move(db_dir)) {
  for (CheckpointFile& f : files) {
    const std::string name = f.db_name;
    listed_.emplace(name, std::move(f));
  }
}

std::vector<CheckpointFile> StoreBackedFs::Remaining() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<CheckpointFile> out;
  for (const auto& [name, f] : listed_) out.push_back(f);
  return out;
}

bool StoreBackedFs::IsDbDir(const std::string& dir) const { return StripSlashes(dir) == db_dir_; }

const CheckpointFile* StoreBackedFs::Listed(const std::string& fname) const {
  const size_t slash = fname.find_last_of('/');
  if (slash == std::string::npos || !IsDbDir(fname.substr(0, slash))) return nullptr;
  auto it = listed_.find(fname.substr(slash + 1));
  return it == listed_.end() ? nullptr : &it->second;
}

absl::Status StoreBackedFs::PersistLocked() {
  const std::string path = db_dir_ + "/" + kRemoteFilesName;
  if (!listed_.empty()) {
    std::vector<CheckpointFile> files;
    for (const auto& [name, f] : listed_) files.push_back(f);
    return AtomicWriteFile(*target(), path, EncodeRemoteFiles(files));
  }
  rocksdb::IOStatus s = target()->DeleteFile(path, rocksdb::IOOptions(), nullptr);
  if (!s.ok() && !s.IsNotFound() && !s.IsPathNotFound()) {
    return FromIO(s, absl::StrCat("remove ", path));
  }
  return SyncDir(*target(), db_dir_);
}

absl::Status StoreBackedFs::Land(const CheckpointFile& file, const ChunkFn& on_chunk) {
  const std::string path = db_dir_ + "/" + file.db_name;
  const std::string landing = path + kLandingSuffix;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (listed_.count(file.db_name) == 0) return absl::OkStatus();
  }
  FileDigest got;
  absl::Status s = store_->GetFile(file.store_name, landing, &got, on_chunk);
  if (absl::IsNotFound(s)) {
    s = absl::DataLossError(absl::StrCat("file ", file.store_name, " is missing from the store"));
  }
  if (s.ok() && got != file.digest) {
    s = absl::DataLossError(absl::StrCat(
        "file ", file.store_name, " does not match its manifest (size ", got.size, " vs ",
        file.digest.size, ", xxh3-128 ", got.ToHex(), " vs ", file.digest.ToHex(), ")"));
  }
  auto drop_landing = [&] { (void)target()->DeleteFile(landing, rocksdb::IOOptions(), nullptr); };
  if (!s.ok()) {
    drop_landing();
    return s;
  }
  absl::MutexLock lock(&mu_);
  if (listed_.count(file.db_name) == 0) {  // RocksDB deleted it while it was fetched
    drop_landing();
    return absl::OkStatus();
  }
  s = FromIO(target()->RenameFile(landing, path, rocksdb::IOOptions(), nullptr),
             absl::StrCat("rename ", landing));
  if (s.ok()) s = SyncDir(*target(), db_dir_);
  if (!s.ok()) {
    drop_landing();
    return s;
  }
  listed_.erase(file.db_name);
  return PersistLocked();
}

rocksdb::IOStatus StoreBackedFs::OpenListed(const CheckpointFile& f,
                                            std::unique_ptr<rocksdb::FSRandomAccessFile>* result) {
  absl::StatusOr<std::unique_ptr<rocksdb::FSRandomAccessFile>> file =
      store_->OpenForRead(f.store_name);
  if (absl::IsNotFound(file.status())) {
    // RocksDB treats a missing table file as damage of the state.
    return rocksdb::IOStatus::Corruption(
        absl::StrCat("store object ", f.store_name, " of ", f.db_name, " is missing"));
  }
  if (!file.ok()) return rocksdb::IOStatus::IOError(std::string(file.status().message()));
  *result = *std::move(file);
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus StoreBackedFs::NewRandomAccessFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSRandomAccessFile>* result, rocksdb::IODebugContext* dbg) {
  CheckpointFile f;
  {
    absl::ReaderMutexLock lock(&mu_);
    const CheckpointFile* listed = Listed(fname);
    if (listed == nullptr) return target()->NewRandomAccessFile(fname, options, result, dbg);
    f = *listed;
  }
  return OpenListed(f, result);
}

rocksdb::IOStatus StoreBackedFs::NewSequentialFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSSequentialFile>* result, rocksdb::IODebugContext* dbg) {
  CheckpointFile f;
  {
    absl::ReaderMutexLock lock(&mu_);
    const CheckpointFile* listed = Listed(fname);
    if (listed == nullptr) return target()->NewSequentialFile(fname, options, result, dbg);
    f = *listed;
  }
  std::unique_ptr<rocksdb::FSRandomAccessFile> file;
  if (rocksdb::IOStatus s = OpenListed(f, &file); !s.ok()) return s;
  *result = std::make_unique<SequentialOverRandom>(std::move(file));
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus StoreBackedFs::FileExists(const std::string& fname,
                                            const rocksdb::IOOptions& options,
                                            rocksdb::IODebugContext* dbg) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (Listed(fname) != nullptr) return rocksdb::IOStatus::OK();
  }
  return target()->FileExists(fname, options, dbg);
}

rocksdb::IOStatus StoreBackedFs::GetFileSize(const std::string& fname,
                                             const rocksdb::IOOptions& options, uint64_t* size,
                                             rocksdb::IODebugContext* dbg) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (const CheckpointFile* f = Listed(fname)) {
      *size = f->digest.size;
      return rocksdb::IOStatus::OK();
    }
  }
  return target()->GetFileSize(fname, options, size, dbg);
}

rocksdb::IOStatus StoreBackedFs::GetFileModificationTime(const std::string& fname,
                                                         const rocksdb::IOOptions& options,
                                                         uint64_t* mtime,
                                                         rocksdb::IODebugContext* dbg) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (Listed(fname) != nullptr) {
      // Its time of arrival is the list's.
      return target()->GetFileModificationTime(db_dir_ + "/" + kRemoteFilesName, options, mtime,
                                               dbg);
    }
  }
  return target()->GetFileModificationTime(fname, options, mtime, dbg);
}

rocksdb::IOStatus StoreBackedFs::GetChildren(const std::string& dir,
                                             const rocksdb::IOOptions& options,
                                             std::vector<std::string>* result,
                                             rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->GetChildren(dir, options, result, dbg);
  if (!s.ok() || !IsDbDir(dir)) return s;
  absl::ReaderMutexLock lock(&mu_);
  std::set<std::string> names(result->begin(), result->end());
  for (const auto& [name, f] : listed_) {
    if (names.insert(name).second) result->push_back(name);
  }
  return s;
}

rocksdb::IOStatus StoreBackedFs::GetChildrenFileAttributes(
    const std::string& dir, const rocksdb::IOOptions& options,
    std::vector<rocksdb::FileAttributes>* result, rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->GetChildrenFileAttributes(dir, options, result, dbg);
  if (!s.ok() || !IsDbDir(dir)) return s;
  absl::ReaderMutexLock lock(&mu_);
  std::set<std::string> names;
  for (const rocksdb::FileAttributes& a : *result) names.insert(a.name);
  for (const auto& [name, f] : listed_) {
    if (names.insert(name).second) {
      rocksdb::FileAttributes a;
      a.name = name;
      a.size_bytes = f.digest.size;
      result->push_back(a);
    }
  }
  return s;
}

rocksdb::IOStatus StoreBackedFs::DeleteFile(const std::string& fname,
                                            const rocksdb::IOOptions& options,
                                            rocksdb::IODebugContext* dbg) {
  {
    absl::MutexLock lock(&mu_);
    if (const CheckpointFile* f = Listed(fname)) {
      // Only this directory forgets it: the store's object stays, for the
      // checkpoints that name it.
      listed_.erase(f->db_name);
      if (absl::Status s = PersistLocked(); !s.ok()) {
        return rocksdb::IOStatus::IOError(std::string(s.message()));
      }
      return rocksdb::IOStatus::OK();
    }
  }
  return target()->DeleteFile(fname, options, dbg);
}

rocksdb::IOStatus StoreBackedFs::RenameFile(const std::string& src, const std::string& target,
                                            const rocksdb::IOOptions& options,
                                            rocksdb::IODebugContext* dbg) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (Listed(src) != nullptr || Listed(target) != nullptr) {
      return rocksdb::IOStatus::NotSupported(
          absl::StrCat("rename of a file still in the store: ", src, " -> ", target));
    }
  }
  return FileSystemWrapper::RenameFile(src, target, options, dbg);
}

rocksdb::IOStatus StoreBackedFs::LinkFile(const std::string& src, const std::string& target,
                                          const rocksdb::IOOptions& options,
                                          rocksdb::IODebugContext* dbg) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (Listed(src) != nullptr) {
      return rocksdb::IOStatus::NotSupported(
          absl::StrCat("link of a file still in the store: ", src));
    }
  }
  return FileSystemWrapper::LinkFile(src, target, options, dbg);
}

rocksdb::IOStatus StoreBackedFs::NumFileLinks(const std::string& fname,
                                              const rocksdb::IOOptions& options, uint64_t* count,
                                              rocksdb::IODebugContext* dbg) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (Listed(fname) != nullptr) {
      *count = 1;
      return rocksdb::IOStatus::OK();
    }
  }
  return target()->NumFileLinks(fname, options, count, dbg);
}

}  // namespace cellindex
