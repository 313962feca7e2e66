// Power loss: random workloads in sync durability (writers, checkpoints,
// journal rotations) on a fault-injecting file system that, at a random
// moment, loses everything not yet made durable (unsynced file data,
// unsynced renames, creations and deletions). After the reopen every
// acknowledged write reads back exactly, nothing that was never written
// appears, and after losing a host too the restored cells agree.
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "index/index.h"
#include "index/internal_options.h"
#include "tests/fault_injection_fs.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;

constexpr int kDefaultRounds = testing::kUnderSanitizer ? 30 : 60;

int Rounds() {
  const char* env = std::getenv("CELLINDEX_POWER_LOSS_ROUNDS");
  int n = env != nullptr ? std::atoi(env) : 0;
  return n > 0 ? n : kDefaultRounds;
}

ObjectRecord RecordOf(uint64_t value) {
  ObjectRecord r;
  r.size = value;
  r.etag = absl::StrCat("\"", value, "\"");
  r.locations = {{absl::StrCat("node-", value % 5), absl::StrCat("vol-", value % 7), 0, value}};
  return r;
}

// What a key may hold after the loss: its last acknowledged value
// (0: deleted or never written), or the value of the one write in flight.
struct KeyModel {
  uint64_t acked = 0;
  uint64_t in_flight = 0;  // 0: none
  bool in_flight_is_delete = false;
};

struct Totals {
  uint64_t rounds = 0;
  uint64_t acked_writes = 0;
  uint64_t keys_checked = 0;
  uint64_t in_flight_seen = 0;
  uint64_t host_losses = 0;
};

// The reverse index (its own column family) agrees with the records after
// the loss: each volume's Locate lists exactly the objects whose record
// names that volume. A state whose families were persisted at different
// journal positions would miss entries or name objects that moved.
void ExpectLocateAgrees(Index& index, const char* when) {
  std::map<std::string, std::set<std::string>> want;  // volume -> keys
  absl::StatusOr<ListResult> all = index.List("bucket", {});
  ASSERT_TRUE(all.ok()) << all.status();
  for (const ListedObject& o : all->contents) {
    absl::StatusOr<ObjectRecord> got = index.Get({"bucket", o.key});
    ASSERT_TRUE(got.ok()) << got.status();
    for (const Extent& e : got->locations) want[e.volume].insert(o.key);
  }
  for (int v = 0; v < 7; ++v) {
    const std::string volume = absl::StrCat("vol-", v);
    std::set<std::string> located;
    LocateOptions lo;
    lo.volume = volume;
    do {
      absl::StatusOr<LocateResult> r = index.Locate(lo);
      ASSERT_TRUE(r.ok()) << when << ": locate " << volume << ": " << r.status();
      for (const LocatedObject& o : r->objects) located.insert(o.key.key);
      lo.continuation_token = r->next_continuation_token;
    } while (!lo.continuation_token.empty());
    EXPECT_EQ(located, want[volume]) << when << ": " << volume;
  }
}

class PowerLossTest : public ::testing::Test {
 protected:
  Options OptionsFor(const testing::ScratchDir& dir, std::mt19937_64& rng) {
    Options o;
    o.data_dir = dir / "data";
    o.store_dir = dir / "store";
    o.host_dirs = {{"h0", dir / "h0"}, {"h1", dir / "h1"}};
    o.cell_boundaries = {EncodeKey({"bucket", "k1"}), EncodeKey({"bucket", "k2"})};
    o.durability = Durability::kSync;
    o.journal_segment_bytes = 64 << 10;  // rotations by size, often
    o.block_cache_bytes = 4 << 20;
    o.write_buffer_bytes = 8 << 20;
    o.cell_write_buffer_bytes = 256 << 10;  // memtable flushes, often
    o.background_checkpoints = false;       // taken by the workload below
    o.validate_after_recovery = rng() % 2 == 0;
    o.checkpoints_to_keep = 2;
    return o;
  }

