#include "tools/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace cellindex::tools {

Progress::Progress(std::string what, uint64_t total)
    : what_(std::move(what)), total_(total), tty_(::isatty(2) == 1), start_(absl::Now()) {}

Progress::~Progress() { Finish(); }

void Progress::Update(uint64_t done) {
  if (!tty_) return;
  const absl::Time now = absl::Now();
  if (now - last_draw_ < absl::Milliseconds(100) && done != total_) return;
  last_draw_ = now;
  Draw(done);
}

void Progress::Draw(uint64_t done) {
  const double secs = absl::ToDoubleSeconds(absl::Now() - start_);
  const double rate = secs > 0 ? done / secs : 0;
  if (total_ > 0) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * std::min<double>(1.0, double(done) / total_));
    std::fprintf(stderr, "\r%s [%s%s] %llu/%llu  %.0f/s ", what_.c_str(),
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
                 rate);
  } else {
    std::fprintf(stderr, "\r%s %llu  %.0f/s  %.1f s ", what_.c_str(),
                 static_cast<unsigned long long>(done), rate, secs);
  }
  std::fflush(stderr);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (tty_) std::fprintf(stderr, "\r\033[K");
}

std::string HumanDuration(absl::Duration d) {
  const double us = absl::ToDoubleMicroseconds(d);
  if (us >= 1e6) return absl::StrFormat("%.2f s", us / 1e6);
  if (us >= 1e3) return absl::StrFormat("%.1f ms", us / 1e3);
  return absl::StrFormat("%.0f us", us);
}

}  // namespace cellindex::tools
