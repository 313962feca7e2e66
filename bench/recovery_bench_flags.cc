#include "bench/recovery_bench_flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace cellindex::bench::recovery_bench {
namespace {

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: recovery_bench [--objects=N] [--cells=C] [--hosts=H] [--reps=R]\n"
               "         [--tail=N] [--recovery-parallelism=P] [--fetch-parallelism=F]\n"
               "         [--backup-threads=B] [--load-threads=T] [--disk-test-mb=M]\n"
               "         [--journal-segment-mb=M] [--sweep[=P1,P2,...]] [--lose=HOST]\n"
               "         [--restore-mode=in_place|copy] [--dir=DIR] [--validate] [--keep] [--json]\n");
  std::exit(2);
}

}  // namespace

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    const size_t eq = arg.find('=');
    auto take = [&]() -> const std::string& {
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        Usage();
      }
      return value;
    };
    const std::string name = arg.substr(0, eq);
    auto number = [&](auto* out) {
      uint64_t v;
      if (!absl::SimpleAtoi(take(), &v)) Usage();
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(v);
    };
    if (name == "--objects") number(&f.objects);
    else if (name == "--cells") number(&f.cells);
    else if (name == "--hosts") number(&f.hosts);
    else if (name == "--tail") number(&f.tail);
    else if (name == "--reps") number(&f.reps);
    else if (name == "--recovery-parallelism") number(&f.recovery_parallelism);
    else if (name == "--fetch-parallelism") number(&f.fetch_parallelism);
    else if (name == "--backup-threads") number(&f.backup_threads);
    else if (name == "--load-threads") number(&f.load_threads);
    else if (name == "--disk-test-mb") number(&f.disk_test_mb);
    else if (name == "--journal-segment-mb") number(&f.journal_segment_mb);
    else if (name == "--sweep" && eq == std::string::npos &&
             (i + 1 == argc || absl::StartsWith(argv[i + 1], "--"))) {
      f.sweep = {1, 2, 4, 8, 16};
    }
    else if (name == "--sweep") {
      for (absl::string_view p : absl::StrSplit(take(), ',')) {
        int v;
        if (!absl::SimpleAtoi(p, &v) || v < 1) Usage();
        f.sweep.push_back(v);
      }
    }
    else if (name == "--lose") f.lose = take();
    else if (name == "--dir") f.dir = take();
    else if (name == "--validate") f.validate = true;
    else if (name == "--restore-mode") {
      const std::string mode = take();
      if (mode == "copy") f.restore_mode = RestoreMode::kCopy;
      else if (mode == "in_place") f.restore_mode = RestoreMode::kInPlace;
      else Usage();
    }
    else if (name == "--keep") f.keep = true;
    else if (name == "--json") f.json = true;
    else Usage();
  }
  if (f.tail == 0) f.tail = std::max<uint64_t>(1, f.objects / 50);
  if (f.objects < 1000 || f.cells < 1 || f.hosts < 2 || f.reps < 1 || f.load_threads < 1) Usage();
  return f;
}

}  // namespace cellindex::bench::recovery_bench
