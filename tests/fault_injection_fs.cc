#include "tests/fault_injection_fs.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <utility>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cellindex::testing {

using rocksdb::DirFsyncOptions;
using rocksdb::FileOptions;
using rocksdb::FSDirectory;
using rocksdb::FSRandomAccessFile;
using rocksdb::FSRandomRWFile;
using rocksdb::FSWritableFile;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

namespace {

// "/a/b" -> "/a"; "/a" -> "/".
std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string::npos) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// True when `path` is `dir` or lies below it.
bool IsUnder(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return absl::StartsWith(path, dir) &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

// `path` with its leading `from` (see IsUnder) replaced by `to`.
std::string Rebase(const std::string& path, const std::string& from, const std::string& to) {
  return to + path.substr(from == "/" ? 0 : from.size());
}

absl::Status ToAbsl(const IOStatus& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(s.ToString());
}

// Keeps the first error of a sequence of calls that must all be attempted.
void KeepFirst(IOStatus* first, const IOStatus& s) {
  if (first->ok() && !s.ok()) *first = s;
}

}  // namespace

const char* FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kWrite: return "write";
    case FaultKind::kSync: return "sync";
    case FaultKind::kDirSync: return "directory sync";
    case FaultKind::kRename: return "rename";
    case FaultKind::kLink: return "link";
    case FaultKind::kCreate: return "create";
    case FaultKind::kDelete: return "delete";
    case FaultKind::kTruncate: return "truncate";
  }
  return "unknown";
}

// One file (an inode: hard links share it). Every field is guarded by the
// file system's mu_.
struct FaultInjectionFileSystem::FileState {
  uint64_t size = 0;
  uint64_t synced_size = 0;
  // Bytes of the synced image overwritten or cut off since the last sync, in
  // the order it happened. A power loss writes them back newest first, so each
  // byte ends as it was at the sync. All lie below synced_size.
  struct Undo {
    uint64_t offset;
    std::string bytes;
  };
  std::vector<Undo> undo;
  // Syncs in flight may end out of order: each takes a number when it starts,
  // and only one that started after the last applied one takes effect.
  uint64_t syncs_started = 0;
  uint64_t sync_applied = 0;
  // Where the file can be reached now: its names in the tree, and its name in
  // the trash while a deletion or replacement is not durable.
  absl::btree_set<std::string> names;
};

// A directory-entry change that becomes durable when `dir` is fsynced.
struct FaultInjectionFileSystem::DirOp {
  enum class Kind { kCreateFile, kCreateDir, kRenameFile, kRenameDir, kLinkFile, kDeleteFile,
                    kDeleteDir };
  // A change that puts or removes the name `path`: durable with its parent.
  DirOp(Kind kind, std::string path)
      : kind(kind), dir(ParentOf(path)), path(std::move(path)) {}

  Kind kind;
  uint64_t seq = 0;
  std::string dir;
  std::string path;    // the name created or removed; the target of a rename or link
  std::string source;  // the old name of a rename
  std::string trash;   // where a deleted or replaced file waits
  FilePtr file;        // the file created, renamed, linked or deleted
  FilePtr displaced;   // the file a rename replaced
  bool displaced_dir = false;  // a rename replaced an (empty) directory
};

struct FaultInjectionFileSystem::FaultRule {
  FaultRule(FaultKind kind, std::string path_substring)
      : kind(kind), path_substring(std::move(path_substring)) {}

  FaultKind kind;
  std::string path_substring;
  bool random = false;
  int remaining = 0;       // FailNext: failures left
  double probability = 0;  // FailRandomly
  std::mt19937_64 rng;     // FailRandomly; standard engine, so a seed replays anywhere
};

struct FaultInjectionFileSystem::SyncPoint {
  uint64_t size = 0;
  size_t undo_count = 0;
  uint64_t order = 0;  // FileState::syncs_started when it began
};

// ---- handles -----------------------------------------------------------

// What writable and random-rw handles share: their file, and the checking and
// recording around each base call. Each call holds power_mu_ shared while the
// base call runs, so a power switch waits for it.
class FileTracker {
 public:
  using FilePtr = std::shared_ptr<FaultInjectionFileSystem::FileState>;
  using BaseCall = std::function<IOStatus()>;

  FileTracker(FaultInjectionFileSystem* fs, std::string path, FilePtr file)
      : fs_(fs), path_(std::move(path)), file_(std::move(file)) {}

  IOStatus Write(uint64_t offset, uint64_t n, const BaseCall& write) {
    absl::ReaderMutexLock power(&fs_->power_mu_);
    IOStatus s = fs_->BeforeWrite(*file_, path_, offset, n);
    if (!s.ok()) return s;
    s = write();
    if (s.ok()) fs_->AfterWrite(*file_, offset + n);
    return s;
  }

  IOStatus Sync(const BaseCall& sync) {
    absl::ReaderMutexLock power(&fs_->power_mu_);
    FaultInjectionFileSystem::SyncPoint point;
    IOStatus s = fs_->BeforeSync(*file_, path_, &point);
    if (!s.ok()) return s;
    s = sync();
    if (s.ok()) fs_->AfterSync(*file_, point);
    return s;
  }

