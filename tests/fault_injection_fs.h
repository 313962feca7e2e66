// A rocksdb::FileSystem for tests that remembers what has been made durable and
// can simulate a power loss: every write, file creation, rename, link, delete
// and directory creation made through it since the last fsync that covers it
// is undone. It can also fail chosen operations on purpose.
//
// The model (what a power loss keeps):
// - File data is durable up to the size the file had when its last successful
//   Sync or Fsync started. Close, Flush and RangeSync make nothing durable. A
//   file that was never synced comes back empty; bytes overwritten or cut by a
//   truncation since the last sync come back as they were.
// - A directory entry change (file or directory creation, rename, hard link,
//   deletion, directory removal) is durable once the directory that holds the
//   new name has been fsynced (NewDirectory(dir)->Fsync or
//   FsyncWithDirOptions) after it. For a rename that is the target's parent,
//   and its fsync also makes the disappearance of the source name durable.
//   A power loss undoes the changes that are not durable, newest first: a
//   created file or directory vanishes with all it holds, a renamed file
//   returns to its old name and a file it replaced comes back, a deleted file
//   comes back.
// - After SimulatePowerLoss everything on disk counts as durable.
//
// The writes themselves reach the base file system at once (reads see them);
// deleted and replaced files are moved into a trash directory so they can be
// restored, and purged when their deletion becomes durable.
//
// FileSystem::Truncate is tracked but only works if the base has it: RocksDB
// 7.8's POSIX file system answers NotSupported (truncate through an open
// FSWritableFile instead).
//
// Not modelled: data written by a logger (NewLogger) or through
// NewMemoryMappedFileBuffer, files created by LockFile (they pass through
// untracked), symbolic links (paths are normalised lexically), partial writes
// of a failed append (a failed call counts as writing nothing), and a Sync
// racing with an overwrite of already synced bytes of the same file.
//
// Thread-safe. File handles it returns must not outlive it.
#ifndef CELLINDEX_TESTS_FAULT_INJECTION_FS_H_
#define CELLINDEX_TESTS_FAULT_INJECTION_FS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/file_system.h"

namespace cellindex::testing {

// The operations that error injection can fail. A failed operation returns an
// IOError and changes nothing.
enum class FaultKind {
  kWrite,     // Append, PositionedAppend, RandomRWFile::Write
  kSync,      // Sync and Fsync of a file
  kDirSync,   // Fsync of a directory
  kRename,    // RenameFile (matched against the source and the target)
  kLink,      // LinkFile (matched against the source and the new name)
  kCreate,    // opening a file for writing, creating a directory
  kDelete,    // DeleteFile, DeleteDir
  kTruncate,  // FileSystem::Truncate, WritableFile::Truncate
};
const char* FaultKindName(FaultKind kind);

// Successful operations since construction or ResetCounters(), and the
// failures injected.
struct FaultInjectionCounters {
  uint64_t syncs = 0;          // Sync/Fsync of files
  uint64_t dir_syncs = 0;      // Fsync of directories
  uint64_t renames = 0;        // RenameFile, and the rename inside ReuseWritableFile
  uint64_t links = 0;          // LinkFile
  uint64_t files_created = 0;  // files opened for writing that did not exist
  uint64_t dirs_created = 0;   // CreateDir, and CreateDirIfMissing that created one
  uint64_t deletes = 0;        // DeleteFile, DeleteDir
  uint64_t injected_failures = 0;
};

// What the file system knows of one file.
struct TrackedFileState {
  uint64_t size = 0;         // as written through this file system
  uint64_t synced_size = 0;  // what a power loss keeps
};

class FaultInjectionFileSystem : public rocksdb::FileSystemWrapper {
 public:
  // Forwards to `base`. `trash_dir` holds deleted files until their deletion
  // is durable: it must be on the same file system as the files (they are
  // moved and hard-linked there), outside every directory the code under test
  // touches, and used by nothing else. It is created if missing (not its
  // parents) and emptied.
  FaultInjectionFileSystem(std::shared_ptr<rocksdb::FileSystem> base, std::string trash_dir);
  ~FaultInjectionFileSystem() override;

