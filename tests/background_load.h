// A running load for tests that move cells: writers put fresh keys over
// every cell and remember what was acknowledged; readers read the populated
// keys (tests/four_cells.h). Each request's outcome is counted by whether
// its cell is one of the `moving` cells.
#ifndef CELLINDEX_TESTS_BACKGROUND_LOAD_H_
#define CELLINDEX_TESTS_BACKGROUND_LOAD_H_

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "tests/four_cells.h"

namespace cellindex::testing {

class BackgroundLoad {
 public:
  BackgroundLoad(Index& index, std::set<CellId> moving, int writers = 4, int readers = 2)
      : index_(index), moving_(std::move(moving)), acked_(writers) {
    for (int t = 0; t < writers; ++t) {
      threads_.emplace_back([this, t] {
        for (uint64_t n = 0; !stop_.load(); ++n) {
          const ObjectKey key{"bucket", absl::StrFormat("k%03d/%d/%06d", (n * 7 + t) % 100, t, n)};
          absl::Status s = index_.Put(key, Rec(n + 1)).status();
          Count(key, s);
          if (s.ok()) {
            acked_[t].emplace_back(key.key, n + 1);
            acked_count_.fetch_add(1);
          }
        }
      });
    }
    for (int t = 0; t < readers; ++t) {
      threads_.emplace_back([this, t] {
        for (int n = t; !stop_.load(); ++n) {
          const ObjectKey key{"bucket", Key(n % 100)};
          Count(key, index_.Get(key).status());
        }
      });
    }
  }
  ~BackgroundLoad() { Stop(); }

  void Stop() {
    stop_.store(true);
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  // Waits until `n` more requests to cells that stay have succeeded.
  bool WaitForMore(int n) {
    const int from = staying_ok_.load();
    return WaitUntil([&] { return staying_ok_.load() > from + n; });
  }

  // Waits until at least `n` writes in all have been acknowledged (reads
  // are many times faster: a count of requests says little of the writes).
  bool WaitForAcked(int n) {
    return WaitUntil([&] { return acked_count_.load() >= n; });
  }

  int staying_errors() const { return staying_errors_.load(); }
  int moving_errors() const { return moving_errors_.load(); }
  std::string first_error() const {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }
  // After Stop(): every acknowledged write reads back as written. Returns
  // how many were checked.
  size_t ExpectAllAckedReadBack() {
    size_t checked = 0;
    for (const auto& writes : acked_) {
      for (const auto& [key, size] : writes) {
        absl::StatusOr<ObjectRecord> r = index_.Get({"bucket", key});
        EXPECT_TRUE(r.ok()) << key << ": " << r.status();
        if (!r.ok()) return checked;
        EXPECT_EQ(r->size, size) << key;
        ++checked;
      }
    }
    return checked;
  }

 private:
  void Count(const ObjectKey& key, const absl::Status& s) {
    const bool moves = moving_.count(index_.CellFor(key)) > 0;
    if (s.ok() || absl::IsNotFound(s)) {
      if (!moves) ++staying_ok_;
      return;
    }
    ++(moves ? moving_errors_ : staying_errors_);
    absl::MutexLock lock(&mu_);
    if (first_error_.empty()) first_error_ = std::string(s.message());
  }

  Index& index_;
  const std::set<CellId> moving_;
  std::atomic<bool> stop_{false};
  std::vector<std::vector<std::pair<std::string, uint64_t>>> acked_;
  std::atomic<int> staying_errors_{0}, moving_errors_{0}, staying_ok_{0}, acked_count_{0};
  mutable absl::Mutex mu_;
  std::string first_error_;
  std::vector<std::thread> threads_;
};

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_BACKGROUND_LOAD_H_