  IOStatus Truncate(uint64_t size, const BaseCall& cut) {
    absl::ReaderMutexLock power(&fs_->power_mu_);
    return fs_->TruncateTracked(*file_, path_, size, cut);
  }

  // A call that changes nothing the model tracks but must not run with the
  // power off (Close, Flush, RangeSync, Allocate).
  IOStatus Other(absl::string_view what, const BaseCall& call) {
    absl::ReaderMutexLock power(&fs_->power_mu_);
    IOStatus s = fs_->CheckPower(what, path_);
    return s.ok() ? call() : s;
  }

 private:
  FaultInjectionFileSystem* const fs_;
  const std::string path_;  // the name it was opened by, for messages and fault rules
  const FilePtr file_;
};

namespace {

class TrackedWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedWritableFile(FileTracker tracker, uint64_t pos, std::unique_ptr<FSWritableFile> base)
      : FSWritableFileOwnerWrapper(std::move(base)), tracker_(std::move(tracker)), pos_(pos) {}

  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* dbg) override {
    return WriteAt(pos_, data.size(), [&] { return target()->Append(data, o, dbg); });
  }
  IOStatus Append(const Slice& data, const IOOptions& o,
                  const rocksdb::DataVerificationInfo& info, IODebugContext* dbg) override {
    return WriteAt(pos_, data.size(), [&] { return target()->Append(data, o, info, dbg); });
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* dbg) override {
    return WriteAt(offset, data.size(),
                   [&] { return target()->PositionedAppend(data, offset, o, dbg); });
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* dbg) override {
    return WriteAt(offset, data.size(),
                   [&] { return target()->PositionedAppend(data, offset, o, info, dbg); });
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = tracker_.Truncate(size, [&] { return target()->Truncate(size, o, dbg); });
    if (s.ok()) pos_ = size;
    return s;
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    return tracker_.Sync([&] { return target()->Sync(o, dbg); });
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return tracker_.Sync([&] { return target()->Fsync(o, dbg); });
  }
  IOStatus Close(const IOOptions& o, IODebugContext* dbg) override {
    return tracker_.Other("close", [&] { return target()->Close(o, dbg); });
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* dbg) override {
    return tracker_.Other("flush", [&] { return target()->Flush(o, dbg); });
  }
  IOStatus RangeSync(uint64_t offset, uint64_t n, const IOOptions& o,
                     IODebugContext* dbg) override {
    return tracker_.Other("range sync", [&] { return target()->RangeSync(offset, n, o, dbg); });
  }
  IOStatus Allocate(uint64_t offset, uint64_t n, const IOOptions& o,
                    IODebugContext* dbg) override {
    return tracker_.Other("allocate", [&] { return target()->Allocate(offset, n, o, dbg); });
  }

 private:
  IOStatus WriteAt(uint64_t offset, uint64_t n, const FileTracker::BaseCall& write) {
    IOStatus s = tracker_.Write(offset, n, write);
    if (s.ok()) pos_ = offset + n;
    return s;
  }

  FileTracker tracker_;
  uint64_t pos_;  // where Append writes (a writable file is used by one writer at a time)
};

class TrackedRandomRWFile : public rocksdb::FSRandomRWFileOwnerWrapper {
 public:
  TrackedRandomRWFile(FileTracker tracker, std::unique_ptr<FSRandomRWFile> base)
      : FSRandomRWFileOwnerWrapper(std::move(base)), tracker_(std::move(tracker)) {}

  IOStatus Write(uint64_t offset, const Slice& data, const IOOptions& o,
                 IODebugContext* dbg) override {
    return tracker_.Write(offset, data.size(),
                          [&] { return target()->Write(offset, data, o, dbg); });
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    return tracker_.Sync([&] { return target()->Sync(o, dbg); });
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return tracker_.Sync([&] { return target()->Fsync(o, dbg); });
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* dbg) override {
    return tracker_.Other("flush", [&] { return target()->Flush(o, dbg); });
  }
  IOStatus Close(const IOOptions& o, IODebugContext* dbg) override {
    return tracker_.Other("close", [&] { return target()->Close(o, dbg); });
  }

 private:
  FileTracker tracker_;
};

}  // namespace

class TrackedDirectory : public FSDirectory {
 public:
  TrackedDirectory(FaultInjectionFileSystem* fs, std::string path,
                   std::unique_ptr<FSDirectory> base)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}

  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return fs_->SyncDir(path_, *base_, nullptr, o, dbg);
  }
  IOStatus FsyncWithDirOptions(const IOOptions& o, IODebugContext* dbg,
                               const DirFsyncOptions& options) override {
    return fs_->SyncDir(path_, *base_, &options, o, dbg);
  }
  IOStatus Close(const IOOptions& o, IODebugContext* dbg) override { return base_->Close(o, dbg); }
  size_t GetUniqueId(char* id, size_t max_size) const override {
    return base_->GetUniqueId(id, max_size);
  }

 private:
  FaultInjectionFileSystem* const fs_;
  const std::string path_;
  const std::unique_ptr<FSDirectory> base_;
};

