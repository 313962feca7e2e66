// The durable store: where checkpoints and journals live. It stands for
// replicated storage that survives the loss of any host; this interface is
// what a backend implements, and LocalDirStore (a directory on a local file
// system) is the embedded default.
//
// Objects are named by '/'-separated paths ("cells/00003/files/....sst").
// Every write is a publish: a reader sees the old object or the new one,
// never a mix, and a published object survives a crash.
#ifndef CELLINDEX_RECOVERY_STORE_DURABLE_STORE_H_
#define CELLINDEX_RECOVERY_STORE_DURABLE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class FileSystem;
class FSRandomAccessFile;
}

namespace cellindex {

// xxh3-128 of a file's bytes and its size.
struct FileDigest {
  uint64_t size = 0;
  uint64_t hash_low = 0;
  uint64_t hash_high = 0;

  friend bool operator==(const FileDigest& a, const FileDigest& b) {
    return a.size == b.size && a.hash_low == b.hash_low && a.hash_high == b.hash_high;
  }
  friend bool operator!=(const FileDigest& a, const FileDigest& b) { return !(a == b); }
  std::string ToHex() const;  // 32 hex digits of the hash
};
FileDigest DigestOf(absl::string_view data);

// Sees every chunk of a file as it is copied, in order (to check a second
// checksum on the way without reading the file twice, or to pace the copy).
// Returning false stops the copy: Cancelled, and nothing is published.
using ChunkFn = std::function<bool(absl::string_view chunk)>;

class DurableStore {
 public:
  virtual ~DurableStore() = default;

  // Publishes `data` as object `name`, replacing any object of that name.
  virtual absl::Status Put(const std::string& name, absl::string_view data) = 0;
  // Publishes `data` as object `name` only if there is none of that name:
  // AlreadyExists otherwise, and nothing changes. Two writers of one name
  // at once: one succeeds, whole. (Checkpoint manifests: a late owner can
  // never replace a later owner's.)
  virtual absl::Status PutNew(const std::string& name, absl::string_view data) = 0;
  // Publishes the first `length` bytes of the local file `path` (all of it
  // when `length` is UINT64_MAX) as `name`, computing their digest while
  // copying, and showing each chunk to `on_chunk` (may be empty). DataLoss
  // when the file is shorter than `length`.
  virtual absl::Status PutFile(const std::string& name, const std::string& path, uint64_t length,
                               FileDigest* digest, const ChunkFn& on_chunk) = 0;
  // NotFound when there is no such object.
  virtual absl::StatusOr<std::string> Get(const std::string& name) = 0;
  // Copies object `name` to the local file `path`, computing the digest
  // while copying and showing each chunk to `on_chunk` (may be empty):
  // written as `path` and synced, not renamed into place, so the caller
  // writes it where nothing reads it yet (a staging directory, a landing
  // name) and renames it (then syncs the directory) once it verifies; a
  // failed copy leaves nothing at `path`. NotFound when there is no such
  // object.
  virtual absl::Status GetFile(const std::string& name, const std::string& path,
                               FileDigest* digest, const ChunkFn& on_chunk) = 0;
  // Opens object `name` for reads at any offset, where it lies (a restored
  // cell serves from its checkpoint's files this way until they are copied
  // to the host). NotFound when there is no such object.
  virtual absl::StatusOr<std::unique_ptr<rocksdb::FSRandomAccessFile>> OpenForRead(
      const std::string& name) = 0;
  // Names of the objects whose names start with `prefix`, sorted.
  virtual absl::StatusOr<std::vector<std::string>> List(const std::string& prefix) = 0;
  // OK when the object does not exist.
  virtual absl::Status Delete(const std::string& name) = 0;
  virtual bool Exists(const std::string& name) = 0;
  // Size of object `name`; NotFound when missing.
  virtual absl::StatusOr<uint64_t> Size(const std::string& name) = 0;
  // The local directory backing `prefix`, for the journals, which append in
  // place. Backends without local files return Unimplemented.
  virtual absl::StatusOr<std::string> LocalDir(const std::string& prefix) = 0;
};

// The embedded default: objects are files below `root`, written through `fs`
// (which must outlive the store).
std::unique_ptr<DurableStore> NewLocalDirStore(rocksdb::FileSystem* fs, const std::string& root);

// Digest of the first `length` bytes of a local file (all when UINT64_MAX).
absl::StatusOr<FileDigest> DigestFile(rocksdb::FileSystem& fs, const std::string& path,
                                      uint64_t length = UINT64_MAX);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_STORE_DURABLE_STORE_H_
