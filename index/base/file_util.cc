#include "index/base/file_util.h"

#include <algorithm>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cellindex {
namespace {

rocksdb::IOOptions IO() { return rocksdb::IOOptions(); }

}  // namespace

rocksdb::FileOptions PlainFileOptions() {
  rocksdb::FileOptions o;
  o.use_mmap_writes = false;
  o.use_mmap_reads = false;
  o.allow_fallocate = true;
  o.fallocate_with_keep_size = true;
  return o;
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// `path` without "." and ".." components and repeated or trailing slashes,
// made absolute against the working directory.
std::string NormalPath(rocksdb::FileSystem& fs, const std::string& path) {
  std::string abs = path;
  if (path.empty() || path[0] != '/') {
    // The working directory. (Asked for ".": RocksDB 7.8's posix
    // GetAbsolutePath returns the working directory alone for any relative
    // path, dropping the path; later versions append it, and "." then
    // normalises away.)
    std::string cwd;
    if (fs.GetAbsolutePath(".", rocksdb::IOOptions(), &cwd, nullptr).ok()) {
      abs = cwd + "/" + path;
    }
  }
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(abs, '/', absl::SkipEmpty())) {
    if (p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.emplace_back(p);
  }
  return "/" + absl::StrJoin(parts, "/");
}

// Whether `inner` is `outer` or lies below it (both normalised).
bool PathWithin(const std::string& inner, const std::string& outer) {
  return inner == outer || absl::StartsWith(inner, outer == "/" ? outer : outer + "/");
}

absl::Status SyncDir(rocksdb::FileSystem& fs, const std::string& dir) {
  std::unique_ptr<rocksdb::FSDirectory> d;
  if (rocksdb::IOStatus s = fs.NewDirectory(dir, IO(), &d, nullptr); !s.ok()) {
    return FromIO(s, absl::StrCat("open directory ", dir));
  }
  return FromIO(d->Fsync(IO(), nullptr), absl::StrCat("fsync directory ", dir));
}

absl::Status CreateDirs(rocksdb::FileSystem& fs, const std::string& dir) {
  if (dir.empty() || dir == "." || dir == "/" || PathExists(fs, dir)) return absl::OkStatus();
  const std::string parent = ParentDir(dir);
  if (parent != dir) {
    if (absl::Status s = CreateDirs(fs, parent); !s.ok()) return s;
  }
  if (rocksdb::IOStatus s = fs.CreateDirIfMissing(dir, IO(), nullptr); !s.ok()) {
    return FromIO(s, absl::StrCat("mkdir ", dir));
  }
  if (absl::Status s = SyncDir(fs, dir); !s.ok()) return s;
  return SyncDir(fs, parent);
}

absl::Status WriteSyncedFile(rocksdb::FileSystem& fs, const std::string& path,
                             absl::string_view contents) {
  std::unique_ptr<rocksdb::FSWritableFile> f;
  if (rocksdb::IOStatus s = fs.NewWritableFile(path, PlainFileOptions(), &f, nullptr); !s.ok()) {
    return FromIO(s, absl::StrCat("create ", path));
  }
  rocksdb::IOStatus s = f->Append(rocksdb::Slice(contents.data(), contents.size()), IO(), nullptr);
  if (s.ok()) s = f->Fsync(IO(), nullptr);
  rocksdb::IOStatus c = f->Close(IO(), nullptr);
  if (s.ok()) s = c;
  if (!s.ok()) {
    (void)fs.DeleteFile(path, IO(), nullptr);
    return FromIO(s, absl::StrCat("write ", path));
  }
  return absl::OkStatus();
}

absl::Status AtomicWriteFile(rocksdb::FileSystem& fs, const std::string& path,
                             absl::string_view contents) {
  const std::string tmp = path + ".tmp";
  if (absl::Status s = WriteSyncedFile(fs, tmp, contents); !s.ok()) return s;
  if (rocksdb::IOStatus r = fs.RenameFile(tmp, path, IO(), nullptr); !r.ok()) {
    return FromIO(r, absl::StrCat("rename ", tmp));
  }
  return SyncDir(fs, ParentDir(path));
}

absl::StatusOr<std::string> ReadFileToString(rocksdb::FileSystem& fs, const std::string& path) {
  std::string out;
  rocksdb::IOStatus s = rocksdb::ReadFileToString(&fs, path, &out);
  if (!s.ok()) return FromIO(s, absl::StrCat("read ", path));
  return out;
}

absl::StatusOr<std::vector<std::string>> ListDir(rocksdb::FileSystem& fs, const std::string& dir) {
  std::vector<std::string> names;
  if (rocksdb::IOStatus s = fs.GetChildren(dir, IO(), &names, nullptr); !s.ok()) {
    return FromIO(s, absl::StrCat("list ", dir));
  }
  names.erase(std::remove_if(names.begin(), names.end(),
                             [](const std::string& n) { return n == "." || n == ".."; }),
              names.end());
  std::sort(names.begin(), names.end());
  return names;
}

bool PathExists(rocksdb::FileSystem& fs, const std::string& path) {
  return fs.FileExists(path, IO(), nullptr).ok();
}

absl::StatusOr<bool> IsDirectory(rocksdb::FileSystem& fs, const std::string& path) {
  bool is_dir = false;
  if (rocksdb::IOStatus s = fs.IsDirectory(path, IO(), &is_dir, nullptr); !s.ok()) {
    return FromIO(s, absl::StrCat("stat ", path));
  }
  return is_dir;
}

absl::StatusOr<uint64_t> FileSize(rocksdb::FileSystem& fs, const std::string& path) {
  uint64_t size = 0;
  if (rocksdb::IOStatus s = fs.GetFileSize(path, IO(), &size, nullptr); !s.ok()) {
    return FromIO(s, absl::StrCat("stat ", path));
  }
  return size;
}

absl::Status RenameDurably(rocksdb::FileSystem& fs, const std::string& from,
                           const std::string& to) {
  if (rocksdb::IOStatus s = fs.RenameFile(from, to, IO(), nullptr); !s.ok()) {
    return FromIO(s, absl::StrCat("rename ", from, " to ", to));
  }
  if (absl::Status s = SyncDir(fs, ParentDir(to)); !s.ok()) return s;
  if (ParentDir(from) == ParentDir(to)) return absl::OkStatus();
  return SyncDir(fs, ParentDir(from));
}

absl::Status RemoveAll(rocksdb::FileSystem& fs, const std::string& path) {
  // What is already gone counts as removed: two removals of one tree may
  // overlap (a moved cell's old directory, and its host lost meanwhile).
  auto gone_ok = [](absl::Status s) { return absl::IsNotFound(s) ? absl::OkStatus() : s; };
  absl::StatusOr<bool> dir = IsDirectory(fs, path);
  if (absl::IsNotFound(dir.status())) return absl::OkStatus();
  if (!dir.ok()) return dir.status();
  if (!*dir) {
    return gone_ok(FromIO(fs.DeleteFile(path, IO(), nullptr), absl::StrCat("delete ", path)));
  }
  absl::StatusOr<std::vector<std::string>> names = ListDir(fs, path);
  if (!names.ok()) return gone_ok(names.status());
  for (const std::string& name : *names) {
    if (absl::Status s = RemoveAll(fs, path + "/" + name); !s.ok()) return s;
  }
  return gone_ok(FromIO(fs.DeleteDir(path, IO(), nullptr), absl::StrCat("rmdir ", path)));
}

}  // namespace cellindex
