#include "recovery/audit_log.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "index/base/file_util.h"
#include "index/base/rocks_status.h"
#include "rocksdb/file_system.h"

namespace cellindex {

absl::Status AppendAuditLine(rocksdb::FileSystem& fs, const std::string& path,
                             absl::string_view line) {
  if (line.find('\n') != absl::string_view::npos) {
    return absl::InvalidArgumentError("an audit line may not hold a newline");
  }
  const bool created = !PathExists(fs, path);
  std::string record;
  if (!created) {
    // A torn last line (a crash mid-append) is ended first, so it stays
    // one skipped line instead of spoiling this one.
    absl::StatusOr<std::string> old = ReadFileToString(fs, path);
    if (!old.ok()) return old.status();
    if (!old->empty() && old->back() != '\n') record = "\n";
  }
  absl::StrAppend(&record, line, "\n");
  std::unique_ptr<rocksdb::FSWritableFile> f;
  const rocksdb::IOOptions io;
  if (rocksdb::IOStatus s = fs.ReopenWritableFile(path, PlainFileOptions(), &f, nullptr);
      !s.ok()) {
    return FromIO(s, absl::StrCat("open ", path));
  }
  rocksdb::IOStatus s = f->Append(rocksdb::Slice(record), io, nullptr);
  if (s.ok()) s = f->Fsync(io, nullptr);
  rocksdb::IOStatus c = f->Close(io, nullptr);
  if (s.ok()) s = c;
  if (!s.ok()) return FromIO(s, absl::StrCat("append to ", path));
  if (created) return SyncDir(fs, ParentDir(path));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ReadAuditLog(rocksdb::FileSystem& fs,
                                                      const std::string& path) {
  absl::StatusOr<std::string> data = ReadFileToString(fs, path);
  if (absl::IsNotFound(data.status())) return std::vector<std::string>();
  if (!data.ok()) return data.status();
  std::vector<std::string> lines = absl::StrSplit(*data, '\n');
  // The last piece follows the last newline: empty, or a torn line.
  lines.pop_back();
  lines.erase(std::remove(lines.begin(), lines.end(), std::string()), lines.end());
  return lines;
}

}  // namespace cellindex
