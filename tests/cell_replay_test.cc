// Replay of a cell's journal into an empty state rebuilds exactly the state
// the writes left: the records, the reverse index (volume and node entries),
// the key count. Journals written now apply their ops without reading the
// state; journals of the older body kinds (no old names) still replay, alone
// or mixed with the new kinds.
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/cell/cell.h"
#include "index/cell/cell_resources.h"
#include "index/model/cell_map.h"
#include "index/model/object_key.h"
#include "rocksdb/db.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using testing::SizedRecord;
using testing::SyncIndexOptions;
using Dump = std::map<std::string, std::string>;

// Every key and value of the cell's RocksDB (records, reverse index, state).
// Keys of the locations column family are marked with a leading "L:".
Dump DumpCell(Cell* cell) {
  Dump d;
  for (rocksdb::ColumnFamilyHandle* family : {cell->db()->DefaultColumnFamily(), cell->locations()}) {
    const std::string mark = family == cell->locations() ? "L:" : "";
    std::unique_ptr<rocksdb::Iterator> it(cell->db()->NewIterator(rocksdb::ReadOptions(), family));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      d[mark + it->key().ToString()] = it->value().ToString();
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  }
  return d;
}

class CellReplayTest : public ::testing::Test {
 protected:
  CellReplayTest() {
    absl::StatusOr<CellMap> map = CellMap::FromBoundaries({});
    EXPECT_TRUE(map.ok());
    range_ = map->cells()[0];
  }

  Cell::Paths paths() const { return {dir_ / "db", dir_ / "journal", dir_ / "HEAD"}; }

  std::unique_ptr<Cell> OpenCell(bool legacy_body) {
    CellOpenHooks hooks;
    hooks.legacy_journal_body = legacy_body;
    absl::StatusOr<std::unique_ptr<Cell>> cell =
        Cell::Open({"test", range_}, paths(), options_, resources_, hooks);
    EXPECT_TRUE(cell.ok()) << cell.status();
    return cell.ok() ? *std::move(cell) : nullptr;
  }

  // A record on 1 to 3 extents over a few volumes and nodes, repeats
  // included, so that overwrites and deletes meet shared and unshared names.
  ObjectRecord RandomRecord() {
    ObjectRecord r = SizedRecord(rng_() % 1000);
    r.locations.clear();
    const int extents = 1 + static_cast<int>(rng_() % 3);
    for (int i = 0; i < extents; ++i) {
      r.locations.push_back({absl::StrCat("node-", rng_() % 3), absl::StrCat("vol-", rng_() % 5),
                             rng_() % 4096, 1 + rng_() % 4096});
    }
    return r;
  }

  // `writes` writes of 1 to 4 ops on 40 keys: puts (new and overwrites) and
  // deletes of keys that exist. Keeps live_ (key -> present) up to date.
  void RandomWrites(Cell* cell, int writes) {
    for (int w = 0; w < writes; ++w) {
      std::vector<CellOp> ops;
      std::map<std::string, bool> after = live_;
      const int n = 1 + static_cast<int>(rng_() % 4);
      for (int i = 0; i < n; ++i) {
        const std::string key = EncodeKey({"bucket", absl::StrCat("k", rng_() % 40)});
        CellOp op;
        op.encoded_key = key;
        if (after[key] && rng_() % 3 == 0) {
          op.kind = WriteOp::Kind::kDelete;
          after[key] = false;
        } else {
          op.record = RandomRecord();
          after[key] = true;
        }
        ops.push_back(std::move(op));
      }
      absl::StatusOr<std::vector<uint64_t>> v = cell->Write(std::move(ops));
      ASSERT_TRUE(v.ok()) << v.status();
      live_ = std::move(after);
    }
  }

  // Drops the local state and replays the whole journal into a new one.
  std::unique_ptr<Cell> ReplayWholeJournal() {
    EXPECT_TRUE(RemoveAll(paths().db_dir).ok());
    return OpenCell(/*legacy_body=*/false);
  }