// ---- construction, power, faults, inspection ----------------------------

FaultInjectionFileSystem::FaultInjectionFileSystem(std::shared_ptr<rocksdb::FileSystem> base,
                                                   std::string trash_dir)
    : FileSystemWrapper(base), trash_dir_(NormalizePath(trash_dir)) {
  // Errors surface later: a delete fails when it cannot move into the trash.
  target()->CreateDirIfMissing(trash_dir_, IOOptions(), nullptr).PermitUncheckedError();
  absl::MutexLock lock(&mu_);
  EmptyTrash().PermitUncheckedError();
}

FaultInjectionFileSystem::~FaultInjectionFileSystem() {
  absl::MutexLock lock(&mu_);
  EmptyTrash().PermitUncheckedError();
}

std::string FaultInjectionFileSystem::NormalizePath(absl::string_view path) {
  std::filesystem::path p{std::string(path)};
  if (p.is_relative()) {
    std::error_code ec;
    p = std::filesystem::current_path(ec) / p;
  }
  std::string normal = p.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

void FaultInjectionFileSystem::SetFilesystemActive(bool active) {
  absl::MutexLock power(&power_mu_);
  active_ = active;
}

bool FaultInjectionFileSystem::IsFilesystemActive() const {
  absl::ReaderMutexLock power(&power_mu_);
  return active_;
}

absl::Status FaultInjectionFileSystem::SimulatePowerLoss() {
  absl::MutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus first;
  // Newest first, so each change is undone on the state it was made on.
  for (auto op = pending_.rbegin(); op != pending_.rend(); ++op) KeepFirst(&first, Undo(*op));
  pending_.clear();
  absl::flat_hash_set<const FileState*> restored;
  for (const auto& [path, file] : files_) {
    if (restored.insert(file.get()).second) KeepFirst(&first, RestoreSyncedContents(path, *file));
  }
  KeepFirst(&first, EmptyTrash());
  return ToAbsl(first);
}

void FaultInjectionFileSystem::FailNext(FaultKind kind, int count, std::string path_substring) {
  if (count <= 0) return;
  absl::MutexLock lock(&mu_);
  FaultRule rule(kind, std::move(path_substring));
  rule.remaining = count;
  rules_.push_back(std::move(rule));
}

void FaultInjectionFileSystem::FailRandomly(FaultKind kind, double probability, uint64_t seed,
                                            std::string path_substring) {
  absl::MutexLock lock(&mu_);
  FaultRule rule(kind, std::move(path_substring));
  rule.random = true;
  rule.probability = probability;
  rule.rng.seed(seed);
  rules_.push_back(std::move(rule));
}

void FaultInjectionFileSystem::ClearFaults() {
  absl::MutexLock lock(&mu_);
  rules_.clear();
}

FaultInjectionCounters FaultInjectionFileSystem::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

void FaultInjectionFileSystem::ResetCounters() {
  absl::MutexLock lock(&mu_);
  counters_ = FaultInjectionCounters();
}

std::optional<TrackedFileState> FaultInjectionFileSystem::TrackedFile(
    const std::string& path) const {
  absl::MutexLock lock(&mu_);
  FilePtr file = Lookup(NormalizePath(path));
  if (file == nullptr) return std::nullopt;
  return TrackedFileState{file->size, file->synced_size};
}

std::vector<std::string> FaultInjectionFileSystem::PendingDirOps() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> lines;
  for (const DirOp& op : pending_) {
    std::string what;
    switch (op.kind) {
      case DirOp::Kind::kCreateFile: what = absl::StrCat("create ", op.path); break;
      case DirOp::Kind::kCreateDir: what = absl::StrCat("mkdir ", op.path); break;
      case DirOp::Kind::kRenameFile:
      case DirOp::Kind::kRenameDir:
        what = absl::StrCat("rename ", op.source, " -> ", op.path,
                            op.displaced || op.displaced_dir ? " (replacing it)" : "");
        break;
      case DirOp::Kind::kLinkFile: what = absl::StrCat("link ", op.path); break;
      case DirOp::Kind::kDeleteFile: what = absl::StrCat("delete ", op.path); break;
      case DirOp::Kind::kDeleteDir: what = absl::StrCat("rmdir ", op.path); break;
    }
    lines.push_back(absl::StrCat(what, " (until ", op.dir, " is synced)"));
  }
  return lines;
}

// ---- checks and data tracking ------------------------------------------------

IOStatus FaultInjectionFileSystem::CheckPower(absl::string_view what, absl::string_view path) {
  if (active_) return IOStatus::OK();
  return IOStatus::IOError(
      absl::StrCat("fault injection: file system inactive (power off), refused ", what, " of ",
                   path));
}

IOStatus FaultInjectionFileSystem::CheckChangeLocked(FaultKind kind, absl::string_view path,
                                                     absl::string_view other_path) {
  IOStatus s = CheckPower(FaultKindName(kind), path);
  if (!s.ok()) return s;
  if (!ShouldInjectLocked(kind, path, other_path)) return IOStatus::OK();
  ++counters_.injected_failures;
  return IOStatus::IOError(
      absl::StrCat("fault injection: injected ", FaultKindName(kind), " failure on ", path));
}

