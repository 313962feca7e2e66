// Recovery after host loss: restore from checkpoints plus journal tail, with
// fallback to older checkpoints, DataLoss isolated to one cell, and healthy
// cells serving while another recovers.
#include "recovery/cell_recovery.h"

#include <pthread.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "index/index.h"
#include "index/internal_options.h"
#include "recovery/checkpoint.h"
#include "recovery/store/cell_map_file.h"
#include "recovery/store/checkpoint_manifest.h"
#include "recovery/store/durable_store.h"
#include "recovery/store/layout.h"
#include "index/base/file_util.h"
#include "recovery/journal/journal.h"
#include "rocksdb/db.h"
#include "tests/four_cells.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;

using testing::ExpectExactly;
using testing::FourCells;
using testing::Key;
using testing::Populate;
using testing::PopulateFourCells;
using testing::Rec;

TEST(RecoveryTest, RestoresOneLostCellFromItsCheckpointAndJournalTail) {
  testing::ScratchDir dir;
  auto want = PopulateFourCells(dir);
  ASSERT_TRUE(RemoveAll(dir / "data/cells/00001").ok());
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok()) << index.status();
  IndexStats s = (*index)->Stats();
  for (const CellStats& c : s.cells) {
    EXPECT_EQ(c.state, CellPhase::kServing) << c.id;
    EXPECT_EQ(c.recovery.source, c.id == 1 ? RecoverySource::kCheckpoint : RecoverySource::kLocal) << c.id;
  }
  const RecoveryReport& r = s.cells[1].recovery;
  EXPECT_GT(r.bytes_fetched, 0u);
  EXPECT_GT(r.files_fetched, 0u);
  EXPECT_GT(r.records_replayed, 0u);  // the tail after the checkpoint
  EXPECT_TRUE(r.fallbacks.empty());
  ExpectExactly(**index, want);
  // The restored cell takes writes and keeps versions growing.
  absl::StatusOr<uint64_t> v = (*index)->Put({"bucket", "k030"}, Rec(1));
  ASSERT_TRUE(v.ok());
  EXPECT_GT(*v, want["k030"]->version);
}

TEST(RecoveryTest, RestoresEveryCellWhenAllLocalStateIsLost) {
  testing::ScratchDir dir;
  auto want = PopulateFourCells(dir);
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok()) << index.status();
  for (const CellStats& c : (*index)->Stats().cells) {
    EXPECT_EQ(c.recovery.source, RecoverySource::kCheckpoint) << c.id;
  }
  ExpectExactly(**index, want);
}

TEST(RecoveryTest, WithoutACheckpointTheWholeJournalIsReplayed) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want;
  {
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*index)->Put({"bucket", Key(i)}, Rec(i)).ok());
    for (int i = 0; i < 100; ++i) want[Key(i)] = *(*index)->Get({"bucket", Key(i)});
  }
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok());
  for (const CellStats& c : (*index)->Stats().cells) EXPECT_EQ(c.recovery.source, RecoverySource::kJournal);
  ExpectExactly(**index, want);
}

// Flips one byte in the middle of a stored file.
void Damage(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileToString(path);
  ASSERT_TRUE(bytes.ok()) << path;
  ASSERT_FALSE(bytes->empty());
  std::string bad = *bytes;
  bad[bad.size() / 2] ^= 0x40;
  ASSERT_TRUE(AtomicWriteFile(path, bad).ok());
}


// A restore that copies first finds the damaged file by its digest; one in
// place finds it by RocksDB's block checksum when the open reads it (these
// table files are one block), or when its copy lands (in_place_restore_test).
class DamagedCheckpointFileTest : public ::testing::TestWithParam<RestoreMode> {};

TEST_P(DamagedCheckpointFileTest, FallsBackToThePreviousCheckpoint) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want;
  Options o = FourCells(dir);
  o.restore_mode = GetParam();
  {
    auto index = Index::Open(o);
    ASSERT_TRUE(index.ok());
    want = Populate(**index, /*checkpoints=*/2);
  }
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  std::vector<uint64_t> seqs = *ListCheckpoints(*store, 2);
  ASSERT_EQ(seqs.size(), 2u);
  CheckpointManifest newest = *LoadCheckpoint(*store, "", 2, seqs[0]);
  CheckpointManifest older = *LoadCheckpoint(*store, "", 2, seqs[1]);
  // Every table file only the newest has (the records' and the reverse
  // index's): an in-place open reads the records' one.
  for (const CheckpointFile& f : testing::UnsharedSsts(newest, older)) {
    Damage(dir / ("store/" + f.store_name));
  }
  ASSERT_TRUE(RemoveAll(dir / "data").ok());

  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok());
  const CellStats c = (*index)->Stats().cells[2];
  EXPECT_EQ(c.state, CellPhase::kServing);
  EXPECT_EQ(c.recovery.checkpoint_seq, seqs[1]);
  ASSERT_EQ(c.recovery.fallbacks.size(), 1u);
  EXPECT_THAT(c.recovery.fallbacks[0],
              HasSubstr(GetParam() == RestoreMode::kCopy ? "does not match its manifest"
                                                         : "block checksum mismatch"));
  ExpectExactly(**index, want);
}

INSTANTIATE_TEST_SUITE_P(RestoreModes, DamagedCheckpointFileTest,
                         ::testing::Values(RestoreMode::kCopy, RestoreMode::kInPlace),
                         [](const ::testing::TestParamInfo<RestoreMode>& info) {
                           return info.param == RestoreMode::kCopy ? "Copy" : "InPlace";
                         });

TEST(RecoveryTest, DamagedManifestFallsBackToThePreviousCheckpoint) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want;
  {
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok());
    want = Populate(**index, /*checkpoints=*/2);
  }
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  std::vector<uint64_t> seqs = *ListCheckpoints(*store, 0);
  Damage(dir / ("store/" + CheckpointManifestName(0, seqs[0])));
  ASSERT_TRUE(RemoveAll(dir / "data/cells/00000").ok());
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok());
  const CellStats c = (*index)->Stats().cells[0];
  EXPECT_EQ(c.recovery.checkpoint_seq, seqs[1]);
  ASSERT_EQ(c.recovery.fallbacks.size(), 1u);
  EXPECT_THAT(c.recovery.fallbacks[0], HasSubstr("checksum mismatch"));
  ExpectExactly(**index, want);
}