  FaultInjectionFileSystem(const FaultInjectionFileSystem&) = delete;
  FaultInjectionFileSystem& operator=(const FaultInjectionFileSystem&) = delete;

  static const char* kClassName() { return "FaultInjectionFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // ---- power loss -------------------------------------------------------

  // While inactive (the power is off) every call that would change the disk
  // fails with an IOError saying so and changes nothing; reads still work.
  // Once SetFilesystemActive(false) returns, no change is in flight.
  void SetFilesystemActive(bool active);
  bool IsFilesystemActive() const;

  // Brings the disk back to what a power loss at this moment would leave (see
  // the model above); afterwards everything counts as durable. Meant to run
  // while nothing writes (between SetFilesystemActive(false) and the reopen);
  // it works whether or not the file system is active. An error names the
  // first thing it could not restore; it still restores all it can.
  absl::Status SimulatePowerLoss();

  // ---- error injection --------------------------------------------------

  // Fails the next `count` calls of `kind` whose path contains
  // `path_substring` (empty: every path). Rules are tried in the order they
  // were added; the first that fires fails the call.
  void FailNext(FaultKind kind, int count, std::string path_substring = "");
  // Fails each call of `kind` whose path contains `path_substring` with
  // `probability`, drawn from a generator seeded with `seed`: the same calls
  // in the same order fail the same way.
  void FailRandomly(FaultKind kind, double probability, uint64_t seed,
                    std::string path_substring = "");
  // Removes every rule added by FailNext and FailRandomly.
  void ClearFaults();

  // ---- inspection -------------------------------------------------------

  FaultInjectionCounters counters() const;
  void ResetCounters();
  // The sizes of the file at `path` if it was written, renamed, linked or
  // deleted through this file system (and still exists); nullopt otherwise.
  std::optional<TrackedFileState> TrackedFile(const std::string& path) const;
  // The directory-entry changes a power loss would undo, oldest first, one
  // line each ("create /d/f (until /d is synced)").
  std::vector<std::string> PendingDirOps() const;

  // The absolute, lexically normal form of `path` ("a//b", "a/./b" and a
  // relative name all give one string) that this file system tracks by.
  static std::string NormalizePath(absl::string_view path);

  // ---- rocksdb::FileSystem ----------------------------------------------

  rocksdb::IOStatus NewWritableFile(const std::string& fname,
                                    const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& fname, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& dirname,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& src, const std::string& dst,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewLogger(const std::string& fname, const rocksdb::IOOptions& options,
                              std::shared_ptr<rocksdb::Logger>* result,
                              rocksdb::IODebugContext* dbg) override;

 private:
  struct FileState;  // one file (inode): sizes, undo images, names
  struct DirOp;      // one directory-entry change not yet durable
  struct FaultRule;
  struct SyncPoint;  // what a file sync in flight will make durable
  friend class FileTracker;
  friend class TrackedDirectory;
  using FilePtr = std::shared_ptr<FileState>;
  using BaseCall = std::function<rocksdb::IOStatus()>;

  // ---- called by the file and directory handles --------------------------

  // OK, or an IOError naming `what` and `path` while the power is off.
  rocksdb::IOStatus CheckPower(absl::string_view what, absl::string_view path)
      ABSL_SHARED_LOCKS_REQUIRED(power_mu_);
  // Before bytes [offset, offset + n) of `file` are written: checks, and saves
  // what the write overwrites of the synced bytes.
  rocksdb::IOStatus BeforeWrite(FileState& file, absl::string_view path, uint64_t offset,
                                uint64_t n) ABSL_SHARED_LOCKS_REQUIRED(power_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  void AfterWrite(FileState& file, uint64_t end) ABSL_LOCKS_EXCLUDED(mu_);
  rocksdb::IOStatus BeforeSync(FileState& file, absl::string_view path, SyncPoint* point)
      ABSL_SHARED_LOCKS_REQUIRED(power_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  void AfterSync(FileState& file, const SyncPoint& point) ABSL_LOCKS_EXCLUDED(mu_);
  rocksdb::IOStatus TruncateTracked(FileState& file, absl::string_view path, uint64_t size,
                                    const BaseCall& cut) ABSL_SHARED_LOCKS_REQUIRED(power_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Fsyncs `base` (the directory `dir`), making the changes in `dir` made
  // before it durable.
  rocksdb::IOStatus SyncDir(const std::string& dir, rocksdb::FSDirectory& base,
                            const rocksdb::DirFsyncOptions* options, const rocksdb::IOOptions& io,
                            rocksdb::IODebugContext* dbg) ABSL_LOCKS_EXCLUDED(power_mu_, mu_);

  // ---- helpers, with mu_ held --------------------------------------------

  // OK, or why a change of `kind` to `path` (and `other_path`) must fail now:
  // the power is off or a rule injects a fault.
  rocksdb::IOStatus CheckChangeLocked(FaultKind kind, absl::string_view path,
                                      absl::string_view other_path = {})
      ABSL_SHARED_LOCKS_REQUIRED(power_mu_) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ShouldInjectLocked(FaultKind kind, absl::string_view path, absl::string_view other_path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Cuts `file` to `size` with `cut` (the base call), saving the synced bytes
  // it removes.
  rocksdb::IOStatus CutLocked(FileState& file, uint64_t size, const BaseCall& cut)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Saves the synced bytes in [begin, end) of `file` before they change.
  rocksdb::IOStatus SaveUndo(FileState& file, uint64_t begin, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FilePtr Lookup(const std::string& path) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The state of the existing file at `path`, tracking it (as wholly durable)
  // if it was not tracked yet. An error when there is no file at `path`.
  rocksdb::IOStatus Adopt(const std::string& path, FilePtr* file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tracks a file just created at `path`, and its creation.
  FilePtr CreateTracked(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordCreateDir(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Bind(const std::string& path, const FilePtr& file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unbind(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewTrashPath(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Record(DirOp op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus RenameFileLocked(const std::string& src, const std::string& dst,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus RenameDirLocked(const std::string& src, const std::string& dst,
                                    const rocksdb::IOOptions& options,
                                    rocksdb::IODebugContext* dbg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The tracked names below the directory `dir`.
  std::vector<std::string> TrackedBelow(const std::string& dir) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the tracking of everything below `from` (and pending changes at or
  // below it) to `to`.
  void RekeyPrefix(const std::string& from, const std::string& to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MakeDurable(DirOp& op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus Undo(DirOp& op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus UndoCreateFile(DirOp& op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus UndoCreateDir(DirOp& op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus UndoRenameFile(DirOp& op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus UndoRenameDir(DirOp& op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus UndoDeleteFile(DirOp& op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus RestoreFromTrash(const std::string& trash, const std::string& path,
                                     const FilePtr& file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus RemoveTree(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Cuts the file at `path` back to its synced size and synced bytes.
  rocksdb::IOStatus RestoreSyncedContents(const std::string& path, FileState& file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets the length of the file at `path` (cutting or zero-extending it).
  rocksdb::IOStatus CutFile(const std::string& path, uint64_t size)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus EmptyTrash() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string trash_dir_;

  // Every change holds this shared for its whole length, and a power switch
  // (SetFilesystemActive, SimulatePowerLoss) holds it exclusively, so the
  // power never goes off in the middle of a call. Taken before mu_.
  mutable absl::Mutex power_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool active_ ABSL_GUARDED_BY(power_mu_) = true;

  mutable absl::Mutex mu_;
  // Tracked files by their current names inside the tree (trash names are
  // only in FileState::names).
  absl::btree_map<std::string, FilePtr> files_ ABSL_GUARDED_BY(mu_);
  std::vector<DirOp> pending_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t next_op_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_trash_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<FaultRule> rules_ ABSL_GUARDED_BY(mu_);
  FaultInjectionCounters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_FAULT_INJECTION_FS_H_
