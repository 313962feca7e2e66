// The boundary between cellindex and RocksDB: status conversion and the
// RocksDB options every cell uses (also used by the benchmarks, so the raw
// RocksDB baseline runs with exactly the cells' settings).
#ifndef CELLINDEX_INDEX_ROCKSDB_UTIL_H_
#define CELLINDEX_INDEX_ROCKSDB_UTIL_H_

#include <memory>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "index/options.h"
#include "rocksdb/cache.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/status.h"
#include "rocksdb/write_buffer_manager.h"

namespace cellindex {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context);

// What all cells of one index share.
struct CellResources {
  rocksdb::Env* env = nullptr;
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffer_manager;
};

// Sizes the Env's thread pools and builds the shared cache and buffer manager.
CellResources MakeCellResources(const Options& options);
// The options of one cell's RocksDB.
rocksdb::Options MakeCellDbOptions(const Options& options, const CellResources& resources);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_ROCKSDB_UTIL_H_