TEST(RecoveryTest, NothingValidLeftIsDataLossForThatCellOnly) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want;
  {
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok());
    want = Populate(**index, /*checkpoints=*/2);
  }
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  const std::vector<uint64_t> seqs = *ListCheckpoints(*store, 3);
  for (uint64_t seq : seqs) {
    Damage(dir / ("store/" + CheckpointManifestName(3, seq)));
  }
  // And the journal's beginning is gone (as after trimming): nothing can
  // rebuild the state the damaged checkpoints held.
  const std::string journal = dir / "store/cells/00003/journal";
  ASSERT_TRUE(RemoveAll(journal + "/" + ListDir(journal)->front()).ok());
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok()) << index.status();
  IndexStats s = (*index)->Stats();
  EXPECT_EQ(s.cells[3].state, CellPhase::kFailed);
  EXPECT_THAT(s.cells[3].error, HasSubstr("no valid state"));
  absl::Status get = (*index)->Get({"bucket", "k080"}).status();
  EXPECT_TRUE(absl::IsDataLoss(get)) << get;
  EXPECT_THAT(std::string(get.message()), HasSubstr("cell 3"));
  EXPECT_TRUE(absl::IsDataLoss((*index)->Put({"bucket", "k090"}, Rec(1)).status()));
  // The other cells serve everything they hold.
  for (const auto& [key, rec] : want) {
    if (key >= "k075") continue;
    absl::StatusOr<ObjectRecord> r = (*index)->Get({"bucket", key});
    if (rec) {
      ASSERT_TRUE(r.ok()) << key;
      EXPECT_EQ(*r, *rec);
    }
  }
}

TEST(RecoveryTest, DamagedJournalSegmentIsNeverReadAsData) {
  testing::ScratchDir dir;
  Options o = FourCells(dir);
  o.journal_segment_bytes = 64 << 10;
  std::map<std::string, std::optional<ObjectRecord>> want;
  {
    auto index = Index::Open(o);
    ASSERT_TRUE(index.ok());
    want = Populate(**index);
    // Enough tail to span several segments in cell 0.
    for (int round = 0; round < 30; ++round) {
      for (int i = 0; i < 25; ++i) {
        ObjectRecord r = Rec(i);
        r.etag = std::string(300, 'x');
        ASSERT_TRUE((*index)->Put({"bucket", Key(i)}, r).ok());
      }
    }
  }
  const std::string journal = dir / "store/cells/00000/journal";
  std::vector<std::string> segments = *ListDir(journal);
  ASSERT_GE(segments.size(), 3u);
  Damage(journal + "/" + segments[segments.size() - 2]);  // not the newest
  ASSERT_TRUE(RemoveAll(dir / "data/cells/00000").ok());
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok());
  IndexStats s = (*index)->Stats();
  EXPECT_EQ(s.cells[0].state, CellPhase::kFailed);
  EXPECT_THAT(s.cells[0].error, HasSubstr("damaged"));
  EXPECT_TRUE(absl::IsDataLoss((*index)->Get({"bucket", "k001"}).status()));
  EXPECT_EQ(s.cells[1].state, CellPhase::kServing);
}

TEST(RecoveryTest, HealthyCellsServeWhileAnotherIsHeldInRecovery) {
  testing::ScratchDir dir;
  {
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok());
    Populate(**index);
  }
  ASSERT_TRUE(RemoveAll(dir / "data/cells/00001").ok());
  absl::Notification reached, release;
  Options o = FourCells(dir);
  o.wait_for_recovery = false;
  InternalOptions in;
  in.recovery_hook = [&](uint32_t cell, RecoveryEvent phase) {
    if (cell == 1 && phase == RecoveryEvent::kVerify) {
      reached.Notify();
      release.WaitForNotification();
    }
  };
  auto index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE(reached.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // Cell 1 is held between fetch and verify.
  absl::Status held = (*index)->Get({"bucket", "k030"}).status();
  EXPECT_TRUE(absl::IsUnavailable(held)) << held;
  EXPECT_THAT(std::string(held.message()), HasSubstr("cell 1"));
  EXPECT_THAT(std::string(held.message()), HasSubstr("verify"));
  // A write refused so says that it applied nothing: it may be sent again.
  const absl::Status refused = (*index)->Put({"bucket", "k031"}, Rec(1)).status();
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_TRUE(WasNotApplied(refused)) << refused;
  EXPECT_FALSE(WasNotApplied(held));  // a read applies nothing anyway: no mark
  EXPECT_EQ((*index)->Stats().cells[1].state, CellPhase::kVerify);
  // Every other cell comes up, and reads and writes.
  ASSERT_TRUE(testing::WaitUntil([&] {
    IndexStats s = (*index)->Stats();
    return s.cells[0].state == CellPhase::kServing && s.cells[2].state == CellPhase::kServing &&
           s.cells[3].state == CellPhase::kServing;
  })) << "the healthy cells never served";
  for (const char* k : {"k000", "k060", "k099"}) {
    ASSERT_TRUE((*index)->Put({"bucket", k}, Rec(7)).ok()) << k;
    EXPECT_EQ((*index)->Get({"bucket", k})->size, 7u) << k;
  }
  release.Notify();
  (*index)->WaitForRecovery();
  EXPECT_TRUE((*index)->Get({"bucket", "k030"}).ok());
  IndexStats s = (*index)->Stats();
  EXPECT_EQ(s.cells[1].state, CellPhase::kServing);
  EXPECT_GT(s.time_to_all_cells, absl::ZeroDuration());
  EXPECT_LE(s.time_to_first_cell, s.time_to_all_cells);
}

