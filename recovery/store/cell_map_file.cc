#include "recovery/store/cell_map_file.h"

#include "index/base/file_util.h"

namespace cellindex {

absl::Status SaveCellMap(rocksdb::FileSystem& fs, const std::string& path, const CellMap& map) {
  return AtomicWriteFile(fs, path, map.Encode());
}

absl::StatusOr<CellMap> LoadCellMap(rocksdb::FileSystem& fs, const std::string& path) {
  absl::StatusOr<std::string> data = ReadFileToString(fs, path);
  if (!data.ok()) return data.status();
  return CellMap::Decode(*data);
}

}  // namespace cellindex
