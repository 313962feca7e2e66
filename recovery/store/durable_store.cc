#include "recovery/store/durable_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "index/base/coding.h"
#include "index/base/file_util.h"
#include "rocksdb/file_system.h"

namespace cellindex {

std::string FileDigest::ToHex() const { return absl::StrFormat("%016x%016x", hash_high, hash_low); }

FileDigest DigestOf(absl::string_view data) {
  const Digest128 h = Hash128(data);
  FileDigest d;
  d.size = data.size();
  d.hash_low = h.low;
  d.hash_high = h.high;
  return d;
}

namespace {

constexpr size_t kCopyBuffer = 1 << 20;

rocksdb::IOOptions IO() { return rocksdb::IOOptions(); }

// Reads up to `length` bytes of `from` (all when UINT64_MAX), hashing them,
// showing them to `on_chunk` and appending them to `out` when not null.
absl::StatusOr<FileDigest> CopyAndHash(rocksdb::FileSystem& fs, const std::string& from,
                                       uint64_t length, rocksdb::FSWritableFile* out,
                                       const std::string& to, const ChunkFn& on_chunk) {
  std::unique_ptr<rocksdb::FSSequentialFile> in;
  if (rocksdb::IOStatus s = fs.NewSequentialFile(from, PlainFileOptions(), &in, nullptr);
      !s.ok()) {
    return FromIO(s, absl::StrCat("open ", from));
  }
  Hasher128 hasher;
  std::string buf(kCopyBuffer, '\0');
  uint64_t total = 0;
  while (total < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - total));
    rocksdb::Slice chunk;
    if (rocksdb::IOStatus s = in->Read(want, IO(), &chunk, buf.data(), nullptr); !s.ok()) {
      return FromIO(s, absl::StrCat("read ", from));
    }
    if (chunk.empty()) break;
    const absl::string_view piece(chunk.data(), chunk.size());
    hasher.Update(piece);
    if (on_chunk && !on_chunk(piece)) return absl::CancelledError(absl::StrCat("copy of ", from));
    if (out != nullptr) {
      if (rocksdb::IOStatus s = out->Append(chunk, IO(), nullptr); !s.ok()) {
        return FromIO(s, absl::StrCat("write ", to));
      }
    }
    total += chunk.size();
  }
  if (length != UINT64_MAX && total != length) {
    return absl::DataLossError(
        absl::StrCat(from, " is ", total, " bytes, shorter than the expected ", length));
  }
  const Digest128 h = hasher.Finish();
  FileDigest d;
  d.size = total;
  d.hash_low = h.low;
  d.hash_high = h.high;
  return d;
}

// Copies `from` to `to` durably: written under a temporary name, synced,
// then renamed to `to` (with `publish`; else written as `to` directly, for a
// caller that makes it visible by a rename of its own). The caller syncs the
// directory of `to`.
absl::StatusOr<FileDigest> CopyFileDurably(rocksdb::FileSystem& fs, const std::string& from,
                                           const std::string& to, uint64_t length,
                                           const ChunkFn& on_chunk, bool publish = true) {
  const std::string tmp = publish ? to + ".tmp" : to;
  std::unique_ptr<rocksdb::FSWritableFile> out;
  if (rocksdb::IOStatus s = fs.NewWritableFile(tmp, PlainFileOptions(), &out, nullptr); !s.ok()) {
    return FromIO(s, absl::StrCat("create ", tmp));
  }
  absl::StatusOr<FileDigest> d = CopyAndHash(fs, from, length, out.get(), tmp, on_chunk);
  if (d.ok()) {
    if (rocksdb::IOStatus s = out->Fsync(IO(), nullptr); !s.ok()) {
      d = FromIO(s, absl::StrCat("fsync ", tmp));
    }
  }
  if (rocksdb::IOStatus s = out->Close(IO(), nullptr); !s.ok() && d.ok()) {
    d = FromIO(s, absl::StrCat("close ", tmp));
  }
  if (d.ok() && publish) {
    if (rocksdb::IOStatus s = fs.RenameFile(tmp, to, IO(), nullptr); !s.ok()) {
      d = FromIO(s, absl::StrCat("rename ", tmp));
    }
  }
  if (!d.ok()) (void)fs.DeleteFile(tmp, IO(), nullptr);
  return d;
}

class LocalDirStore : public DurableStore {
 public:
  LocalDirStore(rocksdb::FileSystem* fs, std::string root) : fs_(*fs), root_(std::move(root)) {}

  absl::Status Put(const std::string& name, absl::string_view data) override {
    const std::string path = PathOf(name);
    if (absl::Status s = CreateDirs(fs_, ParentDir(path)); !s.ok()) return s;
    return AtomicWriteFile(fs_, path, data);
  }

