// Helpers shared by the tests: a scratch directory removed at the end, and a
// small index opened in one.
#ifndef CELLINDEX_TESTS_TEST_UTIL_H_
#define CELLINDEX_TESTS_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/index.h"

namespace cellindex::testing {

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cellindex-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Options for a small index in `dir`: small caches and memtables, buffered
// durability, and the given cell boundaries (none: one cell).
inline Options SmallIndexOptions(const ScratchDir& dir,
                                 std::vector<std::string> boundaries = {}) {
  Options o;
  o.data_dir = dir / "data";
  o.store_dir = dir / "store";
  o.durability = Durability::kBuffered;
  o.block_cache_bytes = 8 << 20;
  o.write_buffer_bytes = 32 << 20;
  o.cell_write_buffer_bytes = 1 << 20;
  o.cell_boundaries = std::move(boundaries);
  return o;
}

// Index::Open; an error fails the test and gives null.
inline std::unique_ptr<Index> OpenIndexOrFail(const Options& options) {
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(options);
  EXPECT_TRUE(index.ok()) << index.status();
  return index.ok() ? *std::move(index) : nullptr;
}

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_TEST_UTIL_H_