bool FaultInjectionFileSystem::ShouldInjectLocked(FaultKind kind, absl::string_view path,
                                                  absl::string_view other_path) {
  for (auto rule = rules_.begin(); rule != rules_.end(); ++rule) {
    if (rule->kind != kind) continue;
    if (!absl::StrContains(path, rule->path_substring) &&
        (other_path.empty() || !absl::StrContains(other_path, rule->path_substring))) {
      continue;
    }
    if (!rule->random) {
      if (--rule->remaining <= 0) rules_.erase(rule);
      return true;
    }
    // 53 random bits as a double in [0, 1): exact, and the same on every platform.
    const double draw = static_cast<double>(rule->rng() >> 11) * 0x1.0p-53;
    if (draw < rule->probability) return true;
  }
  return false;
}

IOStatus FaultInjectionFileSystem::BeforeWrite(FileState& file, absl::string_view path,
                                               uint64_t offset, uint64_t n) {
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kWrite, path);
  if (!s.ok()) return s;
  return SaveUndo(file, offset, offset + n);
}

void FaultInjectionFileSystem::AfterWrite(FileState& file, uint64_t end) {
  absl::MutexLock lock(&mu_);
  file.size = std::max(file.size, end);
}

IOStatus FaultInjectionFileSystem::BeforeSync(FileState& file, absl::string_view path,
                                              SyncPoint* point) {
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kSync, path);
  if (!s.ok()) return s;
  // Only what was written before the sync started counts as synced by it.
  point->size = file.size;
  point->undo_count = file.undo.size();
  point->order = ++file.syncs_started;
  return IOStatus::OK();
}

void FaultInjectionFileSystem::AfterSync(FileState& file, const SyncPoint& point) {
  absl::MutexLock lock(&mu_);
  ++counters_.syncs;
  // A sync that started before one already applied made nothing more
  // durable, and must not take back what the later one did.
  if (point.order < file.sync_applied) return;
  file.sync_applied = point.order;
  file.synced_size = point.size;
  file.undo.erase(file.undo.begin(),
                  file.undo.begin() + std::min(point.undo_count, file.undo.size()));
}

IOStatus FaultInjectionFileSystem::TruncateTracked(FileState& file, absl::string_view path,
                                                   uint64_t size,
                                                   const BaseCall& cut) {
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kTruncate, path);
  if (!s.ok()) return s;
  return CutLocked(file, size, cut);
}

IOStatus FaultInjectionFileSystem::CutLocked(FileState& file, uint64_t size,
                                             const BaseCall& cut) {
  const size_t undo_count = file.undo.size();
  IOStatus s = SaveUndo(file, size, file.size);
  if (!s.ok()) return s;
  s = cut();
  if (s.ok()) {
    file.size = size;
  } else {
    file.undo.resize(undo_count);  // nothing was cut
  }
  return s;
}

IOStatus FaultInjectionFileSystem::SaveUndo(FileState& file, uint64_t begin, uint64_t end) {
  // Bytes above the synced size are lost anyway, and bytes past the current
  // end were saved by the truncation that removed them.
  end = std::min({end, file.size, file.synced_size});
  if (begin >= end || file.names.empty()) return IOStatus::OK();
  std::unique_ptr<FSRandomAccessFile> reader;
  IOStatus s = target()->NewRandomAccessFile(*file.names.begin(), FileOptions(), &reader, nullptr);
  if (!s.ok()) return s;
  std::string bytes(end - begin, '\0');
  for (uint64_t done = 0; done < bytes.size();) {
    Slice got;
    s = reader->Read(begin + done, bytes.size() - done, IOOptions(), &got, &bytes[done], nullptr);
    if (!s.ok()) return s;
    if (got.empty()) return IOStatus::IOError("fault injection: short read of synced bytes");
    if (got.data() != &bytes[done]) memcpy(&bytes[done], got.data(), got.size());
    done += got.size();
  }
  file.undo.push_back({begin, std::move(bytes)});
  return IOStatus::OK();
}

// ---- directory-entry tracking -----------------------------------------------

FaultInjectionFileSystem::FilePtr FaultInjectionFileSystem::Lookup(
    const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : it->second;
}

IOStatus FaultInjectionFileSystem::Adopt(const std::string& path, FilePtr* file) {
  *file = Lookup(path);
  if (*file != nullptr) return IOStatus::OK();
  bool is_dir = false;
  IOStatus s = target()->IsDirectory(path, IOOptions(), &is_dir, nullptr);
  if (!s.ok()) return s;
  if (is_dir) return IOStatus::IOError(path, "is a directory");
  uint64_t size = 0;
  s = target()->GetFileSize(path, IOOptions(), &size, nullptr);
  if (!s.ok()) return s;
  // Whatever was on disk before this file system saw it counts as durable.
  *file = std::make_shared<FileState>();
  (*file)->size = (*file)->synced_size = size;
  Bind(path, *file);
  return IOStatus::OK();
}

