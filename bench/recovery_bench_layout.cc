#include "bench/recovery_bench_layout.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"

namespace cellindex::bench::recovery_bench {

namespace fs = std::filesystem;

Options IndexOptions(const Flags& f, const Layout& l) {
  Options o;
  o.data_dir = l.index() + "/data";
  o.store_dir = l.store();
  for (size_t h = 0; h < f.hosts; ++h) {
    o.host_dirs[absl::StrCat("h", h)] = absl::StrCat(l.index(), "/hosts/h", h);
  }
  o.durability = Durability::kBuffered;
  o.background_checkpoints = false;
  o.validate_after_recovery = false;
  // A fixed layout: the cells this benchmark builds are what it measures
  // (bench/split_bench.cc measures cells kept small by splits).
  o.resize_check_interval = absl::ZeroDuration();
  o.recovery_parallelism = f.recovery_parallelism;
  o.fetch_parallelism = f.fetch_parallelism;
  o.restore_mode = f.restore_mode;
  if (f.journal_segment_mb > 0) o.journal_segment_bytes = f.journal_segment_mb << 20;
  return o;
}

void CloneTree(const std::string& from, const std::string& to,
               const std::function<bool(const std::string&)>& link) {
  MakeDirs(to);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(from, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path dest = fs::path(to) / fs::relative(it->path(), from);
    if (it->is_directory()) {
      fs::create_directories(dest, ec);
    } else if (link(it->path().string())) {
      fs::create_hard_link(it->path(), dest, ec);
    } else {
      fs::copy_file(it->path(), dest, ec);
    }
    if (ec) Die("clone", absl::ErrnoToStatus(ec.value(), dest.string()));
  }
  if (ec) Die("clone", absl::ErrnoToStatus(ec.value(), from));
}

bool LinkNothing(const std::string&) { return false; }
bool LinkSstAndStore(const std::string& path) {
  return absl::EndsWith(path, ".sst") || absl::StrContains(path, "/store/");
}

std::map<std::string, std::pair<uint64_t, int64_t>> Signature(const std::string& root) {
  std::map<std::string, std::pair<uint64_t, int64_t>> sig;
  ForEachFile(root, [&](const std::string& p) {
    struct stat st;
    if (::stat(p.c_str(), &st) == 0) {
      sig[p] = {static_cast<uint64_t>(st.st_size),
                static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    }
  });
  return sig;
}

}  // namespace cellindex::bench::recovery_bench
