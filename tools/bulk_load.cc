#include "tools/bulk_load.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tools/progress.h"

namespace cellindex::tools {
namespace {
constexpr uint64_t kChunk = 4096;    // object numbers a thread claims at once
constexpr size_t kBatchOps = 256;    // ops per WriteBatch (one journal record)

// Writes `batch` (puts only). A batch gathered for one cell may span two
// once that cell has split: its puts are then grouped by the cells of now
// and written again (puts of the same records: the repeat is harmless).
absl::Status WriteLoadBatch(Index& index, const WriteBatch& batch,
                            std::atomic<uint64_t>* retries, int depth = 0) {
  absl::Status s = index.Write(batch).status();
  const absl::Time give_up = absl::Now() + kLoadRetryFor;
  absl::Duration backoff = absl::Milliseconds(10);
  while (absl::IsUnavailable(s) && absl::Now() + backoff < give_up) {
    if (retries != nullptr) ++*retries;
    absl::SleepFor(backoff);  // a client's backoff before it tries again
    backoff = std::min(backoff * 2, absl::Seconds(1));
    s = index.Write(batch).status();
  }
  if (!absl::IsInvalidArgument(s) || depth >= 4) return s;
  absl::flat_hash_map<CellId, WriteBatch> parts;
  for (const WriteOp& op : batch.ops()) parts[index.CellFor(op.key)].Put(op.key, op.record);
  if (parts.size() < 2) return s;  // not a split: the batch itself is wrong
  for (const auto& [cell, part] : parts) {
    if (absl::Status p = WriteLoadBatch(index, part, retries, depth + 1); !p.ok()) return p;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status BulkLoad(Index& index, const Workload& workload, uint64_t first, uint64_t count,
                      int threads, std::atomic<uint64_t>* done,
                      std::atomic<uint64_t>* retries) {
  const uint64_t end = first + count;
  std::atomic<uint64_t> next{first};
  std::atomic<bool> failed{false};
  absl::Mutex error_mu;
  absl::Status error;
  auto worker = [&] {
    // By cell id: cells may split while the load runs.
    absl::flat_hash_map<CellId, WriteBatch> batches;
    auto flush = [&](WriteBatch& batch) {
      if (batch.empty()) return;
      absl::Status s = WriteLoadBatch(index, batch, retries);
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
        WriteBatch& batch = batches[index.CellFor(key)];
        batch.Put(std::move(key), workload.Record(i));
        if (batch.size() >= kBatchOps) flush(batch);
      }
    }
    for (auto& [cell, batch] : batches) flush(batch);
  };
  const int n = threads > 0 ? threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  absl::MutexLock lock(&error_mu);
  return error;
}

absl::Status BulkLoadWithProgress(Index& index, const Workload& workload, uint64_t first,
                                  uint64_t count, int threads, std::atomic<uint64_t>* retries) {
  std::atomic<uint64_t> done{0};
  std::atomic<bool> finished{false};
  absl::Status loaded;
  Progress progress("loading", count);
  std::thread loader([&] {
    loaded = BulkLoad(index, workload, first, count, threads, &done, retries);
    finished = true;
  });
  while (!finished.load()) {
    progress.Update(done.load());
    absl::SleepFor(absl::Milliseconds(50));
  }
  loader.join();
  return loaded;
}

}  // namespace cellindex::tools