// Two checkpoints of cell 1; the newest holds a phantom record written behind
// the index's back, so its files verify, RocksDB opens it and its state key
// (count) matches the manifest, and only the deep scan (records vs count) finds it.
// Returns what every key must read back as, and the checkpoint seqs.
TEST(RecoveryTest, ParanoidValidationRejectsADamagedStateBeforeServing) {
  testing::ScratchDir dir;
  std::vector<uint64_t> seqs;
  std::map<std::string, std::optional<ObjectRecord>> want = testing::PlantPhantomCheckpoint(dir, &seqs);
  Options o = FourCells(dir);
  o.paranoid = true;
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok());
  const CellStats c = (*index)->Stats().cells[1];
  EXPECT_EQ(c.state, CellPhase::kServing);
  EXPECT_EQ(c.recovery.checkpoint_seq, seqs[1]);
  ASSERT_FALSE(c.recovery.fallbacks.empty());
  EXPECT_THAT(c.recovery.fallbacks[0], HasSubstr("failed validation"));
  EXPECT_GT(c.recovery.records_validated, 0u);
  ExpectExactly(**index, want);
}

TEST(RecoveryTest, BackgroundValidationFailureRestoresFromThePreviousCheckpoint) {
  testing::ScratchDir dir;
  std::vector<uint64_t> seqs;
  std::map<std::string, std::optional<ObjectRecord>> want = testing::PlantPhantomCheckpoint(dir, &seqs);
  Options o = FourCells(dir);
  o.validate_after_recovery = true;
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok());
  // The damaged state served first; the deep check takes it out and the
  // previous checkpoint comes back.
  CellStats c;
  ASSERT_TRUE(testing::WaitUntil([&] {
    (*index)->WaitForRecovery();
    c = (*index)->Stats().cells[1];
    return c.validation == ValidationState::kOk && c.recovery.checkpoint_seq == seqs[1];
  })) << "validation " << c.validation << ", checkpoint " << c.recovery.checkpoint_seq;
  EXPECT_EQ(c.validation, ValidationState::kOk);
  EXPECT_EQ(c.recovery.checkpoint_seq, seqs[1]);
  EXPECT_EQ(c.state, CellPhase::kServing);
  ASSERT_FALSE(c.recovery.fallbacks.empty());
  EXPECT_THAT(c.recovery.fallbacks[0], HasSubstr("failed validation"));
  ExpectExactly(**index, want);
}

TEST(RecoveryTest, CellsRecoverInPriorityOrderWithBoundedParallelism) {
  testing::ScratchDir dir;
  {
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok());
    Populate(**index);
  }
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  Options o = FourCells(dir);
  o.recovery_parallelism = 1;
  o.recovery_priority = {3, 1};
  absl::Mutex mu;
  std::vector<uint32_t> order;
  int running = 0, most_running = 0;
  InternalOptions in;
  in.recovery_hook = [&](uint32_t cell, RecoveryEvent phase) {
    absl::MutexLock lock(&mu);
    if (phase == RecoveryEvent::kFetch) {
      order.push_back(cell);
      most_running = std::max(most_running, ++running);
    } else if (phase == RecoveryEvent::kReplay) {
      --running;
    }
  };
  auto index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok());
  absl::MutexLock lock(&mu);
  EXPECT_THAT(order, ::testing::ElementsAre(3u, 1u, 0u, 2u));
  EXPECT_EQ(most_running, 1);
}

// Recoveries and validations run on threads named for what they do (seen in
// top -H, gdb, perf --comm).
TEST(RecoveryTest, RecoveriesAndValidationsRunOnNamedThreads) {
  testing::ScratchDir dir;
  PopulateFourCells(dir);
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  Options o = FourCells(dir);
  o.validate_after_recovery = true;
  absl::Mutex mu;
  std::set<std::string> fetch_threads, validate_threads;
  InternalOptions in;
  in.recovery_hook = [&](uint32_t, RecoveryEvent phase) {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    absl::MutexLock lock(&mu);
    if (phase == RecoveryEvent::kFetch) fetch_threads.insert(name);
    if (phase == RecoveryEvent::kValidate) validate_threads.insert(name);
  };
  auto index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE(testing::WaitUntil([&] {
    for (const CellStats& c : (*index)->Stats().cells) {
      if (c.validation != ValidationState::kOk) return false;
    }
    return true;
  }));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(fetch_threads, std::set<std::string>{"ci-recovery"});
  EXPECT_EQ(validate_threads, std::set<std::string>{"ci-validation"});
}

TEST(RecoveryTest, LosingSeveralHostsAtOnce) {
  testing::ScratchDir dir;
  Options o = FourCells(dir);
  o.host_dirs = {{"h0", dir / "h0"}, {"h1", dir / "h1"}, {"h2", dir / "h2"}};
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok());
  std::map<std::string, std::optional<ObjectRecord>> want = Populate(**index);
  EXPECT_TRUE(absl::IsFailedPrecondition((*index)->LoseHosts({"h0", "h1", "h2"}).status()));
  absl::StatusOr<std::vector<CellId>> moved = (*index)->LoseHosts({"h1", "h2"});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_THAT(*moved, ::testing::ElementsAre(1u, 2u));
  // Lose the survivor's partner right away: h0 is last, so this is refused,
  // and no recovery is disturbed.
  EXPECT_TRUE(absl::IsFailedPrecondition((*index)->LoseHost("h0").status()));
  (*index)->WaitForRecovery();
  for (const CellStats& c : (*index)->Stats().cells) {
    EXPECT_EQ(c.host, "h0");
    EXPECT_EQ(c.state, CellPhase::kServing) << c.error;
  }
  ExpectExactly(**index, want);
}