FaultInjectionFileSystem::FilePtr FaultInjectionFileSystem::CreateTracked(
    const std::string& path) {
  auto file = std::make_shared<FileState>();
  Bind(path, file);
  DirOp op(DirOp::Kind::kCreateFile, path);
  op.file = file;
  Record(std::move(op));
  ++counters_.files_created;
  return file;
}

void FaultInjectionFileSystem::Bind(const std::string& path, const FilePtr& file) {
  FilePtr& slot = files_[path];
  if (slot != nullptr) slot->names.erase(path);
  slot = file;
  file->names.insert(path);
}

void FaultInjectionFileSystem::Unbind(const std::string& path) {
  auto it = files_.find(path);
  if (it == files_.end()) return;
  it->second->names.erase(path);
  files_.erase(it);
}

std::string FaultInjectionFileSystem::NewTrashPath(const std::string& path) {
  return absl::StrCat(trash_dir_, "/", next_trash_id_++, "-", BaseName(path));
}

void FaultInjectionFileSystem::Record(DirOp op) {
  op.seq = next_op_seq_++;
  pending_.push_back(std::move(op));
}

IOStatus FaultInjectionFileSystem::SyncDir(const std::string& dir, FSDirectory& base,
                                           const DirFsyncOptions* options, const IOOptions& io,
                                           IODebugContext* dbg) {
  absl::ReaderMutexLock power(&power_mu_);
  uint64_t before;
  {
    absl::MutexLock lock(&mu_);
    IOStatus s = CheckChangeLocked(FaultKind::kDirSync, dir);
    if (!s.ok()) return s;
    // Changes made while the fsync runs may or may not be in it: count them out.
    before = next_op_seq_;
  }
  IOStatus s = options != nullptr ? base.FsyncWithDirOptions(io, dbg, *options)
                                  : base.Fsync(io, dbg);
  if (!s.ok()) return s;
  absl::MutexLock lock(&mu_);
  ++counters_.dir_syncs;
  auto durable = [&](const DirOp& op) { return op.dir == dir && op.seq < before; };
  for (DirOp& op : pending_) {
    if (durable(op)) MakeDurable(op);
  }
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(), durable), pending_.end());
  return IOStatus::OK();
}

void FaultInjectionFileSystem::MakeDurable(DirOp& op) {
  if (op.trash.empty()) return;
  // The file left the tree for good: only an open handle can still reach it.
  target()->DeleteFile(op.trash, IOOptions(), nullptr).PermitUncheckedError();
  FileState* gone = (op.kind == DirOp::Kind::kDeleteFile ? op.file : op.displaced).get();
  if (gone != nullptr) gone->names.erase(op.trash);
}

std::vector<std::string> FaultInjectionFileSystem::TrackedBelow(const std::string& dir) const {
  // Not lower_bound(dir) and IsUnder: "d-x" and "d.x" sort between "d" and "d/x".
  const std::string prefix = dir == "/" ? dir : dir + "/";
  std::vector<std::string> paths;
  for (auto it = files_.lower_bound(prefix);
       it != files_.end() && absl::StartsWith(it->first, prefix); ++it) {
    paths.push_back(it->first);
  }
  return paths;
}

void FaultInjectionFileSystem::RekeyPrefix(const std::string& from, const std::string& to) {
  for (const std::string& path : TrackedBelow(from)) {
    FilePtr file = Lookup(path);
    Unbind(path);
    Bind(Rebase(path, from, to), file);
  }
  for (DirOp& op : pending_) {
    for (std::string* p : {&op.dir, &op.path, &op.source}) {
      if (!p->empty() && IsUnder(*p, from)) *p = Rebase(*p, from, to);
    }
  }
}

// ---- undo at power loss -------------------------------------------------------

