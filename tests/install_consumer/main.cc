#include <cellindex/cellindex.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  cellindex::Options options;
  options.data_dir = argv[1];
  auto index = cellindex::Index::Open(options);
  if (!index.ok()) return 1;
  cellindex::ObjectRecord rec;
  rec.size = 77;
  if (!(*index)->Put({"consumer", "hello"}, rec).ok()) return 1;
  auto got = (*index)->Get({"consumer", "hello"});
  if (!got.ok() || got->size != 77) return 1;
  std::puts("consumer ok");
  return 0;
}
