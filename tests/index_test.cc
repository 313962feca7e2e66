#include "index/index.h"

#include <atomic>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "index/cell/cell.h"
#include "index/base/coding.h"
#include "index/base/file_util.h"
#include "recovery/journal/journal.h"
#include "rocksdb/db.h"
#include "rocksdb/perf_level.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;
using testing::OpenIndexOrFail;
using testing::RawCellDb;
using testing::SizedRecord;
using testing::SyncIndexOptions;

TEST(IndexTest, PutThenGetReturnsTheRecordWithVersionAndTimes) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  ASSERT_NE(index, nullptr);
  ObjectRecord in = SizedRecord(42, "\"abc\"");
  in.version = 999;  // ignored
  const absl::Time before = absl::Now();
  absl::StatusOr<uint64_t> v = index->Put({"bucket", "a/b.txt"}, in);
  ASSERT_TRUE(v.ok()) << v.status();
  absl::StatusOr<ObjectRecord> out = index->Get({"bucket", "a/b.txt"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->version, *v);
  EXPECT_NE(out->version, 999u);
  EXPECT_EQ(out->size, 42u);
  EXPECT_EQ(out->etag, "\"abc\"");
  EXPECT_EQ(out->locations, in.locations);
  EXPECT_EQ(out->user_metadata, in.user_metadata);
  EXPECT_GE(out->modified, before - absl::Seconds(1));
  EXPECT_EQ(out->created, out->modified);

  // Explicit times are kept.
  in.created = absl::FromUnixSeconds(1000);
  in.modified = absl::FromUnixSeconds(2000);
  ASSERT_TRUE(index->Put({"bucket", "t"}, in).ok());
  out = index->Get({"bucket", "t"});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->created, absl::FromUnixSeconds(1000));
  EXPECT_EQ(out->modified, absl::FromUnixSeconds(2000));
}

TEST(IndexTest, MissingKeysAndDeletes) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  EXPECT_TRUE(absl::IsNotFound(index->Get({"bucket", "nope"}).status()));
  EXPECT_TRUE(absl::IsNotFound(index->Delete({"bucket", "nope"})));
  ASSERT_TRUE(index->Put({"bucket", "k"}, SizedRecord(1)).ok());
  ASSERT_TRUE(index->Delete({"bucket", "k"}).ok());
  EXPECT_TRUE(absl::IsNotFound(index->Get({"bucket", "k"}).status()));
  EXPECT_EQ(index->Stats().cells[0].keys, 0u);
}

