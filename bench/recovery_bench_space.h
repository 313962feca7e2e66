// How many bytes the Index's cells keep per object, and in which part of a
// cell's key space (index/cell/cell_keys.h): records, the reverse index by
// volume and by node, and the state keys. Measured on the cells' RocksDB
// directories after the build, each opened read-only.
#ifndef CELLINDEX_BENCH_RECOVERY_BENCH_SPACE_H_
#define CELLINDEX_BENCH_RECOVERY_BENCH_SPACE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace cellindex::bench::recovery_bench {

// One part of the key space, added up over the cells.
struct KeySpace {
  // On disk: DB::GetApproximateSizes over the part's key range, SST files
  // only (compressed, with their index and filter blocks).
  uint64_t file_bytes = 0;
  // Scanned: the entries and their keys' and values' bytes, uncompressed.
  uint64_t entries = 0, key_bytes = 0, value_bytes = 0;
};

struct IndexSpace {
  size_t cells = 0;        // RocksDB directories found
  uint64_t sst_bytes = 0;  // their live SST files (rocksdb.live-sst-files-size)
  KeySpace records, volumes, nodes, state;
};

// Every cell's RocksDB under `hosts_dir` (a directory that holds CURRENT),
// none of them open elsewhere. Writes nothing there (no info LOG either).
IndexSpace MeasureIndexSpace(const std::string& hosts_dir);

}  // namespace cellindex::bench::recovery_bench

#endif  // CELLINDEX_BENCH_RECOVERY_BENCH_SPACE_H_