  // One round: load, lose power at a random moment, reopen, verify.
  void Round(uint64_t seed, Totals* totals) {
    SCOPED_TRACE(absl::StrCat("round seed ", seed));
    std::mt19937_64 rng(seed);
    testing::ScratchDir dir(testing::MemoryDirOrTemp());
    auto fs = std::make_shared<testing::FaultInjectionFileSystem>(rocksdb::FileSystem::Default(),
                                                                  dir / "trash");
    InternalOptions in;
    in.file_system = fs;
    in.close_without_flush = true;  // the close after the loss stands for the crash
    const Options options = OptionsFor(dir, rng);

    constexpr int kWriters = 3;
    constexpr int kKeysPerWriter = 30;
    std::vector<std::vector<KeyModel>> model(kWriters, std::vector<KeyModel>(kKeysPerWriter));
    auto key_of = [](int w, int k) {
      return ObjectKey{"bucket", absl::StrCat("k", w, "-", k)};
    };
    {
      absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(options, in);
      ASSERT_TRUE(index.ok()) << index.status();
      std::atomic<bool> power_off{false};
      std::atomic<uint64_t> acked{0};
      std::vector<std::thread> threads;
      for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back([&, w] {
          std::mt19937_64 wrng(seed * 31 + w);
          uint64_t next_value = (static_cast<uint64_t>(w) << 40) + 1;
          while (true) {
            const int k = static_cast<int>(wrng() % kKeysPerWriter);
            KeyModel& m = model[w][k];
            const bool del = m.acked != 0 && wrng() % 5 == 0;
            const uint64_t value = next_value++;
            m.in_flight = value;
            m.in_flight_is_delete = del;
            const absl::Status s = del ? (*index)->Delete(key_of(w, k))
                                       : (*index)->Put(key_of(w, k), RecordOf(value)).status();
            if (!s.ok()) {
              if (!power_off) ADD_FAILURE() << "write failed with the power on: " << s;
              return;  // the write in flight stays "maybe"
            }
            m.acked = del ? 0 : value;
            m.in_flight = 0;
            ++acked;
          }
        });
      }
      threads.emplace_back([&] {  // checkpoints while writing
        std::mt19937_64 crng(seed * 31 + kWriters);
        while (!power_off) {
          absl::StatusOr<std::vector<CheckpointReport>> r = (*index)->Checkpoint();
          if (!r.ok() && !power_off) ADD_FAILURE() << "checkpoint failed: " << r.status();
          absl::SleepFor(absl::Milliseconds(static_cast<int>(crng() % 30)));
        }
      });
      // The power goes off after a random number of acknowledged writes.
      const uint64_t loss_after = 10 + rng() % 600;
      ASSERT_TRUE(testing::WaitUntil([&] { return acked >= loss_after; }))
          << "the workload made no progress";
      power_off = true;
      fs->SetFilesystemActive(false);
      for (std::thread& t : threads) t.join();
      totals->acked_writes += acked;
      index->reset();  // its shutdown's writes fail: the power is off
    }
    ASSERT_TRUE(fs->SimulatePowerLoss().ok());
    fs->SetFilesystemActive(true);

    absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(options, in);
    ASSERT_TRUE(index.ok()) << index.status();
    auto verify = [&](const char* when) {
      for (int w = 0; w < kWriters; ++w) {
        for (int k = 0; k < kKeysPerWriter; ++k) {
          const KeyModel& m = model[w][k];
          absl::StatusOr<ObjectRecord> got = (*index)->Get(key_of(w, k));
          ++totals->keys_checked;
          if (got.ok()) {
            const bool acked_value = got->size == m.acked && m.acked != 0;
            const bool flight_value =
                m.in_flight != 0 && !m.in_flight_is_delete && got->size == m.in_flight;
            totals->in_flight_seen += flight_value;
            EXPECT_TRUE(acked_value || flight_value)
                << when << ": " << key_of(w, k).key << " holds " << got->size << ", acked "
                << m.acked << ", in flight " << m.in_flight;
            EXPECT_EQ(got->etag, absl::StrCat("\"", got->size, "\""));
          } else {
            ASSERT_TRUE(absl::IsNotFound(got.status()))
                << when << ": " << key_of(w, k).key << ": " << got.status();
            EXPECT_TRUE(m.acked == 0 || (m.in_flight != 0 && m.in_flight_is_delete))
                << when << ": acknowledged " << key_of(w, k).key << " = " << m.acked
                << " is gone";
          }
        }
      }
      // Nothing else appeared, and the listing agrees with the reads.
      absl::StatusOr<ListResult> all = (*index)->List("bucket", {});
      ASSERT_TRUE(all.ok()) << all.status();
      for (const ListedObject& o : all->contents) {
        absl::StatusOr<ObjectRecord> got = (*index)->Get({"bucket", o.key});
        ASSERT_TRUE(got.ok()) << when << ": listed " << o.key << " but " << got.status();
        EXPECT_EQ(got->size, o.size) << when << ": " << o.key;
      }
    };
    verify("after the power loss");
    ExpectLocateAgrees(**index, "after the power loss");
    if (seed % 4 == 0) {
      // And the store alone brings the same state back.
      (*index)->WaitForRecovery();
      ASSERT_TRUE((*index)->LoseHost("h0").ok());
      (*index)->WaitForRecovery();
      ++totals->host_losses;
      verify("after the power loss and losing h0");
      ExpectLocateAgrees(**index, "after the power loss and losing h0");
    }
    ++totals->rounds;
  }
};