TEST(IndexTest, InvalidInputIsRefusedAndChangesNothing) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  EXPECT_TRUE(absl::IsInvalidArgument(index->Put({"Bad_Bucket", "k"}, SizedRecord(1)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(index->Put({"bucket", std::string(1025, 'k')}, SizedRecord(1)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(index->Put({"bucket", "\xc3\x28"}, SizedRecord(1)).status()));
  ObjectRecord bad = SizedRecord(1);
  bad.user_metadata = {{"x", std::string(4096, 'y')}};
  EXPECT_TRUE(absl::IsInvalidArgument(index->Put({"bucket", "k"}, bad).status()));
  Precondition both;
  both.if_none_match = true;
  both.if_version_match = 1;
  EXPECT_TRUE(absl::IsInvalidArgument(index->Put({"bucket", "k"}, SizedRecord(1), both).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(index->Get({"b", "k"}).status()));
  IndexStats s = index->Stats();
  EXPECT_EQ(s.cells[0].puts, 0u);
  EXPECT_EQ(s.cells[0].applied_seq, 0u);
  EXPECT_TRUE(absl::IsNotFound(index->Get({"bucket", "k"}).status()));
}

TEST(IndexTest, VersionsGrowOnEveryWriteIncludingRecreate) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<uint64_t> v = index->Put({"bucket", "k"}, SizedRecord(i));
    ASSERT_TRUE(v.ok());
    EXPECT_GT(*v, last);
    last = *v;
  }
  ASSERT_TRUE(index->Delete({"bucket", "k"}).ok());
  absl::StatusOr<uint64_t> v = index->Put({"bucket", "k"}, SizedRecord(9));
  ASSERT_TRUE(v.ok());
  EXPECT_GT(*v, last);
}

TEST(IndexTest, Preconditions) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  Precondition none_match;
  none_match.if_none_match = true;
  absl::StatusOr<uint64_t> v1 = index->Put({"bucket", "k"}, SizedRecord(1), none_match);
  ASSERT_TRUE(v1.ok());
  absl::Status again = index->Put({"bucket", "k"}, SizedRecord(2), none_match).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(again));
  EXPECT_THAT(std::string(again.message()), HasSubstr("exists"));

  Precondition match;
  match.if_version_match = *v1 + 1000;
  EXPECT_TRUE(absl::IsFailedPrecondition(index->Put({"bucket", "k"}, SizedRecord(3), match).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(index->Delete({"bucket", "k"}, match)));
  match.if_version_match = *v1;
  absl::StatusOr<uint64_t> v2 = index->Put({"bucket", "k"}, SizedRecord(4), match);
  ASSERT_TRUE(v2.ok());
  // The old version no longer matches.
  EXPECT_TRUE(absl::IsFailedPrecondition(index->Put({"bucket", "k"}, SizedRecord(5), match).status()));
  EXPECT_EQ(index->Get({"bucket", "k"})->size, 4u);
  // if-version-match on a missing key fails.
  EXPECT_TRUE(absl::IsFailedPrecondition(index->Put({"bucket", "other"}, SizedRecord(1), match).status()));
  match.if_version_match = *v2;
  EXPECT_TRUE(index->Delete({"bucket", "k"}, match).ok());
  EXPECT_EQ(index->Stats().cells[0].precondition_failures, 5u);
}

TEST(IndexTest, RacingIfNoneMatchHasExactlyOneWinner) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  for (int round = 0; round < 20; ++round) {
    const ObjectKey key{"bucket", "race-" + std::to_string(round)};
    std::atomic<int> wins{0}, losses{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, t] {
        Precondition p;
        p.if_none_match = true;
        absl::StatusOr<uint64_t> v = index->Put(key, SizedRecord(t), p);
        if (v.ok()) {
          ++wins;
        } else if (absl::IsFailedPrecondition(v.status())) {
          ++losses;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1) << round;
    EXPECT_EQ(losses.load(), 15) << round;
  }
}

// Compare-and-swap increments: with version preconditions no update is lost.
TEST(IndexTest, VersionPreconditionsHoldUnderConcurrency) {
  testing::ScratchDir dir;
  Options o = SyncIndexOptions(dir);
  o.durability = Durability::kBuffered;
  auto index = OpenIndexOrFail(o);
  const ObjectKey key{"bucket", "counter"};
  ASSERT_TRUE(index->Put(key, SizedRecord(0)).ok());
  constexpr int kThreads = 8, kIncrements = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements;) {
        absl::StatusOr<ObjectRecord> cur = index->Get(key);
        ASSERT_TRUE(cur.ok());
        ObjectRecord next = *cur;
        next.size = cur->size + 1;
        Precondition p;
        p.if_version_match = cur->version;
        absl::StatusOr<uint64_t> v = index->Put(key, next, p);
        if (v.ok()) {
          ++i;
        } else {
          ASSERT_TRUE(absl::IsFailedPrecondition(v.status())) << v.status();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(index->Get(key)->size, static_cast<uint64_t>(kThreads * kIncrements));
}

Options TwoCells(const testing::ScratchDir& dir) {
  Options o = SyncIndexOptions(dir);
  o.cell_boundaries = {EncodeKey({"bucket", "m"})};
  return o;
}

TEST(IndexTest, BatchIsAllOrNothingWithinOneCell) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(TwoCells(dir));
  WriteBatch b;
  b.Put({"bucket", "a"}, SizedRecord(1));
  b.Put({"bucket", "b"}, SizedRecord(2));
  b.Delete({"bucket", "a"});
  b.Put({"bucket", "c"}, SizedRecord(3));
  absl::StatusOr<std::vector<uint64_t>> v = index->Write(b);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 4u);
  EXPECT_EQ((*v)[0], (*v)[1]);  // one batch, one sequence number
  EXPECT_EQ((*v)[2], 0u);
  EXPECT_TRUE(absl::IsNotFound(index->Get({"bucket", "a"}).status()));
  EXPECT_EQ(index->Get({"bucket", "b"})->size, 2u);

  // A failing precondition anywhere applies nothing.
  WriteBatch fails;
  fails.Put({"bucket", "d"}, SizedRecord(4));
  Precondition none_match;
  none_match.if_none_match = true;
  fails.Put({"bucket", "b"}, SizedRecord(5), none_match);
  EXPECT_TRUE(absl::IsFailedPrecondition(index->Write(fails).status()));
  EXPECT_TRUE(absl::IsNotFound(index->Get({"bucket", "d"}).status()));
  EXPECT_EQ(index->Get({"bucket", "b"})->size, 2u);

  WriteBatch spans;
  spans.Put({"bucket", "a"}, SizedRecord(1));
  spans.Put({"bucket", "z"}, SizedRecord(1));
  absl::Status s = index->Write(spans).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("spans cells 0 and 1"));
  EXPECT_TRUE(absl::IsNotFound(index->Get({"bucket", "z"}).status()));
}

