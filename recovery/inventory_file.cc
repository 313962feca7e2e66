#include "recovery/inventory_file.h"

#include "index/base/file_util.h"

namespace cellindex {

absl::Status SaveInventory(rocksdb::FileSystem& fs, const std::string& path, const Inventory& inv) {
  return AtomicWriteFile(fs, path, inv.Encode());
}

absl::StatusOr<Inventory> LoadInventory(rocksdb::FileSystem& fs, const std::string& path) {
  absl::StatusOr<std::string> data = ReadFileToString(fs, path);
  if (!data.ok()) return data.status();
  return Inventory::Decode(*data);
}

}  // namespace cellindex