  // Written and synced under a name of its own, then linked (link(2)
  // fails when the name exists), then the directory synced.
  absl::Status PutNew(const std::string& name, absl::string_view data) override {
    const std::string path = PathOf(name);
    if (absl::Status s = CreateDirs(fs_, ParentDir(path)); !s.ok()) return s;
    static std::atomic<uint64_t> next{0};
    const std::string tmp =
        absl::StrFormat("%s.%d-%d-%d.tmp", path, getpid(), absl::ToUnixMicros(absl::Now()),
                        next.fetch_add(1));
    if (absl::Status s = WriteSyncedFile(fs_, tmp, data); !s.ok()) return s;
    rocksdb::IOStatus linked = fs_.LinkFile(tmp, path, IO(), nullptr);
    (void)fs_.DeleteFile(tmp, IO(), nullptr);
    if (!linked.ok()) {
      if (fs_.FileExists(path, IO(), nullptr).ok()) {
        return absl::AlreadyExistsError(absl::StrCat("store object ", name, " exists"));
      }
      return FromIO(linked, absl::StrCat("link ", path));
    }
    return SyncDir(fs_, ParentDir(path));
  }

  absl::Status PutFile(const std::string& name, const std::string& path, uint64_t length,
                       FileDigest* digest, const ChunkFn& on_chunk) override {
    const std::string dest = PathOf(name);
    if (absl::Status s = CreateDirs(fs_, ParentDir(dest)); !s.ok()) return s;
    absl::StatusOr<FileDigest> d = CopyFileDurably(fs_, path, dest, length, on_chunk);
    if (!d.ok()) return d.status();
    if (digest != nullptr) *digest = *d;
    return SyncDir(fs_, ParentDir(dest));
  }

  absl::StatusOr<std::string> Get(const std::string& name) override {
    return ReadFileToString(fs_, PathOf(name));
  }

  absl::Status GetFile(const std::string& name, const std::string& path, FileDigest* digest,
                       const ChunkFn& on_chunk) override {
    absl::StatusOr<FileDigest> d =
        CopyFileDurably(fs_, PathOf(name), path, UINT64_MAX, on_chunk, /*publish=*/false);
    if (!d.ok()) return d.status();
    if (digest != nullptr) *digest = *d;
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<rocksdb::FSRandomAccessFile>> OpenForRead(
      const std::string& name) override {
    const std::string path = PathOf(name);
    std::unique_ptr<rocksdb::FSRandomAccessFile> file;
    rocksdb::IOStatus s = fs_.NewRandomAccessFile(path, PlainFileOptions(), &file, nullptr);
    if (s.IsNotFound() || s.IsPathNotFound()) {
      return absl::NotFoundError(absl::StrCat("no object ", name));
    }
    if (!s.ok()) return FromIO(s, absl::StrCat("open ", path));
    return file;
  }

  absl::StatusOr<std::vector<std::string>> List(const std::string& prefix) override {
    // The deepest directory named by the prefix, walked recursively.
    const size_t slash = prefix.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "" : prefix.substr(0, slash);
    std::vector<std::string> out;
    if (absl::Status s = Walk(dir, prefix, &out); !s.ok()) return s;
    std::sort(out.begin(), out.end());
    return out;
  }

  absl::Status Delete(const std::string& name) override {
    const std::string path = PathOf(name);
    rocksdb::IOStatus s = fs_.DeleteFile(path, IO(), nullptr);
    if (s.IsNotFound() || s.IsPathNotFound()) return absl::OkStatus();
    return FromIO(s, absl::StrCat("delete ", path));
  }

  bool Exists(const std::string& name) override { return PathExists(fs_, PathOf(name)); }

  absl::StatusOr<uint64_t> Size(const std::string& name) override {
    return FileSize(fs_, PathOf(name));
  }

  absl::StatusOr<std::string> LocalDir(const std::string& prefix) override {
    return PathOf(prefix);
  }

 private:
  std::string PathOf(const std::string& name) const { return root_ + "/" + name; }

  // Appends the names below store directory `dir` that start with `prefix`.
  absl::Status Walk(const std::string& dir, const std::string& prefix,
                    std::vector<std::string>* out) {
    const std::string path = dir.empty() ? root_ : PathOf(dir);
    absl::StatusOr<std::vector<std::string>> names = ListDir(fs_, path);
    if (absl::IsNotFound(names.status())) return absl::OkStatus();
    if (!names.ok()) return names.status();
    for (const std::string& n : *names) {
      const std::string name = dir.empty() ? n : absl::StrCat(dir, "/", n);
      absl::StatusOr<bool> is_dir = IsDirectory(fs_, PathOf(name));
      if (absl::IsNotFound(is_dir.status())) continue;  // deleted meanwhile
      if (!is_dir.ok()) return is_dir.status();
      if (*is_dir) {
        // Only directories that can hold names with the prefix.
        const std::string as_dir = name + "/";
        if (absl::StartsWith(as_dir, prefix) || absl::StartsWith(prefix, as_dir)) {
          if (absl::Status s = Walk(name, prefix, out); !s.ok()) return s;
        }
        continue;
      }
      if (absl::EndsWith(name, ".tmp")) continue;  // an unfinished publish
      if (absl::StartsWith(name, prefix)) out->push_back(name);
    }
    return absl::OkStatus();
  }

  rocksdb::FileSystem& fs_;
  const std::string root_;
};

}  // namespace

std::unique_ptr<DurableStore> NewLocalDirStore(rocksdb::FileSystem* fs, const std::string& root) {
  return std::make_unique<LocalDirStore>(fs, root);
}

absl::StatusOr<FileDigest> DigestFile(rocksdb::FileSystem& fs, const std::string& path,
                                      uint64_t length) {
  return CopyAndHash(fs, path, length, nullptr, "", nullptr);
}

}  // namespace cellindex