TEST(IndexTest, RoutesKeysAroundTheBoundary) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(TwoCells(dir));
  EXPECT_EQ(index->CellFor({"bucket", "l"}), 0u);
  EXPECT_EQ(index->CellFor({"bucket", "lzzzz"}), 0u);
  EXPECT_EQ(index->CellFor({"bucket", "m"}), 1u);
  EXPECT_EQ(index->CellFor({"bucket", "m0"}), 1u);
  EXPECT_EQ(index->CellFor({"abc", "z"}), 0u);
  EXPECT_EQ(index->CellFor({"zzz", "a"}), 1u);
  for (const char* k : {"l", "lzzzz", "m", "m0"}) {
    ASSERT_TRUE(index->Put({"bucket", k}, SizedRecord(1)).ok());
  }
  IndexStats s = index->Stats();
  EXPECT_EQ(s.cells[0].keys, 2u);
  EXPECT_EQ(s.cells[1].keys, 2u);
}

TEST(IndexTest, CellRefusesKeysOutsideItsRange) {
  testing::ScratchDir dir;
  Options o = SyncIndexOptions(dir);
  absl::StatusOr<CellMap> map =
      CellMap::FromBoundaries({EncodeKey({"bucket", "f"}), EncodeKey({"bucket", "p"})});
  ASSERT_TRUE(map.ok());
  CellResources res = MakeCellResources(o);
  auto cell = Cell::Open({"test", map->cells()[1]}, {dir / "db", dir / "journal", dir / "HEAD"},
                         o, res);
  ASSERT_TRUE(cell.ok()) << cell.status();
  CellOp inside{WriteOp::Kind::kPut, EncodeKey({"bucket", "g"}), SizedRecord(1), {}};
  ASSERT_TRUE((*cell)->Write({inside}).ok());
  for (const char* k : {"a", "e", "p", "z"}) {
    CellOp outside{WriteOp::Kind::kPut, EncodeKey({"bucket", k}), SizedRecord(1), {}};
    absl::Status s = (*cell)->Write({outside}).status();
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << k;
    EXPECT_THAT(std::string(s.message()), HasSubstr("outside cell 1")) << k;
    EXPECT_TRUE(absl::IsFailedPrecondition((*cell)->Get(EncodeKey({"bucket", k})).status()));
  }
  EXPECT_EQ((*cell)->Get(EncodeKey({"bucket", "g"}))->size, 1u);
}

TEST(IndexTest, ReopenKeepsEverythingAndTheLayout) {
  testing::ScratchDir dir;
  {
    auto index = OpenIndexOrFail(TwoCells(dir));
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(index->Put({"bucket", "k" + std::to_string(i)}, SizedRecord(i)).ok());
    }
    ASSERT_TRUE(index->Delete({"bucket", "k7"}).ok());
  }
  // No layout in the options: the stored map is used.
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->cell_map().cells().size(), 2u);
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<ObjectRecord> r = index->Get({"bucket", "k" + std::to_string(i)});
    if (i == 7) {
      EXPECT_TRUE(absl::IsNotFound(r.status()));
    } else {
      ASSERT_TRUE(r.ok()) << i;
      EXPECT_EQ(r->size, static_cast<uint64_t>(i));
    }
  }
}

