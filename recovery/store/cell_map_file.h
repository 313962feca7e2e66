// The cell map as a file of the durable store (STORE/CELLMAP), replaced
// atomically on every change.
#ifndef CELLINDEX_RECOVERY_STORE_CELL_MAP_FILE_H_
#define CELLINDEX_RECOVERY_STORE_CELL_MAP_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/model/cell_map.h"

namespace rocksdb {
class FileSystem;
}

namespace cellindex {

// Atomic replace of the file at `path`, written through `fs`.
absl::Status SaveCellMap(rocksdb::FileSystem& fs, const std::string& path, const CellMap& map);
// NotFound when there is no file; DataLoss when it is damaged.
absl::StatusOr<CellMap> LoadCellMap(rocksdb::FileSystem& fs, const std::string& path);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_STORE_CELL_MAP_FILE_H_
