// `cellindex demo`: the restart demonstration. A child process writes in sync
// durability and is killed with SIGKILL; the index is reopened and every
// acknowledged write is read back.
#ifndef CELLINDEX_TOOLS_DEMO_H_
#define CELLINDEX_TOOLS_DEMO_H_

#include <string>

#include "absl/time/time.h"

namespace cellindex::tools {

struct DemoOptions {
  std::string data_dir;   // wiped and reused
  std::string store_dir;  // empty: inside data_dir
  int cells = 4;
  int writers = 8;
  absl::Duration write_for = absl::Seconds(3);
  bool json = false;
};

// Returns the process exit code: 0 when nothing acknowledged was lost, 5
// (data loss) otherwise, 6 on any other failure.
int RunDemo(const DemoOptions& options);

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_DEMO_H_