IOStatus FaultInjectionFileSystem::Undo(DirOp& op) {
  switch (op.kind) {
    case DirOp::Kind::kCreateFile:
    case DirOp::Kind::kLinkFile:
      return UndoCreateFile(op);
    case DirOp::Kind::kCreateDir:
      return UndoCreateDir(op);
    case DirOp::Kind::kRenameFile:
      return UndoRenameFile(op);
    case DirOp::Kind::kRenameDir:
      return UndoRenameDir(op);
    case DirOp::Kind::kDeleteFile:
      return UndoDeleteFile(op);
    case DirOp::Kind::kDeleteDir:
      return target()->CreateDirIfMissing(op.path, IOOptions(), nullptr);
  }
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::UndoCreateFile(DirOp& op) {
  // A later change that is durable may have moved the file away: then the
  // name it was created under is already gone and the file stays.
  if (Lookup(op.path) != op.file) return IOStatus::OK();
  Unbind(op.path);
  return target()->DeleteFile(op.path, IOOptions(), nullptr);
}

IOStatus FaultInjectionFileSystem::UndoCreateDir(DirOp& op) {
  for (const std::string& path : TrackedBelow(op.path)) Unbind(path);
  return RemoveTree(op.path);
}

IOStatus FaultInjectionFileSystem::UndoRenameFile(DirOp& op) {
  IOStatus first;
  if (Lookup(op.path) == op.file) {
    IOStatus s = target()->RenameFile(op.path, op.source, IOOptions(), nullptr);
    if (s.ok()) {
      Unbind(op.path);
      Bind(op.source, op.file);
    }
    KeepFirst(&first, s);
  }
  if (op.displaced != nullptr) KeepFirst(&first, RestoreFromTrash(op.trash, op.path, op.displaced));
  return first;
}

IOStatus FaultInjectionFileSystem::UndoRenameDir(DirOp& op) {
  const bool moved_back = target()->FileExists(op.source, IOOptions(), nullptr).ok();
  if (!moved_back) {
    IOStatus s = target()->RenameFile(op.path, op.source, IOOptions(), nullptr);
    if (!s.ok()) return s;
    RekeyPrefix(op.path, op.source);
  }
  if (!op.displaced_dir) return IOStatus::OK();
  return target()->CreateDirIfMissing(op.path, IOOptions(), nullptr);
}

IOStatus FaultInjectionFileSystem::UndoDeleteFile(DirOp& op) {
  return RestoreFromTrash(op.trash, op.path, op.file);
}

IOStatus FaultInjectionFileSystem::RestoreFromTrash(const std::string& trash,
                                                    const std::string& path,
                                                    const FilePtr& file) {
  file->names.erase(trash);
  // The name is taken by a durable change, or its directory is durably gone:
  // the old file stays lost.
  if (target()->FileExists(path, IOOptions(), nullptr).ok() ||
      !target()->FileExists(ParentOf(path), IOOptions(), nullptr).ok()) {
    return target()->DeleteFile(trash, IOOptions(), nullptr);
  }
  IOStatus s = target()->RenameFile(trash, path, IOOptions(), nullptr);
  if (s.ok()) Bind(path, file);
  return s;
}

IOStatus FaultInjectionFileSystem::RemoveTree(const std::string& path) {
  bool is_dir = false;
  if (!target()->IsDirectory(path, IOOptions(), &is_dir, nullptr).ok()) return IOStatus::OK();
  if (!is_dir) return target()->DeleteFile(path, IOOptions(), nullptr);
  std::vector<std::string> children;
  IOStatus s = target()->GetChildren(path, IOOptions(), &children, nullptr);
  if (!s.ok()) return s;
  for (const std::string& child : children) {
    if (child == "." || child == "..") continue;
    s = RemoveTree(path + "/" + child);
    if (!s.ok()) return s;
  }
  return target()->DeleteDir(path, IOOptions(), nullptr);
}

IOStatus FaultInjectionFileSystem::RestoreSyncedContents(const std::string& path,
                                                         FileState& file) {
  if (file.size == file.synced_size && file.undo.empty()) return IOStatus::OK();
  // Removed behind this file system's back (not through it): nothing to restore.
  if (!target()->FileExists(path, IOOptions(), nullptr).ok()) return IOStatus::OK();
  IOStatus s = CutFile(path, file.synced_size);
  if (!s.ok()) return s;
  if (!file.undo.empty()) {
    std::unique_ptr<FSRandomRWFile> writer;
    s = target()->NewRandomRWFile(path, FileOptions(), &writer, nullptr);
    for (auto undo = file.undo.rbegin(); s.ok() && undo != file.undo.rend(); ++undo) {
      s = writer->Write(undo->offset, undo->bytes, IOOptions(), nullptr);
    }
    if (writer != nullptr) KeepFirst(&s, writer->Close(IOOptions(), nullptr));
    if (!s.ok()) return s;
  }
  file.size = file.synced_size;
  file.undo.clear();
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::CutFile(const std::string& path, uint64_t size) {
  // Through a writable file: the POSIX FileSystem of RocksDB 7.8 has no
  // FileSystem::Truncate.
  std::unique_ptr<FSWritableFile> file;
  IOStatus s = target()->ReopenWritableFile(path, FileOptions(), &file, nullptr);
  if (!s.ok()) return s;
  s = file->Truncate(size, IOOptions(), nullptr);
  KeepFirst(&s, file->Close(IOOptions(), nullptr));
  return s;
}

IOStatus FaultInjectionFileSystem::EmptyTrash() {
  std::vector<std::string> children;
  IOStatus s = target()->GetChildren(trash_dir_, IOOptions(), &children, nullptr);
  if (!s.ok()) return s;
  IOStatus first;
  for (const std::string& child : children) {
    if (child == "." || child == "..") continue;
    KeepFirst(&first, RemoveTree(trash_dir_ + "/" + child));
  }
  return first;
}

// ---- rocksdb::FileSystem ---------------------------------------------------

IOStatus FaultInjectionFileSystem::NewWritableFile(const std::string& fname,
                                                   const FileOptions& options,
                                                   std::unique_ptr<FSWritableFile>* result,
                                                   IODebugContext* dbg) {
  const std::string path = NormalizePath(fname);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kCreate, path);
  if (!s.ok()) return s;
  // An existing file is truncated in place: its synced bytes come back at a
  // power loss unless the new contents are synced.
  FilePtr file;
  if (Adopt(path, &file).ok()) {
    s = SaveUndo(*file, 0, file->size);
    if (!s.ok()) return s;
  }
  std::unique_ptr<FSWritableFile> base;
  s = target()->NewWritableFile(fname, options, &base, dbg);
  if (!s.ok()) return s;
  if (file != nullptr) {
    file->size = 0;
  } else {
    file = CreateTracked(path);
  }
  *result = std::make_unique<TrackedWritableFile>(FileTracker(this, path, file), 0,
                                                  std::move(base));
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::ReopenWritableFile(const std::string& fname,
                                                      const FileOptions& options,
                                                      std::unique_ptr<FSWritableFile>* result,
                                                      IODebugContext* dbg) {
  const std::string path = NormalizePath(fname);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kCreate, path);
  if (!s.ok()) return s;
  FilePtr file;
  const bool existed = Adopt(path, &file).ok();
  std::unique_ptr<FSWritableFile> base;
  s = target()->ReopenWritableFile(fname, options, &base, dbg);
  if (!s.ok()) return s;
  if (!existed) file = CreateTracked(path);
  *result = std::make_unique<TrackedWritableFile>(FileTracker(this, path, file), file->size,
                                                  std::move(base));
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::ReuseWritableFile(const std::string& fname,
                                                     const std::string& old_fname,
                                                     const FileOptions& options,
                                                     std::unique_ptr<FSWritableFile>* result,
                                                     IODebugContext* dbg) {
  const std::string path = NormalizePath(fname);
  const std::string old_path = NormalizePath(old_fname);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kCreate, path, old_path);
  if (!s.ok()) return s;
  // The base renames too, but the rename must be tracked: do it here, then
  // let the base "reuse" the file under its new name (renaming it onto itself
  // does nothing).
  s = RenameFileLocked(old_path, path, IOOptions(), dbg);
  if (!s.ok()) return s;
  ++counters_.renames;
  FilePtr file = Lookup(path);
  std::unique_ptr<FSWritableFile> base;
  s = target()->ReuseWritableFile(fname, fname, options, &base, dbg);
  if (!s.ok()) return s;
  // The reused file is overwritten from its start, keeping its length.
  *result = std::make_unique<TrackedWritableFile>(FileTracker(this, path, file), 0,
                                                  std::move(base));
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::NewRandomRWFile(const std::string& fname,
                                                   const FileOptions& options,
                                                   std::unique_ptr<FSRandomRWFile>* result,
                                                   IODebugContext* dbg) {
  const std::string path = NormalizePath(fname);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kCreate, path);
  if (!s.ok()) return s;
  FilePtr file;
  const bool existed = Adopt(path, &file).ok();
  std::unique_ptr<FSRandomRWFile> base;
  s = target()->NewRandomRWFile(fname, options, &base, dbg);
  if (!s.ok()) return s;
  if (!existed) file = CreateTracked(path);
  *result = std::make_unique<TrackedRandomRWFile>(FileTracker(this, path, file), std::move(base));
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::NewDirectory(const std::string& name,
                                                const IOOptions& options,
                                                std::unique_ptr<FSDirectory>* result,
                                                IODebugContext* dbg) {
  std::unique_ptr<FSDirectory> base;
  IOStatus s = target()->NewDirectory(name, options, &base, dbg);
  if (!s.ok()) return s;
  *result = std::make_unique<TrackedDirectory>(this, NormalizePath(name), std::move(base));
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::DeleteFile(const std::string& fname, const IOOptions& options,
                                              IODebugContext* dbg) {
  const std::string path = NormalizePath(fname);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kDelete, path);
  if (!s.ok()) return s;
  FilePtr file;
  // Not a file: the base gives the error (or deletes what is not modelled).
  if (!Adopt(path, &file).ok()) return target()->DeleteFile(fname, options, dbg);
  // Moved, not deleted, so a power loss can bring it back.
  const std::string trash = NewTrashPath(path);
  s = target()->RenameFile(path, trash, options, dbg);
  if (!s.ok()) return s;
  Unbind(path);
  file->names.insert(trash);
  DirOp op(DirOp::Kind::kDeleteFile, path);
  op.trash = trash;
  op.file = file;
  Record(std::move(op));
  ++counters_.deletes;
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::Truncate(const std::string& fname, size_t size,
                                            const IOOptions& options, IODebugContext* dbg) {
  const std::string path = NormalizePath(fname);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kTruncate, path);
  if (!s.ok()) return s;
  FilePtr file;
  if (!Adopt(path, &file).ok()) return target()->Truncate(fname, size, options, dbg);
  return CutLocked(*file, size, [&] { return target()->Truncate(fname, size, options, dbg); });
}

IOStatus FaultInjectionFileSystem::CreateDir(const std::string& dirname, const IOOptions& options,
                                             IODebugContext* dbg) {
  const std::string path = NormalizePath(dirname);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kCreate, path);
  if (!s.ok()) return s;
  s = target()->CreateDir(dirname, options, dbg);
  if (s.ok()) RecordCreateDir(path);
  return s;
}

IOStatus FaultInjectionFileSystem::CreateDirIfMissing(const std::string& dirname,
                                                      const IOOptions& options,
                                                      IODebugContext* dbg) {
  const std::string path = NormalizePath(dirname);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kCreate, path);
  if (!s.ok()) return s;
  const bool existed = target()->FileExists(path, options, dbg).ok();
  s = target()->CreateDirIfMissing(dirname, options, dbg);
  if (s.ok() && !existed) RecordCreateDir(path);
  return s;
}