TEST(RecoveryTest, LosingAHostMovesItsCellsToTheSurvivors) {
  testing::ScratchDir dir;
  Options o = FourCells(dir);
  o.host_dirs = {{"h0", dir / "h0"}, {"h1", dir / "h1"}};
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok());
  std::map<std::string, std::optional<ObjectRecord>> want = Populate(**index);
  const uint64_t epoch = (*index)->Stats().epoch;
  absl::StatusOr<std::vector<CellId>> moved = (*index)->LoseHost("h1");
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_THAT(*moved, ::testing::ElementsAre(1u, 3u));  // round-robin placement
  EXPECT_FALSE(PathExists(dir / "h1"));
  (*index)->WaitForRecovery();
  IndexStats s = (*index)->Stats();
  EXPECT_GT(s.epoch, epoch);
  for (const CellStats& c : s.cells) {
    EXPECT_EQ(c.host, "h0");
    EXPECT_EQ(c.state, CellPhase::kServing);
  }
  EXPECT_EQ(s.cells[1].recovery.source, RecoverySource::kCheckpoint);
  ExpectExactly(**index, want);
  EXPECT_TRUE(absl::IsFailedPrecondition((*index)->LoseHost("h0").status()));
  EXPECT_TRUE(absl::IsInvalidArgument((*index)->LoseHosts({"h0", "h9"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument((*index)->LoseHost("nope").status()));
  // The move is in the stored map: a reopen with only h0 keeps it.
  index->reset();
  o.host_dirs = {{"h0", dir / "h0"}};
  auto reopened = Index::Open(o);
  ASSERT_TRUE(reopened.ok());
  for (const CellStats& c : (*reopened)->Stats().cells) EXPECT_EQ(c.recovery.source, RecoverySource::kLocal);
  ExpectExactly(**reopened, want);
}


// A store that cluster members served is marked: a single-process open is
// refused (both would write its cells) until it says it leaves the cluster,
// which removes the mark; a member is refused while a single-process index
// holds the store.
TEST(ClusterMemberTest, AServedStoreOpensAsOneProcessOnlyWhenItLeavesTheCluster) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = PopulateFourCells(dir);
  const std::string mark = absl::StrCat(dir.path(), "/store/", kClusterMarkFile);
  Options member = FourCells(dir);
  member.data_dir = dir / "host-a";
  member.cell_boundaries.clear();
  member.cluster_member = true;
  member.may_acknowledge = [] { return true; };
  {
    auto a = Index::Open(member);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_TRUE(std::filesystem::exists(mark));
    ASSERT_TRUE((*a)->Adopt(0, 7).ok());
    (*a)->WaitForRecovery();
  }
  auto single = Index::Open(FourCells(dir));
  EXPECT_TRUE(absl::IsFailedPrecondition(single.status())) << single.status();
  EXPECT_THAT(single.status().message(), HasSubstr("served by host processes"));
  EXPECT_TRUE(std::filesystem::exists(mark));
  Options leave = FourCells(dir);
  leave.leave_cluster = true;
  {
    auto left = Index::Open(leave);
    ASSERT_TRUE(left.ok()) << left.status();
    EXPECT_FALSE(std::filesystem::exists(mark));
    ExpectExactly(**left, want);
    // While it holds the store, no member opens it.
    auto b = Index::Open(member);
    EXPECT_TRUE(absl::IsFailedPrecondition(b.status())) << b.status();
    EXPECT_THAT(b.status().message(), HasSubstr("single-process index"));
    EXPECT_FALSE(std::filesystem::exists(mark));
  }
  auto again = Index::Open(FourCells(dir));  // no mark: a plain open
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectExactly(**again, want);
}

// A cluster member of the four-cell store in `data_dir`, whose view of its
// lease is `*lease`: kLeaseHolds, kLeaseLapsed, or kFrozenInAWrite (a write
// frozen between its first check and its journal append: true once, then
// false).
constexpr int kLeaseHolds = 0, kLeaseLapsed = 1, kFrozenInAWrite = 2;
Options MemberOptions(const testing::ScratchDir& dir, const std::string& data_dir,
                      std::atomic<int>* lease) {
  Options o = FourCells(dir);
  o.data_dir = data_dir;
  o.cell_boundaries.clear();
  o.cluster_member = true;
  o.may_acknowledge = [lease] {
    int mode = lease->load();
    if (mode == kFrozenInAWrite) return lease->compare_exchange_strong(mode, kLeaseLapsed);
    return mode == kLeaseHolds;
  };
  return o;
}

// Two index processes sharing one store as cluster members (in one test
// process here; `cellindex host` runs them as processes coordinated through
// etcd, host_test). A member serves only what it adopted; once its lease
// may have lapsed it answers nothing; the next owner restores every
// acknowledged write, and a write the old owner journaled after the new
// owner took the cell is never read by anyone.
TEST(ClusterMemberTest, OwnersTakeCellsInTurnAndALateOwnersWriteIsNeverRead) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = PopulateFourCells(dir);
  std::atomic<int> a_lease{kLeaseHolds};
  Options oa = MemberOptions(dir, dir / "host-a", &a_lease);
  auto a = Index::Open(oa);
  ASSERT_TRUE(a.ok()) << a.status();
  // Nothing is served before it is adopted, and a write says it did nothing.
  absl::Status refused = (*a)->Put({"bucket", Key(2)}, testing::Rec(1)).status();
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("not served by this host"));
  EXPECT_TRUE(WasNotApplied(refused));
  EXPECT_EQ((*a)->SplitCell({}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*a)->Adopt(99, 1).code(), absl::StatusCode::kInvalidArgument);
  const CellMap map = (*a)->cell_map();
  for (const CellRange& c : map.cells()) ASSERT_TRUE((*a)->Adopt(c.id, 10).ok());
  (*a)->WaitForRecovery();
  ExpectExactly(**a, want);
  for (int i = 0; i < 100; i += 5) {
    ASSERT_TRUE((*a)->Put({"bucket", Key(i)}, testing::Rec(1000 + i)).ok());
    want[Key(i)] = *(*a)->Get({"bucket", Key(i)});
  }

  // A's lease may have lapsed: it refuses everything, writes unapplied.
  a_lease = kLeaseLapsed;
  absl::Status fenced = (*a)->Put({"bucket", Key(3)}, testing::Rec(7)).status();
  EXPECT_TRUE(absl::IsUnavailable(fenced)) << fenced;
  EXPECT_TRUE(WasNotApplied(fenced));
  EXPECT_TRUE(absl::IsUnavailable((*a)->Get({"bucket", Key(0)}).status()));
  EXPECT_TRUE(absl::IsUnavailable((*a)->List("bucket").status()));
  EXPECT_TRUE(absl::IsUnavailable((*a)->Checkpoint().status()));
  // Before anyone else has the cell, A wakes inside a checkpoint: it
  // publishes nothing.
  const std::vector<uint64_t> cell0 = *ListCheckpoints(
      *NewLocalDirStore(&DefaultFs(), dir / "store"), map.cells()[0].id);
  a_lease = kFrozenInAWrite;
  absl::Status lapsed = (*a)->Checkpoint(map.cells()[0].id).status();
  EXPECT_TRUE(absl::IsUnavailable(lapsed)) << lapsed;
  EXPECT_THAT(std::string(lapsed.message()), HasSubstr("may no longer own"));
  EXPECT_EQ(*ListCheckpoints(*NewLocalDirStore(&DefaultFs(), dir / "store"), map.cells()[0].id),
            cell0);

  // B takes every cell with a later epoch, from the store.
  Options ob = oa;
  ob.data_dir = dir / "host-b";
  ob.may_acknowledge = nullptr;
  auto b = Index::Open(ob);
  ASSERT_TRUE(b.ok()) << b.status();
  for (const CellRange& c : map.cells()) ASSERT_TRUE((*b)->Adopt(c.id, 20).ok());
  (*b)->WaitForRecovery();
  ExpectExactly(**b, want);

  // A wakes inside a write: it passes the first check, reaches its journal,
  // and is refused at the second, its outcome unknown to the caller.
  a_lease = kFrozenInAWrite;
  absl::Status late = (*a)->Put({"bucket", "late"}, testing::Rec(5)).status();
  EXPECT_TRUE(absl::IsUnavailable(late)) << late;
  EXPECT_FALSE(WasNotApplied(late));
  EXPECT_TRUE(absl::IsNotFound((*b)->Get({"bucket", "late"}).status()));
  // A wakes inside a checkpoint of the cell holding its late write: it sees
  // B's owner fence, publishes no manifest and deletes no file.
  CellId late_cell = 0;
  for (const CellRange& c : map.cells()) {
    if (c.Contains(EncodeKey({"bucket", "late"}))) late_cell = c.id;
  }
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  const std::vector<uint64_t> manifests = *ListCheckpoints(*store, late_cell);
  const std::vector<std::string> files = *store->List(CheckpointFilePrefix(late_cell));
  a_lease = kFrozenInAWrite;
  absl::Status checkpoint = (*a)->Checkpoint(late_cell).status();
  EXPECT_TRUE(absl::IsUnavailable(checkpoint)) << checkpoint;
  EXPECT_THAT(std::string(checkpoint.message()), HasSubstr("owner epoch 20 has taken it"));
  EXPECT_EQ(*ListCheckpoints(*store, late_cell), manifests);
  // (It may have uploaded files of new names, which no manifest names.)
  EXPECT_THAT(*store->List(CheckpointFilePrefix(late_cell)), ::testing::IsSupersetOf(files));
  ASSERT_TRUE((*b)->Put({"bucket", Key(1)}, testing::Rec(4242)).ok());
  want[Key(1)] = *(*b)->Get({"bucket", Key(1)});
  b->reset();
  // A third owner (a restart of B, say) restores B's writes and never A's
  // late one.
  Options oc = ob;
  oc.data_dir = dir / "host-c";
  auto c = Index::Open(oc);
  ASSERT_TRUE(c.ok()) << c.status();
  for (const CellRange& cell : map.cells()) ASSERT_TRUE((*c)->Adopt(cell.id, 30).ok());
  (*c)->WaitForRecovery();
  ExpectExactly(**c, want);
  EXPECT_TRUE(absl::IsNotFound((*c)->Get({"bucket", "late"}).status()));
  for (const CellStats& cell : (*c)->Stats().cells) {
    EXPECT_EQ(cell.state, CellPhase::kServing) << cell.id << ": " << cell.error;
  }
}