TEST_F(PowerLossTest, AcknowledgedWritesSurviveAPowerLossAtAnyMoment) {
  Totals totals;
  const int rounds = Rounds();
  for (int r = 0; r < rounds && !HasFatalFailure() && !HasNonfatalFailure(); ++r) {
    Round(static_cast<uint64_t>(r) + 1, &totals);
  }
  std::printf("power loss: %llu rounds, %llu acknowledged writes, %llu key reads checked, "
              "%llu writes in flight found applied, %llu host losses after\n",
              static_cast<unsigned long long>(totals.rounds),
              static_cast<unsigned long long>(totals.acked_writes),
              static_cast<unsigned long long>(totals.keys_checked),
              static_cast<unsigned long long>(totals.in_flight_seen),
              static_cast<unsigned long long>(totals.host_losses));
  EXPECT_EQ(totals.rounds, static_cast<uint64_t>(rounds));
}

// Buffered durability: RocksDB flushes a memtable to disk (synced) while the
// journal's last writes are still unsynced; a power loss then leaves the
// cell's state ahead of its journal. The journal restarts above the state
// with the gap declared, a checkpoint covers it before the cell serves, and
// losing the host afterwards restores the same state from the store.
TEST(PowerLossGapTest, AStateAheadOfItsJournalIsCheckpointedBeforeServing) {
  testing::ScratchDir dir(testing::MemoryDirOrTemp());
  auto fs = std::make_shared<testing::FaultInjectionFileSystem>(rocksdb::FileSystem::Default(),
                                                                dir / "trash");
  InternalOptions in;
  in.file_system = fs;
  in.close_without_flush = true;
  Options o;
  o.data_dir = dir / "data";
  o.store_dir = dir / "store";
  o.host_dirs = {{"h0", dir / "h0"}, {"h1", dir / "h1"}};
  o.durability = Durability::kBuffered;
  o.buffered_sync_interval = absl::Hours(1);  // the journal is never synced by the timer
  o.cell_write_buffer_bytes = 64 << 10;       // so RocksDB flushes (and syncs) early
  o.background_checkpoints = false;
  o.validate_after_recovery = false;
  uint64_t n = 0;
  {
    absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(o, in);
    ASSERT_TRUE(index.ok()) << index.status();
    // Until RocksDB has flushed a memtable: its files are synced, the
    // journal's appends after its header are not.
    while ((*index)->Stats().cells[0].sst_bytes == 0) {
      ASSERT_TRUE((*index)->Put({"bucket", absl::StrCat("k", n)}, RecordOf(n + 1)).ok());
      ++n;
      ASSERT_LT(n, 100000u) << "RocksDB never flushed";
    }
    fs->SetFilesystemActive(false);
    index->reset();
  }
  ASSERT_TRUE(fs->SimulatePowerLoss().ok());
  fs->SetFilesystemActive(true);
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok()) << index.status();
  const CellStats c = (*index)->Stats().cells[0];
  ASSERT_EQ(c.state, CellPhase::kServing) << c.error;
  EXPECT_GT(c.applied_seq, 0u);
  EXPECT_EQ(c.recovery.journal_gap_end, c.applied_seq);
  EXPECT_THAT(c.recovery.reprotected, HasSubstr("taken before serving"));
  std::map<std::string, uint64_t> state;
  for (uint64_t i = 0; i < n; ++i) {
    absl::StatusOr<ObjectRecord> r = (*index)->Get({"bucket", absl::StrCat("k", i)});
    if (r.ok()) {
      EXPECT_EQ(r->size, i + 1);
      state[absl::StrCat("k", i)] = r->size;
    } else {
      EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
    }
  }
  EXPECT_EQ(state.size(), c.keys);
  ASSERT_TRUE((*index)->Put({"bucket", "after"}, RecordOf(7)).ok());
  ASSERT_TRUE((*index)->LoseHost(c.host).ok());
  (*index)->WaitForRecovery();
  for (const auto& [key, size] : state) {
    absl::StatusOr<ObjectRecord> r = (*index)->Get({"bucket", key});
    ASSERT_TRUE(r.ok()) << key << ": " << r.status();
    EXPECT_EQ(r->size, size);
  }
  EXPECT_EQ((*index)->Get({"bucket", "after"})->size, 7u);
}

}  // namespace
}  // namespace cellindex
