#include "recovery/durable_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "recovery/file_util.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace cellindex {
namespace fs = std::filesystem;

std::string FileDigest::ToHex() const { return absl::StrFormat("%016x%016x", hash_high, hash_low); }

namespace {

constexpr size_t kCopyBuffer = 1 << 20;

// Copies up to `length` bytes from `in` to `out` (either may be -1 to skip),
// hashing them. Returns the bytes copied.
absl::StatusOr<FileDigest> CopyAndHash(int in, int out, uint64_t length, const std::string& from,
                                       const std::string& to) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  std::string buf(kCopyBuffer, '\0');
  uint64_t total = 0;
  absl::Status status;
  while (total < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - total));
    ssize_t n = ::read(in, buf.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = ErrnoStatus("read", from, errno);
      break;
    }
    if (n == 0) break;
    XXH3_128bits_update(state, buf.data(), static_cast<size_t>(n));
    for (ssize_t done = 0; out >= 0 && done < n;) {
      ssize_t w = ::write(out, buf.data() + done, static_cast<size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        status = ErrnoStatus("write", to, errno);
        break;
      }
      done += w;
    }
    if (!status.ok()) break;
    total += static_cast<uint64_t>(n);
  }
  XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  if (!status.ok()) return status;
  if (length != UINT64_MAX && total != length) {
    return absl::DataLossError(
        absl::StrCat(from, " is ", total, " bytes, shorter than the expected ", length));
  }
  FileDigest d;
  d.size = total;
  d.hash_low = h.low64;
  d.hash_high = h.high64;
  return d;
}

// Copies `from` to `to` durably: temp file, fsync, rename. The caller syncs
// the directory of `to`.
absl::StatusOr<FileDigest> CopyFileDurably(const std::string& from, const std::string& to,
                                           uint64_t length) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoStatus("open", from, errno);
  const std::string tmp = to + ".tmp";
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return ErrnoStatus("open", tmp, err);
  }
  absl::StatusOr<FileDigest> d = CopyAndHash(in, out, length, from, tmp);
  ::close(in);
  if (d.ok() && ::fsync(out) != 0) d = ErrnoStatus("fsync", tmp, errno);
  ::close(out);
  if (d.ok() && ::rename(tmp.c_str(), to.c_str()) != 0) d = ErrnoStatus("rename", tmp, errno);
  if (!d.ok()) ::unlink(tmp.c_str());
  return d;
}

class LocalDirStore : public DurableStore {
 public:
  explicit LocalDirStore(std::string root) : root_(std::move(root)) {}

  absl::Status Put(const std::string& name, absl::string_view data) override {
    const std::string path = PathOf(name);
    if (absl::Status s = CreateDirs(Parent(path)); !s.ok()) return s;
    return AtomicWriteFile(path, data);
  }

  absl::Status PutFile(const std::string& name, const std::string& path, uint64_t length,
                       FileDigest* digest) override {
    const std::string dest = PathOf(name);
    if (absl::Status s = CreateDirs(Parent(dest)); !s.ok()) return s;
    absl::StatusOr<FileDigest> d = CopyFileDurably(path, dest, length);
    if (!d.ok()) return d.status();
    if (digest != nullptr) *digest = *d;
    return SyncDir(Parent(dest));
  }

  absl::StatusOr<std::string> Get(const std::string& name) override {
    return ReadFileToString(PathOf(name));
  }

  absl::Status GetFile(const std::string& name, const std::string& path,
                       FileDigest* digest) override {
    absl::StatusOr<FileDigest> d = CopyFileDurably(PathOf(name), path, UINT64_MAX);
    if (!d.ok()) return d.status();
    if (digest != nullptr) *digest = *d;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> List(const std::string& prefix) override {
    // The deepest directory named by the prefix, walked recursively.
    const size_t slash = prefix.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "" : prefix.substr(0, slash);
    std::vector<std::string> out;
    std::error_code ec;
    const fs::path base = dir.empty() ? fs::path(root_) : fs::path(root_) / dir;
    if (!fs::exists(base, ec)) return out;
    for (fs::recursive_directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string name = fs::relative(it->path(), root_, ec).string();
      if (absl::EndsWith(name, ".tmp")) continue;  // an unfinished publish
      if (absl::StartsWith(name, prefix)) out.push_back(std::move(name));
    }
    if (ec) return ErrnoStatus("list", base.string(), ec.value());
    std::sort(out.begin(), out.end());
    return out;
  }

  absl::Status Delete(const std::string& name) override {
    const std::string path = PathOf(name);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
    return absl::OkStatus();
  }

  bool Exists(const std::string& name) override { return PathExists(PathOf(name)); }

  absl::StatusOr<std::string> LocalDir(const std::string& prefix) override {
    return PathOf(prefix);
  }

 private:
  std::string PathOf(const std::string& name) const { return root_ + "/" + name; }
  static std::string Parent(const std::string& path) {
    return path.substr(0, path.find_last_of('/'));
  }
  const std::string root_;
};

}  // namespace

std::unique_ptr<DurableStore> NewLocalDirStore(const std::string& root) {
  return std::make_unique<LocalDirStore>(root);
}

absl::StatusOr<FileDigest> DigestFile(const std::string& path, uint64_t length) {
  int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoStatus("open", path, errno);
  absl::StatusOr<FileDigest> d = CopyAndHash(in, -1, length, path, "");
  ::close(in);
  return d;
}

}  // namespace cellindex