// A member splits a cell it serves only through Options::commit_map (in a
// cluster: one etcd transaction). A commit that fails changes nothing: the
// parent serves again, the map is as it was. One that succeeds gives the
// children to this member under the epoch it returned. Another member
// follows the new map (AdoptMap): the parent is retired there, and a child
// adopted there before it has a checkpoint of its own comes back from the
// parent's checkpoint and journal plus its own, with every write.
TEST(ClusterMemberTest, ASplitCommitsThroughTheClusterAndAnotherMemberFollowsTheMap) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = PopulateFourCells(dir);
  std::atomic<int> lease{kLeaseHolds};
  Options oa = MemberOptions(dir, dir / "host-a", &lease);
  absl::Status verdict = absl::AbortedError("the map changed meanwhile");
  std::vector<uint64_t> commits;  // the epochs of the maps it was asked to commit
  oa.commit_map = [&](const CellMap& next) -> absl::StatusOr<uint64_t> {
    commits.push_back(next.epoch());
    if (!verdict.ok()) return verdict;
    return uint64_t{50};
  };
  auto a = Index::Open(oa);
  ASSERT_TRUE(a.ok()) << a.status();
  const CellMap before = (*a)->cell_map();
  const CellId parent = before.cells()[0].id;
  SplitRequest split;
  split.cell = parent;
  split.at = ObjectKey{"bucket", Key(12)};
  // Only a cell served here.
  EXPECT_EQ((*a)->SplitCell(split).status().code(), absl::StatusCode::kFailedPrecondition);
  for (const CellRange& c : before.cells()) ASSERT_TRUE((*a)->Adopt(c.id, 10).ok());
  (*a)->WaitForRecovery();
  auto b = Index::Open(MemberOptions(dir, dir / "host-b", &lease));  // serves nothing yet
  ASSERT_TRUE(b.ok()) << b.status();
  // C will plan a split on this map after A's has committed.
  Options oc = MemberOptions(dir, dir / "host-c", &lease);
  oc.commit_map = [](const CellMap&) -> absl::StatusOr<uint64_t> {
    return absl::AbortedError("the map changed meanwhile");
  };
  auto c = Index::Open(oc);
  ASSERT_TRUE(c.ok()) << c.status();

  absl::Status failed = (*a)->SplitCell(split).status();
  EXPECT_TRUE(absl::IsAborted(failed)) << failed;
  EXPECT_EQ(commits.size(), 1u);
  EXPECT_EQ((*a)->cell_map().Encode(), before.Encode());
  ASSERT_TRUE((*a)->Put({"bucket", Key(5)}, testing::Rec(505)).ok());  // the parent serves
  want[Key(5)] = *(*a)->Get({"bucket", Key(5)});

  verdict = absl::OkStatus();
  absl::StatusOr<SplitReport> report = (*a)->SplitCell(split);
  ASSERT_TRUE(report.ok()) << report.status();
  const CellMap after = (*a)->cell_map();
  EXPECT_EQ(after.epoch(), before.epoch() + 1);
  EXPECT_FALSE(after.IndexOf(parent));
  for (CellId child : {report->left, report->right}) {
    EXPECT_TRUE(std::filesystem::exists(dir.path() + "/store/" + OwnerFenceName(child, 50)))
        << child;
  }
  for (int i : {3, 20}) {
    ASSERT_TRUE((*a)->Put({"bucket", Key(i)}, testing::Rec(900 + i)).ok());
    want[Key(i)] = *(*a)->Get({"bucket", Key(i)});
  }
  // The store's map followed.
  EXPECT_EQ(LoadCellMap(DefaultFs(), dir / "store/CELLMAP")->epoch(), after.epoch());
  // C, on the map before, splits another cell: its children would take the
  // same ids as A's, which serve. Their files are never touched; the split
  // is refused before anything of theirs is deleted.
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  std::map<CellId, std::vector<std::string>> child_files;
  for (CellId child : {report->left, report->right}) {
    child_files[child] = *store->List(CellStorePrefix(child));
  }
  const CellId other = before.cells()[1].id;
  ASSERT_TRUE((*c)->Adopt(other, 40).ok());
  (*c)->WaitForRecovery();
  SplitRequest stale_split;
  stale_split.cell = other;
  absl::Status refused = (*c)->SplitCell(stale_split).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("exists in the store already"));
  for (CellId child : {report->left, report->right}) {
    EXPECT_EQ(*store->List(CellStorePrefix(child)), child_files[child]) << child;
  }
  c->reset();

  // B, opened on the map before, follows the new one.
  EXPECT_TRUE((*b)->AdoptMap(before).ok());  // the map it has: nothing to do
  CellMap foreign;
  EXPECT_EQ((*b)->AdoptMap(foreign).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*b)->AdoptMap(after).ok());
  EXPECT_EQ((*b)->cell_map().Encode(), after.Encode());
  EXPECT_EQ((*b)->AdoptMap(before).code(), absl::StatusCode::kFailedPrecondition);  // older
  EXPECT_EQ((*b)->Adopt(parent, 60).code(), absl::StatusCode::kInvalidArgument);   // retired
  // A dies before its children have checkpoints of their own (the store
  // loses them here): B restores them from the parent's.
  a->reset();
  for (CellId child : {report->left, report->right}) {
    const std::vector<uint64_t> seqs = *ListCheckpoints(*store, child);
    for (uint64_t seq : seqs) ASSERT_TRUE(store->Delete(CheckpointManifestName(child, seq)).ok());
  }
  for (const CellRange& c : after.cells()) ASSERT_TRUE((*b)->Adopt(c.id, 70).ok());
  (*b)->WaitForRecovery();
  ExpectExactly(**b, want);
  for (const CellStats& cell : (*b)->Stats().cells) {
    if (cell.id == report->left || cell.id == report->right) {
      EXPECT_EQ(cell.state, CellPhase::kServing) << cell.id << ": " << cell.error;
    }
  }
  b->reset();

  // Leaving the cluster with a store whose map lags (the split's children
  // served, the store's map is the one before): refused, not served
  // without the children's writes. With the map saved again, it leaves.
  ASSERT_TRUE(SaveCellMap(DefaultFs(), dir / "store/CELLMAP", before).ok());
  Options leave = FourCells(dir);
  leave.cell_boundaries.clear();
  leave.leave_cluster = true;
  auto refused_leave = Index::Open(leave);
  ASSERT_FALSE(refused_leave.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused_leave.status())) << refused_leave.status();
  EXPECT_THAT(std::string(refused_leave.status().message()), HasSubstr("does not know it yet"));
  ASSERT_TRUE(SaveCellMap(DefaultFs(), dir / "store/CELLMAP", after).ok());
  auto left = Index::Open(leave);
  ASSERT_TRUE(left.ok()) << left.status();
  ExpectExactly(**left, want);
}