TEST(IndexTest, ReopenWithAnotherLayoutIsRefused) {
  testing::ScratchDir dir;
  { auto index = OpenIndexOrFail(TwoCells(dir)); }
  Options o = SyncIndexOptions(dir);
  o.cell_boundaries = {EncodeKey({"bucket", "q"})};
  absl::Status s = Index::Open(o).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("cell map mismatch"));
  // The same layout again is fine.
  EXPECT_TRUE(Index::Open(TwoCells(dir)).ok());
}

TEST(IndexTest, SecondOpenOfTheSameStoreIsRefused) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  absl::Status s = Index::Open(SyncIndexOptions(dir)).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("in use"));
}

TEST(IndexTest, DerivesBoundariesFromASample) {
  testing::ScratchDir dir;
  Options o = SyncIndexOptions(dir);
  for (int i = 0; i < 400; ++i) o.boundary_sample.push_back({"bucket", "k" + std::to_string(1000 + i)});
  o.num_cells = 4;
  auto index = OpenIndexOrFail(o);
  ASSERT_EQ(index->cell_map().cells().size(), 4u);
  for (const ObjectKey& k : o.boundary_sample) ASSERT_TRUE(index->Put(k, SizedRecord(1)).ok());
  for (const CellStats& c : index->Stats().cells) EXPECT_EQ(c.keys, 100u);
}

// Losing the host-local RocksDB state while the journal survives: the whole
// journal is replayed and every record, location and delete comes back.
TEST(IndexTest, ReplaysTheJournalWhenLocalStateIsGone) {
  testing::ScratchDir dir;
  std::map<std::string, ObjectRecord> expected;
  {
    auto index = OpenIndexOrFail(TwoCells(dir));
    for (int i = 0; i < 300; ++i) {
      const std::string k = "k" + std::to_string(i % 120);
      if (i % 11 == 0 && expected.count(k)) {
        ASSERT_TRUE(index->Delete({"bucket", k}).ok());
        expected.erase(k);
        continue;
      }
      ASSERT_TRUE(index->Put({"bucket", k}, SizedRecord(i)).ok());
      expected[k] = *index->Get({"bucket", k});
    }
  }
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  IndexStats s = index->Stats();
  EXPECT_EQ(s.cells[0].records_replayed + s.cells[1].records_replayed, 300u);
  EXPECT_EQ(s.cells[0].keys + s.cells[1].keys, expected.size());
  for (int i = 0; i < 120; ++i) {
    const std::string k = "k" + std::to_string(i);
    absl::StatusOr<ObjectRecord> r = index->Get({"bucket", k});
    if (expected.count(k)) {
      ASSERT_TRUE(r.ok()) << k;
      EXPECT_EQ(*r, expected[k]) << k;
    } else {
      EXPECT_TRUE(absl::IsNotFound(r.status())) << k;
    }
  }
  // Writes continue with versions above everything replayed.
  absl::StatusOr<uint64_t> v = index->Put({"bucket", "k1"}, SizedRecord(1));
  ASSERT_TRUE(v.ok());
  for (const auto& [k, rec] : expected) EXPECT_GT(*v, rec.version);
}

// A cell state written before applied_seq and count shared one key keeps them
// in two: it opens at that state, without replaying what it already holds.
// A state with records but no state key (a layout this version does not
// write, or damage) cannot be placed in its journal: it is refused and the
// cell comes back from the store, never read as an empty state.
TEST(IndexTest, AStateWithoutItsStateKeyIsRefusedAndRestored) {
  testing::ScratchDir dir;
  std::vector<uint64_t> versions;
  {
    auto index = OpenIndexOrFail(SyncIndexOptions(dir));
    for (int i = 0; i < 20; ++i) {
      absl::StatusOr<uint64_t> v = index->Put({"bucket", "k" + std::to_string(i)}, SizedRecord(i));
      ASSERT_TRUE(v.ok());
      versions.push_back(*v);
    }
    ASSERT_TRUE(index->Delete({"bucket", "k3"}).ok());
    ASSERT_TRUE(index->Checkpoint().ok());
  }
  {
    RawCellDb raw(dir / "data/cells/00000");
    rocksdb::DB* db = raw.db.get();
    std::string state;
    ASSERT_TRUE(db->Get({}, "mstate", &state).ok());
    ASSERT_EQ(state.size(), 16u);
    EXPECT_EQ(DecodeFixed64(state.data()), 21u);      // applied_seq
    EXPECT_EQ(DecodeFixed64(state.data() + 8), 19u);  // count
    ASSERT_TRUE(db->Delete({}, "mstate").ok());
  }
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  ASSERT_NE(index, nullptr);
  const CellStats c = index->Stats().cells[0];
  EXPECT_EQ(c.recovery.source, RecoverySource::kCheckpoint);
  ASSERT_FALSE(c.recovery.fallbacks.empty());
  EXPECT_THAT(c.recovery.fallbacks[0], HasSubstr("state key is missing"));
  EXPECT_EQ(c.applied_seq, 21u);
  EXPECT_EQ(c.keys, 19u);
  EXPECT_TRUE(absl::IsNotFound(index->Get({"bucket", "k3"}).status()));
  EXPECT_EQ(index->Get({"bucket", "k7"})->version, versions[7]);
  ASSERT_TRUE(index->Put({"bucket", "new"}, SizedRecord(1)).ok());
  EXPECT_EQ(index->Stats().cells[0].keys, 20u);
}

