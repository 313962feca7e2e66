#include "tools/bulk_load.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace cellindex::tools {
namespace {
constexpr uint64_t kChunk = 4096;    // object numbers a thread claims at once
constexpr size_t kBatchOps = 256;    // ops per WriteBatch (one journal record)
}  // namespace

absl::Status BulkLoad(Index& index, const Workload& workload, uint64_t first, uint64_t count,
                      int threads, std::atomic<uint64_t>* done) {
  const size_t num_cells = index.cell_map().cells().size();
  const uint64_t end = first + count;
  std::atomic<uint64_t> next{first};
  std::atomic<bool> failed{false};
  absl::Mutex error_mu;
  absl::Status error;
  auto worker = [&] {
    std::vector<WriteBatch> batches(num_cells);
    auto flush = [&](WriteBatch& batch) {
      if (batch.empty()) return;
      absl::Status s = index.Write(batch).status();
      *done += batch.size();
      batch.Clear();
      if (!s.ok()) {
        absl::MutexLock lock(&error_mu);
        if (error.ok()) error = s;
        failed = true;
      }
    };
    while (!failed) {
      const uint64_t from = next.fetch_add(kChunk);
      if (from >= end) break;
      for (uint64_t i = from; i < std::min(end, from + kChunk) && !failed; ++i) {
        ObjectKey key = workload.Key(i);
        WriteBatch& batch = batches[index.cell_map().Route(EncodeKey(key))];
        batch.Put(std::move(key), workload.Record(i));
        if (batch.size() >= kBatchOps) flush(batch);
      }
    }
    for (WriteBatch& batch : batches) flush(batch);
  };
  const int n = threads > 0 ? threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  absl::MutexLock lock(&error_mu);
  return error;
}

}  // namespace cellindex::tools