// Leaving the cluster, a single process does not trust the cells in its
// data directory: a former host that used the directory may have applied a
// write it journaled after it lost the cell (never acknowledged, never read
// from the journal). Every cell is restored from the store, and only then
// does the mark go.
TEST(ClusterMemberTest, LeavingTheClusterRestoresEveryCellFromTheStore) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = PopulateFourCells(dir);
  std::atomic<int> a_lease{kLeaseHolds};
  // The single process's data directory.
  Options oa = MemberOptions(dir, FourCells(dir).data_dir, &a_lease);
  auto a = Index::Open(oa);
  ASSERT_TRUE(a.ok()) << a.status();
  const CellMap map = (*a)->cell_map();
  for (const CellRange& c : map.cells()) ASSERT_TRUE((*a)->Adopt(c.id, 10).ok());
  (*a)->WaitForRecovery();
  a_lease = kLeaseLapsed;
  Options ob = oa;
  ob.data_dir = dir / "host-b";
  ob.may_acknowledge = nullptr;
  auto b = Index::Open(ob);
  ASSERT_TRUE(b.ok()) << b.status();
  for (const CellRange& c : map.cells()) ASSERT_TRUE((*b)->Adopt(c.id, 20).ok());
  (*b)->WaitForRecovery();
  // A applies a write it may not acknowledge; B acknowledges one in the
  // same cell, at the same seq.
  a_lease = kFrozenInAWrite;
  absl::Status late = (*a)->Put({"bucket", "late-1"}, Rec(5)).status();
  EXPECT_TRUE(absl::IsUnavailable(late)) << late;
  EXPECT_FALSE(WasNotApplied(late));
  ASSERT_TRUE((*b)->Put({"bucket", "later"}, Rec(21)).ok());
  want["later"] = *(*b)->Get({"bucket", "later"});
  want["late-1"] = std::nullopt;
  a->reset();
  b->reset();

  const std::string mark = absl::StrCat(dir.path(), "/store/", kClusterMarkFile);
  ASSERT_TRUE(std::filesystem::exists(mark));
  Options leave = FourCells(dir);
  leave.leave_cluster = true;
  leave.wait_for_recovery = false;  // leaving waits all the same
  leave.validate_after_recovery = true;  // (the mark goes once all serve, validated or not)
  {
    auto single = Index::Open(leave);
    ASSERT_TRUE(single.ok()) << single.status();
    for (const CellStats& c : (*single)->Stats().cells) {
      EXPECT_EQ(c.state, CellPhase::kServing) << c.id << ": " << c.error;
      EXPECT_NE(c.recovery.source, RecoverySource::kLocal) << c.id;
    }
    ExpectExactly(**single, want);
    EXPECT_FALSE(std::filesystem::exists(mark));
  }
  // From then on its directory is its own.
  auto again = Index::Open(FourCells(dir));
  ASSERT_TRUE(again.ok()) << again.status();
  for (const CellStats& c : (*again)->Stats().cells) {
    EXPECT_EQ(c.recovery.source, RecoverySource::kLocal) << c.id;
  }
  ExpectExactly(**again, want);
}

