// `cellindex drill`: the restart drill. Loads an index spread over several
// simulated hosts, checkpoints it, keeps writing and reading, removes hosts
// (or all of them: a cold start), and measures how the lost cells come back
// on the survivors while the rest serve: time to first and to full
// availability, per-cell phase times, bytes fetched, journal records
// replayed, the availability of requests during recovery, and acknowledged
// writes lost (which must be 0, verified by reading every one back). With a
// report directory it also writes a page with the drill's timeline
// (tools/drill_page.h).
#ifndef CELLINDEX_TOOLS_DRILL_H_
#define CELLINDEX_TOOLS_DRILL_H_

#include <cstdint>
#include <string>

#include "index/model/options.h"

#include "absl/time/time.h"

namespace cellindex::tools {

struct DrillOptions {
  std::string dir;  // wiped and reused: hosts/hN/ and store/ below it
  int hosts = 8;
  int cells = 32;
  uint64_t objects = 1200000;
  int lose = 1;             // hosts removed at once
  bool all = false;         // every host: a full cold start
  int writers = 4;          // writing while the hosts are lost and recover
  int readers = 2;
  absl::Duration before = absl::Seconds(2);  // load running before the loss
  absl::Duration after = absl::Seconds(2);   // and after full availability
  int recovery_parallelism = 0;              // Options::recovery_parallelism
  bool paranoid = false;
  RestoreMode restore_mode = RestoreMode::kInPlace;  // Options::restore_mode
  // Options::split_keys for the drill (0: the default thresholds, which a
  // drill's cells do not reach): cells split during the load.
  uint64_t split_keys = 0;
  bool json = false;
  // Where to write the report page (drill.html, drill.json); empty: none.
  std::string report_dir;
};

// Returns the process exit code: 0 when every acknowledged write read back,
// 5 (data loss) when any did not, or the code of the error that stopped it.
int RunDrill(const DrillOptions& options);

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_DRILL_H_