void FaultInjectionFileSystem::RecordCreateDir(const std::string& path) {
  DirOp op(DirOp::Kind::kCreateDir, path);
  Record(std::move(op));
  ++counters_.dirs_created;
}

IOStatus FaultInjectionFileSystem::DeleteDir(const std::string& dirname, const IOOptions& options,
                                             IODebugContext* dbg) {
  const std::string path = NormalizePath(dirname);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kDelete, path);
  if (!s.ok()) return s;
  s = target()->DeleteDir(dirname, options, dbg);
  if (!s.ok()) return s;
  DirOp op(DirOp::Kind::kDeleteDir, path);
  Record(std::move(op));
  ++counters_.deletes;
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::RenameFile(const std::string& src, const std::string& dst,
                                              const IOOptions& options, IODebugContext* dbg) {
  const std::string from = NormalizePath(src);
  const std::string to = NormalizePath(dst);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kRename, to, from);
  if (!s.ok()) return s;
  bool is_dir = false;
  if (target()->IsDirectory(from, options, &is_dir, dbg).ok() && is_dir) {
    s = RenameDirLocked(from, to, options, dbg);
  } else {
    s = RenameFileLocked(from, to, options, dbg);
  }
  if (s.ok()) ++counters_.renames;
  return s;
}

IOStatus FaultInjectionFileSystem::RenameFileLocked(const std::string& src, const std::string& dst,
                                                    const IOOptions& options,
                                                    IODebugContext* dbg) {
  FilePtr file;
  // Renaming a name onto itself, or what is not a file, is left to the base.
  if (src == dst || !Adopt(src, &file).ok()) return target()->RenameFile(src, dst, options, dbg);
  FilePtr displaced;
  std::string trash;
  if (Adopt(dst, &displaced).ok()) {
    bool same = displaced == file;
    if (!same) target()->AreFilesSame(src, dst, options, &same, dbg).PermitUncheckedError();
    // POSIX: renaming one link of a file onto another link of it does nothing.
    if (same) return target()->RenameFile(src, dst, options, dbg);
    // Keep the replaced file reachable (a link, so the rename stays atomic for
    // readers of `dst`).
    trash = NewTrashPath(dst);
    IOStatus s = target()->LinkFile(dst, trash, options, dbg);
    if (!s.ok()) return s;
  }
  IOStatus s = target()->RenameFile(src, dst, options, dbg);
  if (!s.ok()) {
    if (!trash.empty()) target()->DeleteFile(trash, options, dbg).PermitUncheckedError();
    return s;
  }
  Unbind(src);
  if (displaced != nullptr) displaced->names.insert(trash);
  Bind(dst, file);
  DirOp op(DirOp::Kind::kRenameFile, dst);
  op.source = src;
  op.trash = trash;
  op.file = file;
  op.displaced = displaced;
  Record(std::move(op));
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::RenameDirLocked(const std::string& src, const std::string& dst,
                                                   const IOOptions& options,
                                                   IODebugContext* dbg) {
  // Only an empty directory can be replaced; it comes back empty.
  const bool replaced = target()->FileExists(dst, options, dbg).ok();
  IOStatus s = target()->RenameFile(src, dst, options, dbg);
  if (!s.ok()) return s;
  RekeyPrefix(src, dst);
  DirOp op(DirOp::Kind::kRenameDir, dst);
  op.source = src;
  op.displaced_dir = replaced;
  Record(std::move(op));
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::LinkFile(const std::string& src, const std::string& dst,
                                            const IOOptions& options, IODebugContext* dbg) {
  const std::string from = NormalizePath(src);
  const std::string to = NormalizePath(dst);
  absl::ReaderMutexLock power(&power_mu_);
  absl::MutexLock lock(&mu_);
  IOStatus s = CheckChangeLocked(FaultKind::kLink, to, from);
  if (!s.ok()) return s;
  FilePtr file;
  if (!Adopt(from, &file).ok()) return target()->LinkFile(src, dst, options, dbg);
  s = target()->LinkFile(src, dst, options, dbg);
  if (!s.ok()) return s;
  Bind(to, file);
  DirOp op(DirOp::Kind::kLinkFile, to);
  op.file = file;
  Record(std::move(op));
  ++counters_.links;
  return IOStatus::OK();
}

IOStatus FaultInjectionFileSystem::NewLogger(const std::string& fname, const IOOptions& options,
                                             std::shared_ptr<rocksdb::Logger>* result,
                                             IODebugContext* dbg) {
  absl::ReaderMutexLock power(&power_mu_);
  IOStatus s = CheckPower("create logger", fname);
  if (!s.ok()) return s;
  return target()->NewLogger(fname, options, result, dbg);
}

}  // namespace cellindex::testing
