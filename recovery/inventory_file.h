// The inventory (hosts and pools, index/model/capacity.h) as a file of the
// durable store beside the cell map (STORE/INVENTORY), replaced atomically.
#ifndef CELLINDEX_RECOVERY_INVENTORY_FILE_H_
#define CELLINDEX_RECOVERY_INVENTORY_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/model/capacity.h"

namespace rocksdb {
class FileSystem;
}

namespace cellindex {

inline constexpr char kInventoryFile[] = "INVENTORY";

absl::Status SaveInventory(rocksdb::FileSystem& fs, const std::string& path, const Inventory& inv);
// NotFound when there is no file (an index from before pools: its hosts are
// those of the options); DataLoss when damaged.
absl::StatusOr<Inventory> LoadInventory(rocksdb::FileSystem& fs, const std::string& path);

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_INVENTORY_FILE_H_
