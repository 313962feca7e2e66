#include "recovery/journal/journal_segments.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "index/base/file_util.h"
#include "rocksdb/file_system.h"

namespace cellindex::journal {
namespace {
constexpr absl::string_view kSegmentSuffix = ".log";
}  // namespace

std::string SegmentFileName(uint64_t first_seq) {
  return absl::StrFormat("%020u%s", first_seq, kSegmentSuffix);
}

bool ParseSegmentFileName(absl::string_view name, uint64_t* first_seq) {
  if (name.size() != 20 + kSegmentSuffix.size() || name.substr(20) != kSegmentSuffix) {
    return false;
  }
  for (char c : name.substr(0, 20)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(name.substr(0, 20), first_seq) && *first_seq > 0;
}

absl::StatusOr<std::vector<SegmentFile>> ListSegments(rocksdb::FileSystem& fs,
                                                      const std::string& dir) {
  std::vector<SegmentFile> out;
  absl::StatusOr<std::vector<std::string>> names = ListDir(fs, dir);
  if (absl::IsNotFound(names.status())) return out;
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    uint64_t first;
    if (ParseSegmentFileName(name, &first)) out.push_back({first, dir + "/" + name});
  }
  std::sort(out.begin(), out.end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.first < b.first; });
  return out;
}

}  // namespace cellindex::journal
