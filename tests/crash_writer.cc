// Test helper for crash_test: opens an index in sync durability and writes
// forever from several threads, printing "t i\n" to stdout after operation i
// of thread t is acknowledged. The parent kills it with SIGKILL. With a sixth
// argument "checkpoints" it also checkpoints its cells continuously.
//
// Operation i of thread t touches key "<prefix>t<t>-<i % keys>"; every third
// pass over the keys deletes them, the other passes put a record whose size is
// i and whose etag is "t<t>-i<i>".
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "index/index.h"

using cellindex::Index;
using cellindex::ObjectKey;
using cellindex::ObjectRecord;

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr, "usage: crash_writer DATA STORE PREFIX THREADS KEYS [checkpoints]\n");
    return 2;
  }
  cellindex::Options o;
  o.data_dir = argv[1];
  o.store_dir = argv[2];
  const std::string prefix = argv[3];
  const int threads = std::atoi(argv[4]);
  const int keys = std::atoi(argv[5]);
  o.cell_boundaries = {cellindex::EncodeKey({"bucket", "r"}),
                       cellindex::EncodeKey({"bucket", "r1"})};
  o.block_cache_bytes = 8 << 20;
  o.cell_write_buffer_bytes = 256 << 10;  // small memtables: flushes happen mid-run
  o.write_buffer_bytes = 8 << 20;
  o.background_checkpoints = false;
  o.validate_after_recovery = false;
  if (argc == 7 && std::string(argv[6]) == "checkpoints") {
    // Checkpoint all the time, so kills land inside checkpoints.
    o.background_checkpoints = true;
    o.checkpoint_journal_bytes = 8 << 10;
    o.checkpoint_interval = absl::Milliseconds(20);
  }
  auto index = Index::Open(o);
  if (!index.ok()) {
    std::fprintf(stderr, "open: %s\n", index.status().ToString().c_str());
    return 1;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (uint64_t i = 0;; ++i) {
        const ObjectKey key{"bucket", absl::StrCat(prefix, "t", t, "-", i % keys)};
        absl::Status s;
        if ((i / keys) % 3 == 2) {
          s = (*index)->Delete(key);
        } else {
          ObjectRecord r;
          r.size = i;
          r.etag = absl::StrCat("t", t, "-i", i);
          r.locations = {{absl::StrCat("node", i % 5), absl::StrCat("vol", i % 7), i, 100}};
          s = (*index)->Put(key, r).status();
        }
        if (!s.ok()) {
          std::fprintf(stderr, "op %d/%lu: %s\n", t, static_cast<unsigned long>(i),
                       s.ToString().c_str());
          std::_Exit(1);
        }
        const std::string line = absl::StrCat(t, " ", i, "\n");
        if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
          std::_Exit(1);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
}