// A damaged owner fence is kept (evidence) and read from the journal
// instead while the journal still holds that owner's first segment: the
// earlier owner's checkpoint stays restorable.
TEST(ClusterMemberTest, ADamagedOwnerFenceIsReadFromTheJournal) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = PopulateFourCells(dir);
  std::atomic<int> lease{kLeaseHolds};
  const CellId cell = 1;
  uint64_t a_seq = 0;
  {
    auto a = Index::Open(MemberOptions(dir, dir / "host-a", &lease));
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE((*a)->Adopt(cell, 10).ok());
    (*a)->WaitForRecovery();
    ASSERT_TRUE((*a)->Put({"bucket", Key(30)}, Rec(3030)).ok());
    want[Key(30)] = *(*a)->Get({"bucket", Key(30)});
    absl::StatusOr<std::vector<CheckpointReport>> r = (*a)->Checkpoint(cell);
    ASSERT_TRUE(r.ok()) << r.status();
    a_seq = r->front().applied_seq;
  }
  {
    auto b = Index::Open(MemberOptions(dir, dir / "host-b", &lease));
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE((*b)->Adopt(cell, 20).ok());
    (*b)->WaitForRecovery();
    ASSERT_TRUE((*b)->Put({"bucket", Key(31)}, Rec(3131)).ok());
    want[Key(31)] = *(*b)->Get({"bucket", Key(31)});
  }
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  const std::string fence = OwnerFenceName(cell, 20);
  std::string bytes = *store->Get(fence);
  bytes[bytes.size() / 2] ^= 0x20;
  ASSERT_TRUE(store->Put(fence, bytes).ok());
  const std::string index_id = (*LoadCheckpoint(*store, "", cell, a_seq)).index_id;
  EXPECT_TRUE(absl::IsDataLoss((*LoadOwnerFences(*store, index_id, cell)).at(20).status()));

  auto c = Index::Open(MemberOptions(dir, dir / "host-c", &lease));
  ASSERT_TRUE(c.ok()) << c.status();
  const CellMap map = (*c)->cell_map();
  for (const CellRange& r : map.cells()) ASSERT_TRUE((*c)->Adopt(r.id, 30).ok());
  (*c)->WaitForRecovery();
  const CellStats stats = (*c)->Stats().cells[map.IndexOf(cell).value()];
  EXPECT_EQ(stats.state, CellPhase::kServing) << stats.error;
  EXPECT_EQ(stats.recovery.source, RecoverySource::kCheckpoint);
  EXPECT_EQ(stats.recovery.checkpoint_seq, a_seq);
  for (const std::string& f : stats.recovery.fallbacks) {
    EXPECT_THAT(f, ::testing::Not(HasSubstr("cannot be read"))) << f;
  }
  ExpectExactly(**c, want);
  EXPECT_EQ(*store->Get(fence), bytes);  // kept as it was
}

