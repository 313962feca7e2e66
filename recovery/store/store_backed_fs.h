// A cell's RocksDB served straight from its checkpoint in the durable store.
//
// An in-place restore (Options::restore_mode) does not copy the checkpoint's
// table files to the new host before the cell serves. It writes, in the
// cell's RocksDB directory, the list of files that still lie in the store
// (kRemoteFilesName: each file's name in the directory, its store object and
// the digest its checkpoint manifest gives), and opens RocksDB through this
// file system. It resolves a listed file to the store's object until a local
// copy exists: RocksDB sees one directory, reads what it needs where it lies,
// and verifies the block checksums of every read as always. New files
// (flushes, compactions) are written locally, as before.
//
// A background copier (recovery/checkpoint_copier.h) lands the listed files
// on the host with Land(): fetched beside the file, checked against the
// manifest's xxh3-128 (a mismatch is a damaged checkpoint: DataLoss), synced,
// renamed into place, and the list rewritten without it. Readers that opened
// the store's copy keep reading it; later opens read the local file. When
// the list is empty it is removed, and the directory is an ordinary RocksDB
// directory again.
//
// The store's objects are never written or deleted through this file
// system: RocksDB deleting a listed file (after a compaction) only drops it
// from the list. A crash at any point leaves a list that names only files
// the store holds, and local files that are whole (renamed after their sync).
#ifndef CELLINDEX_RECOVERY_STORE_STORE_BACKED_FS_H_
#define CELLINDEX_RECOVERY_STORE_STORE_BACKED_FS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "recovery/store/checkpoint_manifest.h"
#include "recovery/store/durable_store.h"
#include "rocksdb/file_system.h"

namespace cellindex {

// The list's name in a cell's RocksDB directory.
inline constexpr char kRemoteFilesName[] = "CELLINDEX-REMOTE";

// The list's contents (a restore writes it into the directory it prepares).
std::string EncodeRemoteFiles(const std::vector<CheckpointFile>& files);
// DataLoss naming what is wrong.
absl::StatusOr<std::vector<CheckpointFile>> DecodeRemoteFiles(absl::string_view data);

class StoreBackedFs : public rocksdb::FileSystemWrapper {
 public:
  // Whether `db_dir` holds such a list.
  static bool HasList(rocksdb::FileSystem& fs, const std::string& db_dir);
  // Reads `db_dir`'s list (DataLoss when it is damaged). Files whose local
  // copy exists are dropped from it (landed just before a crash), and
  // unfinished landings are removed.
  static absl::StatusOr<std::shared_ptr<StoreBackedFs>> Open(
      std::shared_ptr<rocksdb::FileSystem> base, DurableStore* store, const std::string& db_dir);

  // The files still read from the store.
  std::vector<CheckpointFile> Remaining() const;
  // Copies `file` to the host (see above), showing each chunk to `on_chunk`
  // (it may pace the copy). OK doing nothing when RocksDB deleted the file
  // meanwhile. DataLoss when the store's copy does not match its digest.
  absl::Status Land(const CheckpointFile& file, const ChunkFn& on_chunk);

  const char* Name() const override { return "cellindex.StoreBackedFs"; }

  rocksdb::IOStatus NewRandomAccessFile(const std::string& fname,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                        rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewSequentialFile(const std::string& fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus FileExists(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetFileSize(const std::string& fname, const rocksdb::IOOptions& options,
                                uint64_t* size, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetFileModificationTime(const std::string& fname,
                                            const rocksdb::IOOptions& options, uint64_t* mtime,
                                            rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetChildren(const std::string& dir, const rocksdb::IOOptions& options,
                                std::vector<std::string>* result,
                                rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus GetChildrenFileAttributes(const std::string& dir,
                                              const rocksdb::IOOptions& options,
                                              std::vector<rocksdb::FileAttributes>* result,
                                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& src, const std::string& target,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NumFileLinks(const std::string& fname, const rocksdb::IOOptions& options,
                                 uint64_t* count, rocksdb::IODebugContext* dbg) override;

 private:
  StoreBackedFs(std::shared_ptr<rocksdb::FileSystem> base, DurableStore* store,
                std::string db_dir, std::vector<CheckpointFile> files);
  // The listed file `fname` names, or null (another directory, or local).
  const CheckpointFile* Listed(const std::string& fname) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool IsDbDir(const std::string& dir) const;
  // Rewrites the list durably (removes it when empty).
  absl::Status PersistLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  rocksdb::IOStatus OpenListed(const CheckpointFile& f,
                               std::unique_ptr<rocksdb::FSRandomAccessFile>* result);

  DurableStore* const store_;
  const std::string db_dir_;
  mutable absl::Mutex mu_;
  std::map<std::string, CheckpointFile> listed_ ABSL_GUARDED_BY(mu_);  // by db_name
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_STORE_STORE_BACKED_FS_H_
