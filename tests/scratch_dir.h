// A test's own directory, made fresh and removed with everything in it
// when the test ends. Apart from test_util.h so that tests of the layers
// that do not link the index (the coordination layer) can use it.
#ifndef CELLINDEX_TESTS_SCRATCH_DIR_H_
#define CELLINDEX_TESTS_SCRATCH_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace cellindex::testing {

class ScratchDir {
 public:
  // In the temporary directory, or below `base` when given.
  explicit ScratchDir(const std::string& base = "") {
    const std::filesystem::path parent =
        base.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(base);
    std::string tmpl = (parent / "cellindex-test-XXXXXX").string();
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

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_SCRATCH_DIR_H_
