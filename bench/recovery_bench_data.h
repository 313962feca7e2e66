// recovery_bench's objects: the same keys and records for the RocksDB
// baseline and the Index, generated from the object's number alone.
#ifndef CELLINDEX_BENCH_RECOVERY_BENCH_DATA_H_
#define CELLINDEX_BENCH_RECOVERY_BENCH_DATA_H_

#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "index/model/object_key.h"
#include "index/model/object_record.h"

namespace cellindex::bench::recovery_bench {

// Objects per write batch while loading.
constexpr size_t kLoadBatch = 1000;

// Object i: keys in hash order, so a load touches every cell and the key
// order has nothing to do with the load order. Mix64 is a bijection: keys
// are distinct.
ObjectKey KeyOf(uint64_t i);

// About 200 bytes encoded: two replicas, an S3-style ETag, a content type.
// `generation` 1 is the tail's overwrite of the same object.
ObjectRecord RecordOf(uint64_t i, uint64_t generation);

// The tail's t-th write overwrites this object.
uint64_t TailObject(uint64_t t, uint64_t objects);

// Runs fn(thread, begin, end) over [0, n) split into `threads` parts.
template <typename Fn>
void Parallel(int threads, uint64_t n, Fn fn) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] { fn(t, n * t / threads, n * (t + 1) / threads); });
  }
  for (std::thread& th : pool) th.join();
}

}  // namespace cellindex::bench::recovery_bench

#endif  // CELLINDEX_BENCH_RECOVERY_BENCH_DATA_H_
