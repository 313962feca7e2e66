#include "tools/command_util.h"

#include <sys/stat.h>

#include <cerrno>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "index/base/file_util.h"
#include "rocksdb/file_system.h"
#include "tools/exit_codes.h"
#include "tools/workload.h"

namespace cellindex::tools {
namespace {

// Keys sampled from the default workload to place cell boundaries.
constexpr size_t kBoundarySampleKeys = 20000;

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status InvalidFlag(absl::string_view flag, absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", flag, " \"", absl::CHexEscape(text), "\": ", why));
}

// OK when `path` is a directory or does not exist yet (it is created on
// demand); another stat error is left for the open to report.
absl::Status CheckDirectory(absl::string_view flag, const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, " is not a directory"));
  }
  if (errno == ENOTDIR) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, " is not a directory (a part of the path is a file)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckDirectoryFlags(const GlobalFlags& flags) {
  if (absl::Status s = CheckDirectory("--data", flags.data_dir); !s.ok()) return s;
  return CheckDirectory(flags.store_dir.empty() ? "store directory" : "--store", StoreDir(flags));
}

absl::StatusOr<uint64_t> ParseDecimal(absl::string_view flag, absl::string_view text, uint64_t min,
                                      uint64_t max) {
  uint64_t value = 0;
  if (!AllDigits(text)) return InvalidFlag(flag, text, "not a decimal number (digits 0-9 only)");
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return InvalidFlag(flag, text, absl::StrCat("out of range (", min, " to ", max, ")"));
  }
  return value;
}

absl::StatusOr<double> ParseSeconds(absl::string_view flag, absl::string_view text, double min,
                                    double max) {
  const size_t dot = text.find('.');
  const bool well_formed = dot == absl::string_view::npos
                               ? AllDigits(text)
                               : AllDigits(text.substr(0, dot)) && AllDigits(text.substr(dot + 1));
  double value = 0;
  if (!well_formed || !absl::SimpleAtod(text, &value)) {
    return InvalidFlag(flag, text, "not a number of seconds (digits, optionally a fraction: 0.5)");
  }
  if (value < min || value > max) {
    return InvalidFlag(flag, text, absl::StrCat("out of range (", min, " to ", max, " seconds)"));
  }
  return value;
}

std::string StoreDir(const GlobalFlags& flags) {
  return flags.store_dir.empty() ? flags.data_dir + "/store" : flags.store_dir;
}

absl::StatusOr<std::unique_ptr<Index>> OpenIndex(const GlobalFlags& flags, bool create, bool bulk,
                                                 std::vector<ObjectKey> sample) {
  if (absl::Status s = CheckDirectoryFlags(flags); !s.ok()) return s;
  // Looking must not leave directories behind.
  if (!create && !PathExists(*rocksdb::FileSystem::Default(), StoreDir(flags))) {
    return absl::NotFoundError(absl::StrCat("no index in ", StoreDir(flags)));
  }
  Options o;
  o.data_dir = flags.data_dir;
  o.store_dir = StoreDir(flags);
  // A command holds the index briefly: no full-scan validation after every
  // open (checksums are still verified on every read).
  o.validate_after_recovery = false;
  if (bulk) o.durability = Durability::kBuffered;
  o.error_if_missing = true;
  o.leave_cluster = flags.leave_cluster;
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(o);
  if (index.ok() && !flags.status_dir.empty()) {
    if (absl::Status s = (*index)->StartStatusPage(flags.status_dir); !s.ok()) return s;
  }
  if (!create || !absl::IsNotFound(index.status())) {
    if (index.ok() && flags.cells > 0 &&
        (*index)->cell_map().cells().size() != static_cast<size_t>(flags.cells)) {
      std::cerr << "cellindex: note: the index exists with " << (*index)->cell_map().cells().size()
                << " cells; --cells applies only when it is created\n";
    }
    return index;
  }
  o.error_if_missing = false;
  if (flags.cells > 1) {
    o.num_cells = static_cast<size_t>(flags.cells);
    o.boundary_sample = sample.empty() ? Workload().Sample(kBoundarySampleKeys) : std::move(sample);
  }
  index = Index::Open(o);
  if (index.ok() && !flags.status_dir.empty()) {
    if (absl::Status s = (*index)->StartStatusPage(flags.status_dir); !s.ok()) return s;
  }
  return index;
}

int ReportError(const absl::Status& s) {
  std::cerr << "cellindex: " << s.message() << "\n";
  return ExitCodeFor(s);
}

void PrintJson(const Json& j) {
  std::cout << j.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

std::string Iso8601(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%d B", bytes) : absl::StrFormat("%.1f %s", v, units[u]);
}

sigset_t BlockStopSignals() {
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  return stop;
}

}  // namespace cellindex::tools
