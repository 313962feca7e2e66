// What the cells of one index share (file system, block cache, write buffer
// manager, thread pools), and the RocksDB options every cell uses (also used
// by the benchmarks, so the raw RocksDB baseline runs with exactly the
// cells' settings).
#ifndef CELLINDEX_INDEX_CELL_CELL_RESOURCES_H_
#define CELLINDEX_INDEX_CELL_CELL_RESOURCES_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "index/base/rocks_status.h"
#include "index/model/options.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/options.h"
#include "rocksdb/perf_level.h"
#include "rocksdb/status.h"
#include "rocksdb/write_buffer_manager.h"

namespace cellindex {

// What all cells of one index share.
struct CellResources {
  // Every file of every cell (RocksDB's, the journals', the store's) is
  // written through this file system; `env` is RocksDB's view of it, on the
  // default Env's thread pools.
  std::shared_ptr<rocksdb::FileSystem> fs;
  std::shared_ptr<rocksdb::Env> env_owner;  // null when env is the default Env
  rocksdb::Env* env = nullptr;
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffer_manager;
};

// While alive, RocksDB calls on this thread skip the perf-context counters
// (rocksdb/perf_context.h): at the default PerfLevel::kEnableCount RocksDB
// bumps a thread-local counter on every key comparison, reached through a
// dynamic-TLS lookup from the shared library. Cells never read those counters.
// The thread's previous level is restored on destruction.
class NoPerfCounting {
 public:
  NoPerfCounting() : previous_(rocksdb::GetPerfLevel()) {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  }
  ~NoPerfCounting() { rocksdb::SetPerfLevel(previous_); }
  NoPerfCounting(const NoPerfCounting&) = delete;
  NoPerfCounting& operator=(const NoPerfCounting&) = delete;

 private:
  const rocksdb::PerfLevel previous_;
};

// Sizes the Env's thread pools and builds the shared cache and buffer
// manager. `fs` null: the default file system.
CellResources MakeCellResources(const Options& options,
                                std::shared_ptr<rocksdb::FileSystem> fs = nullptr);
// The options of one cell's RocksDB (and of its default column family, which
// holds the records and the state keys; see cell_keys.h).
rocksdb::Options MakeCellDbOptions(const Options& options, const CellResources& resources);

// The column family of the reverse-location index (cell_keys.h). Locate only
// scans it, and writes delete its entries blindly, so it needs no bloom
// filter; its keys share long prefixes (a volume or node name, then keys in
// order) and are never read one at a time, so it takes larger blocks, fewer
// restart points and zstd. On the recovery benchmark's data this halves the
// bytes of the reverse index (see README, "Bytes per object").
inline constexpr char kLocationsColumnFamily[] = "locations";
rocksdb::ColumnFamilyOptions MakeLocationsOptions(const rocksdb::Options& cell_options,
                                                  const CellResources& resources);

// Opens (creating what is missing) a cell's RocksDB in `dir` with both
// column families. `*locations` must be destroyed before `*db`. NotSupported,
// with nothing written, for a state of format 1 (no locations family).
rocksdb::Status OpenCellDb(const Options& options, const CellResources& resources,
                           const std::string& dir, std::unique_ptr<rocksdb::DB>* db,
                           std::unique_ptr<rocksdb::ColumnFamilyHandle>* locations);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_CELL_RESOURCES_H_