  size_t LiveKeys() const {
    size_t n = 0;
    for (const auto& [key, present] : live_) n += present ? 1 : 0;
    return n;
  }

  testing::ScratchDir dir_;
  Options options_ = SyncIndexOptions(dir_);
  CellResources resources_ = MakeCellResources(options_);
  CellRange range_;
  std::mt19937_64 rng_{20261201};
  std::map<std::string, bool> live_;
};

TEST_F(CellReplayTest, ReplayWithoutReadsRebuildsExactlyTheStateTheWritesLeft) {
  Dump written;
  {
    std::unique_ptr<Cell> cell = OpenCell(false);
    ASSERT_NE(cell, nullptr);
    RandomWrites(cell.get(), 600);
    written = DumpCell(cell.get());
  }
  std::unique_ptr<Cell> cell = ReplayWholeJournal();
  ASSERT_NE(cell, nullptr);
  CellStats st = cell->Stats();
  EXPECT_EQ(st.records_replayed, 600u);
  EXPECT_EQ(st.replay_reads, 0u) << "a journal written now replays without looking keys up";
  EXPECT_EQ(st.keys, LiveKeys());
  Dump replayed = DumpCell(cell.get());
  EXPECT_EQ(replayed.size(), written.size());
  EXPECT_TRUE(replayed == written) << "the replayed state differs from the written one";
}

// A validation stopped (its cell taken out of service) ends early with
// Cancelled, not DataLoss: it found nothing wrong. Unstopped, the same
// state validates.
TEST_F(CellReplayTest, AStoppedValidationEndsCancelledNotDamaged) {
  std::unique_ptr<Cell> cell = OpenCell(false);
  ASSERT_NE(cell, nullptr);
  RandomWrites(cell.get(), 3000);
  uint64_t checked = 0;
  ASSERT_TRUE(cell->Validate(&checked).ok());
  EXPECT_EQ(checked, LiveKeys());
  cell->StopValidation();
  absl::Status s = cell->Validate(&checked);
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
  EXPECT_THAT(s.message(), ::testing::HasSubstr("taken out of service"));
  EXPECT_EQ(checked, 0u);
}

TEST_F(CellReplayTest, AJournalOfTheOlderBodyKindsStillReplays) {
  Dump written;
  {
    std::unique_ptr<Cell> cell = OpenCell(/*legacy_body=*/true);
    ASSERT_NE(cell, nullptr);
    RandomWrites(cell.get(), 300);
    written = DumpCell(cell.get());
  }
  std::unique_ptr<Cell> cell = ReplayWholeJournal();
  ASSERT_NE(cell, nullptr);
  CellStats st = cell->Stats();
  EXPECT_EQ(st.records_replayed, 300u);
  EXPECT_GT(st.replay_reads, 0u);
  EXPECT_EQ(st.keys, LiveKeys());
  EXPECT_TRUE(DumpCell(cell.get()) == written);
}

TEST_F(CellReplayTest, AJournalMixingOlderAndNewerBodiesReplaysInOrder) {
  // Older bodies, then newer ones over the same keys, then older again: an
  // older op after newer ones must see what they did, though replay applied
  // those without reading.
  Dump written;
  for (bool legacy : {true, false, true, false}) {
    std::unique_ptr<Cell> cell = OpenCell(legacy);
    ASSERT_NE(cell, nullptr);
    RandomWrites(cell.get(), 150);
    written = DumpCell(cell.get());
    // Keep the journal the only record of the writes: no flush at close.
    cell->CloseWithoutFlush();
  }
  std::unique_ptr<Cell> cell = ReplayWholeJournal();
  ASSERT_NE(cell, nullptr);
  CellStats st = cell->Stats();
  EXPECT_EQ(st.records_replayed, 600u);
  EXPECT_EQ(st.keys, LiveKeys());
  EXPECT_TRUE(DumpCell(cell.get()) == written);
}

}  // namespace
}  // namespace cellindex
