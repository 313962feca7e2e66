// Helpers shared by the tests: a scratch directory removed at the end.
#ifndef CELLINDEX_TESTS_TEST_UTIL_H_
#define CELLINDEX_TESTS_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

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

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_TEST_UTIL_H_
