// A one-line progress display for long work, drawn on stderr only when it is
// a terminal (so logs and pipes stay clean).
#ifndef CELLINDEX_TOOLS_PROGRESS_H_
#define CELLINDEX_TOOLS_PROGRESS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace cellindex::tools {

class Progress {
 public:
  // `total` 0: unknown, shows a count and rate instead of a bar.
  Progress(std::string what, uint64_t total);
  ~Progress();
  // Redraws at most every 100 ms.
  void Update(uint64_t done);
  // Clears the line.
  void Finish();

 private:
  void Draw(uint64_t done);
  std::string what_;
  uint64_t total_;
  bool tty_;
  bool finished_ = false;
  absl::Time start_;
  absl::Time last_draw_ = absl::InfinitePast();
};

// "1.23 s", "45.6 ms" or "789 us".
std::string HumanDuration(absl::Duration d);

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_PROGRESS_H_
