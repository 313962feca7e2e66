#include "tools/s3/volumes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "absl/hash/hash.h"

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"

namespace cellindex::s3 {
namespace {

constexpr absl::string_view kTempSuffix = ".tmp";

std::string FileName(uint64_t offset) { return absl::StrFormat("%016x", offset); }

bool ParseFileName(absl::string_view name, uint64_t* offset) {
  return name.size() == 16 && absl::SimpleHexAtoi(name, offset) &&
         name.find_first_not_of("0123456789abcdef") == absl::string_view::npos;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Volumes>> Volumes::Open(
    const std::string& node, const std::map<std::string, std::string>& volumes, int replicas) {
  rocksdb::FileSystem& fs = *rocksdb::FileSystem::Default();
  std::unique_ptr<Volumes> v(new Volumes());
  v->node_ = node;
  v->replicas_ = replicas;
  const uint64_t now = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  for (const auto& [name, dir] : volumes) {
    if (absl::Status s = CreateDirs(fs, dir); !s.ok()) return s;
    auto volume = std::make_unique<Volume>();
    volume->name = name;
    volume->dir = dir;
    volume->next_offset = now;
    v->volumes_.push_back(std::move(volume));
  }
  for (auto& volume : v->volumes_) {
    absl::StatusOr<std::vector<VolumeFile>> files = v->List(volume->name);
    if (!files.ok()) return files.status();
    uint64_t next = volume->next_offset;
    for (const VolumeFile& f : *files) {
      if (f.temporary) continue;
      absl::StatusOr<uint64_t> size = FileSize(fs, absl::StrCat(volume->dir, "/", f.name));
      if (!size.ok()) return size.status();
      next = std::max(next, f.offset + std::max<uint64_t>(*size, 1));
    }
    volume->next_offset = next;
  }
  return v;
}

std::vector<std::string> Volumes::names() const {
  std::vector<std::string> out;
  for (const auto& v : volumes_) out.push_back(v->name);
  return out;
}

std::string Volumes::PathOf(const Extent& e) const {
  for (const auto& v : volumes_) {
    if (v->name == e.volume) return absl::StrCat(v->dir, "/", FileName(e.offset));
  }
  return "";
}

absl::StatusOr<std::vector<Extent>> Volumes::Write(absl::string_view placement_key,
                                                   absl::string_view bytes) {
  rocksdb::FileSystem& fs = *rocksdb::FileSystem::Default();
  // An empty object has no bytes to place (the index refuses empty extents).
  if (bytes.empty()) return std::vector<Extent>();
  const size_t first = absl::Hash<absl::string_view>()(placement_key) % volumes_.size();
  std::vector<Extent> extents;
  for (int r = 0; r < replicas_; ++r) {
    Volume& v = *volumes_[(first + r) % volumes_.size()];
    const uint64_t offset = v.next_offset.fetch_add(std::max<uint64_t>(bytes.size(), 1));
    Extent e{node_, v.name, offset, bytes.size()};
    if (absl::Status s = AtomicWriteFile(fs, absl::StrCat(v.dir, "/", FileName(offset)), bytes);
        !s.ok()) {
      Remove(extents);
      return s;
    }
    extents.push_back(std::move(e));
  }
  return extents;
}

absl::StatusOr<std::string> Volumes::Read(const std::vector<Extent>& extents, uint64_t begin,
                                          uint64_t length) const {
  if (extents.empty() && begin == 0 && length == 0) return std::string();  // empty object
  std::string why = "the object has no extent on this node";
  for (const Extent& e : extents) {
    if (e.node != node_) continue;
    const std::string path = PathOf(e);
    if (path.empty()) {
      why = absl::StrCat("volume ", e.volume, " is not configured");
      continue;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      why = absl::StrCat(path, " is missing");
      continue;
    }
    struct stat st;
    if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) != e.length) {
      ::close(fd);
      why = absl::StrCat(path, " does not have the extent's length");
      continue;
    }
    std::string out(length, '\0');
    size_t done = 0;
    while (done < length) {
      const ssize_t n = ::pread(fd, out.data() + done, length - done, begin + done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    if (done == length) return out;
    why = absl::StrCat(path, " could not be read");
  }
  return absl::DataLossError(absl::StrCat("object bytes unreadable: ", why));
}

void Volumes::Remove(const std::vector<Extent>& extents) const {
  for (const Extent& e : extents) {
    if (e.node != node_) continue;
    const std::string path = PathOf(e);
    if (!path.empty()) ::unlink(path.c_str());
  }
}

absl::StatusOr<std::vector<VolumeFile>> Volumes::List(const std::string& volume) const {
  for (const auto& v : volumes_) {
    if (v->name != volume) continue;
    absl::StatusOr<std::vector<std::string>> names =
        ListDir(*rocksdb::FileSystem::Default(), v->dir);
    if (!names.ok()) return names.status();
    std::vector<VolumeFile> files;
    for (const std::string& name : *names) {
      VolumeFile f;
      f.name = name;
      absl::string_view stem = name;
      f.temporary = absl::ConsumeSuffix(&stem, kTempSuffix);
      if (!ParseFileName(stem, &f.offset)) continue;  // not ours: left alone
      files.push_back(std::move(f));
    }
    return files;
  }
  return absl::NotFoundError(absl::StrCat("volume ", volume, " is not configured"));
}

absl::Status Volumes::RemoveFile(const std::string& volume, const std::string& name) const {
  for (const auto& v : volumes_) {
    if (v->name != volume) continue;
    const std::string path = absl::StrCat(v->dir, "/", name);
    if (::unlink(path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("cannot remove ", path));
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("volume ", volume, " is not configured"));
}

}  // namespace cellindex::s3