// A checkpoint an old owner publishes after a later owner took the cell (it
// passed its last check, froze, woke up and published) holds writes nobody
// acknowledged, at seqs the later owner used for its own writes. No restore
// reads it: the later owner's fence (written before it served) marks it a
// late owner's; it is kept as evidence; and the old owner publishes nothing
// once it sees that fence.
TEST(ClusterMemberTest, ALateOwnersCheckpointIsKeptButNeverRestored) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want = PopulateFourCells(dir);
  std::atomic<int> a_lease{kLeaseHolds};
  Options oa = MemberOptions(dir, dir / "host-a", &a_lease);
  auto a = Index::Open(oa);
  ASSERT_TRUE(a.ok()) << a.status();
  const CellMap map = (*a)->cell_map();
  for (const CellRange& c : map.cells()) ASSERT_TRUE((*a)->Adopt(c.id, 10).ok());
  (*a)->WaitForRecovery();
  CellId late_cell = 0;
  for (const CellRange& c : map.cells()) {
    if (c.Contains(EncodeKey({"bucket", "late-1"}))) late_cell = c.id;
  }
  ASSERT_TRUE(map.cells()[map.IndexOf(late_cell).value()].Contains(EncodeKey({"bucket", "later"})));
  ASSERT_TRUE((*a)->Put({"bucket", "acked-by-a"}, Rec(11)).ok());
  want["acked-by-a"] = *(*a)->Get({"bucket", "acked-by-a"});

  // A's lease lapses; B takes every cell with a later epoch.
  a_lease = kLeaseLapsed;
  Options ob = oa;
  ob.data_dir = dir / "host-b";
  ob.may_acknowledge = nullptr;
  auto b = Index::Open(ob);
  ASSERT_TRUE(b.ok()) << b.status();
  for (const CellRange& c : map.cells()) ASSERT_TRUE((*b)->Adopt(c.id, 20).ok());
  (*b)->WaitForRecovery();
  ExpectExactly(**b, want);
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  const std::string b_fence = absl::StrCat(dir.path(), "/store/", OwnerFenceName(late_cell, 20));
  ASSERT_TRUE(std::filesystem::exists(b_fence));

  // A wakes inside two writes: journaled and applied in its own state, never
  // acknowledged. B acknowledges one write in the same cell, at the seq A
  // used for its first.
  for (const char* key : {"late-1", "late-2"}) {
    a_lease = kFrozenInAWrite;
    absl::Status late = (*a)->Put({"bucket", key}, Rec(5)).status();
    EXPECT_TRUE(absl::IsUnavailable(late)) << late;
    EXPECT_FALSE(WasNotApplied(late));
  }
  ASSERT_TRUE((*b)->Put({"bucket", "later"}, Rec(21)).ok());
  want["later"] = *(*b)->Get({"bucket", "later"});
  want["late-1"] = std::nullopt;
  want["late-2"] = std::nullopt;

  // A, sure of its lease, checkpoints: it sees B's fence and publishes
  // nothing.
  const std::vector<uint64_t> before = *ListCheckpoints(*store, late_cell);
  a_lease = kLeaseHolds;
  absl::Status refused = (*a)->Checkpoint(late_cell).status();
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("owner epoch 20 has taken it"));
  EXPECT_EQ(*ListCheckpoints(*store, late_cell), before);
  // A checked before B's fence existed and froze until now: it publishes.
  // (Hiding the fence while it checks stands for that ordering.)
  std::filesystem::rename(b_fence, b_fence + ".hidden");
  absl::StatusOr<std::vector<CheckpointReport>> late_checkpoint = (*a)->Checkpoint(late_cell);
  std::filesystem::rename(b_fence + ".hidden", b_fence);
  a_lease = kLeaseLapsed;
  ASSERT_TRUE(late_checkpoint.ok()) << late_checkpoint.status();
  ASSERT_EQ(late_checkpoint->size(), 1u);
  const uint64_t late_seq = late_checkpoint->front().applied_seq;
  absl::StatusOr<CheckpointManifest> phantom = LoadCheckpoint(*store, "", late_cell, late_seq);
  ASSERT_TRUE(phantom.ok()) << phantom.status();
  EXPECT_EQ(phantom->owner_epoch, 10u);
  absl::StatusOr<OwnerFences> fences = LoadOwnerFences(*store, phantom->index_id, late_cell);
  ASSERT_TRUE(fences.ok()) << fences.status();
  ASSERT_TRUE(fences->count(20));
  EXPECT_EQ(late_seq, fences->at(20)->fence_seq + 2);  // A's two late writes
  absl::Status check = CheckOwnerFence(*fences, *phantom);
  EXPECT_TRUE(absl::IsDataLoss(check)) << check;
  EXPECT_THAT(std::string(check.message()), HasSubstr("late owner's checkpoint"));
  a->reset();

  b->reset();

  // C restores without A's late state: B's write is there, A's late ones
  // are not (the late manifest is the newest, and past where B's journal
  // ends: it is neither restored from nor required to be reached).
  Options oc = ob;
  oc.data_dir = dir / "host-c";
  auto c = Index::Open(oc);
  ASSERT_TRUE(c.ok()) << c.status();
  for (const CellRange& cell : map.cells()) ASSERT_TRUE((*c)->Adopt(cell.id, 30).ok());
  (*c)->WaitForRecovery();
  for (const CellStats& cell : (*c)->Stats().cells) {
    EXPECT_EQ(cell.state, CellPhase::kServing) << cell.id << ": " << cell.error;
  }
  ExpectExactly(**c, want);
  const CellStats late_stats = (*c)->Stats().cells[map.IndexOf(late_cell).value()];
  EXPECT_EQ(late_stats.recovery.source, RecoverySource::kCheckpoint);
  EXPECT_LT(late_stats.recovery.checkpoint_seq, late_seq);
  EXPECT_THAT(late_stats.recovery.fallbacks,
              ::testing::Contains(HasSubstr("late owner's checkpoint")));
  // C's checkpoints pass the late one by; when C's own state reaches its
  // seq, it is moved aside, and kept with its files.
  const std::string late_bytes = *store->Get(CheckpointManifestName(late_cell, late_seq));
  bool took_its_name = false;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE((*c)->Put({"bucket", "later"}, Rec(31 + i)).ok());
    absl::StatusOr<std::vector<CheckpointReport>> r = (*c)->Checkpoint(late_cell);
    ASSERT_TRUE(r.ok()) << r.status();
    took_its_name |= r->front().applied_seq == late_seq;
  }
  ASSERT_TRUE(took_its_name);
  want["later"] = *(*c)->Get({"bucket", "later"});
  EXPECT_EQ(*store->Get(LateManifestName(late_cell, late_seq, 10)), late_bytes);
  absl::StatusOr<CheckpointManifest> kept = CheckpointManifest::Decode(late_bytes);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(CheckCheckpointFiles(*store, *kept).ok());
  absl::StatusOr<CheckpointManifest> own = LoadCheckpoint(*store, "", late_cell, late_seq);
  if (own.ok()) EXPECT_EQ(own->owner_epoch, 30u);  // (unless retention removed it)
  c->reset();
  Options od = oc;
  od.data_dir = dir / "host-d";
  auto d = Index::Open(od);
  ASSERT_TRUE(d.ok()) << d.status();
  for (const CellRange& cell : map.cells()) ASSERT_TRUE((*d)->Adopt(cell.id, 40).ok());
  (*d)->WaitForRecovery();
  ExpectExactly(**d, want);
}

}  // namespace
}  // namespace cellindex