// Cells turn RocksDB's perf counters off around their own calls; a caller's
// setting for its thread is left as it was.
TEST(IndexTest, LeavesTheCallersRocksDbPerfLevelAlone) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableTime);
  ASSERT_TRUE(index->Put({"bucket", "a"}, SizedRecord(1)).ok());
  ASSERT_TRUE(index->Get({"bucket", "a"}).ok());
  EXPECT_TRUE(absl::IsNotFound(index->Get({"bucket", "b"}).status()));
  EXPECT_EQ(rocksdb::GetPerfLevel(), rocksdb::PerfLevel::kEnableTime);
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
}

TEST(IndexTest, TornJournalTailIsCutOnReopen) {
  testing::ScratchDir dir;
  {
    auto index = OpenIndexOrFail(SyncIndexOptions(dir));
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(index->Put({"bucket", "k" + std::to_string(i)}, SizedRecord(i)).ok());
  }
  // Local state gone too, so every record must come from the journal.
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  const std::string jdir = dir / "store/cells/00000/journal";
  auto names = ListDir(jdir);
  ASSERT_TRUE(names.ok());
  const std::string seg = jdir + "/" + names->front();
  std::ofstream(seg, std::ios::binary | std::ios::app) << std::string("\x13\x37torn garbage", 14);
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->Stats().cells[0].journal_tail_cut_bytes, 14u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(index->Get({"bucket", "k" + std::to_string(i)})->size, static_cast<uint64_t>(i));
  }
  ASSERT_TRUE(index->Put({"bucket", "after"}, SizedRecord(7)).ok());
}

// The sync thread makes buffered writes durable within its interval, while
// the index stays open. (That they survive a power loss then is shown with
// a fault-injecting file system in power_loss_test.)
TEST(IndexTest, BufferedDurabilitySyncsInTheBackground) {
  testing::ScratchDir dir;
  Options o = SyncIndexOptions(dir);
  o.durability = Durability::kBuffered;
  o.buffered_sync_interval = absl::Milliseconds(5);
  {
    auto index = OpenIndexOrFail(o);
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(index->Put({"bucket", "k" + std::to_string(i)}, SizedRecord(i)).ok());
    EXPECT_LT(index->Stats().cells[0].journal_syncs, 200u);
    ASSERT_TRUE(testing::WaitUntil(
        [&] { return index->Stats().cells[0].journal_synced_seq >= 200; }))
        << "buffered writes never synced";
  }
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  auto index = OpenIndexOrFail(o);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(index->Get({"bucket", "k" + std::to_string(i)})->size, static_cast<uint64_t>(i));
  }
}

TEST(IndexTest, GroupCommitSharesSyncs) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SyncIndexOptions(dir));
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        ASSERT_TRUE(index->Put({"bucket", absl::StrCat("t", t, "-", i)}, SizedRecord(i)).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  CellStats s = index->Stats().cells[0];
  EXPECT_EQ(s.puts, 400u);
  EXPECT_EQ(s.keys, 400u);
  EXPECT_EQ(s.applied_seq, 400u);
  // Every put was synced; most syncs served more than one writer.
  EXPECT_LT(s.journal_syncs, 400u);
}

}  // namespace
}  // namespace cellindex
