// Integrity under damage, as an adversary would try it: each test plants one
// fault the review found (foreign local state, a local file damaged after it
// was written, damaged manifests, a restore from an older checkpoint, a state
// not yet validated, racing recoveries, failing syscalls) and checks that
// the index detects it, falls back or refuses, and never serves a wrong
// answer.
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
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "index/index.h"
#include "index/internal_options.h"
#include "recovery/checkpoint.h"
#include "recovery/store/checkpoint_manifest.h"
#include "recovery/store/durable_store.h"
#include "tests/fault_injection_fs.h"
#include "tests/four_cells.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;
using testing::ExpectExactly;
using testing::FourCells;
using testing::Populate;
using testing::PopulateFourCells;
using testing::RawCellDb;
using testing::Rec;

namespace fs = std::filesystem;

// The paths of the files in `dir` whose names end with `suffix`, largest first.
std::vector<std::string> FilesEndingWith(const std::string& dir, const std::string& suffix) {
  std::vector<std::pair<uintmax_t, std::string>> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (absl::EndsWith(e.path().string(), suffix)) found.emplace_back(e.file_size(), e.path());
  }
  std::sort(found.rbegin(), found.rend());
  std::vector<std::string> out;
  for (auto& [size, path] : found) out.push_back(path);
  return out;
}

// Flips one byte of the file in place, as bit rot would (same inode).
void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  ASSERT_TRUE(f.get(c)) << path << " has no byte " << offset;
  c ^= 0x5a;
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(c);
  f.flush();
  ASSERT_TRUE(f.good()) << path;
}

std::vector<std::string> DamagedDirs(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (absl::StrContains(e.path().filename().string(), ".damaged-")) out.push_back(e.path());
  }
  return out;
}

std::string Fallbacks(const CellStats& c) { return absl::StrJoin(c.recovery.fallbacks, " | "); }

TEST(IntegrityTest, SwappedLocalStateIsRefusedAndRestoredFromTheStore) {
  testing::ScratchDir dir;
  auto want = PopulateFourCells(dir);
  const std::string cells = dir / "data/cells";
  fs::rename(cells + "/00000", cells + "/t");
  fs::rename(cells + "/00001", cells + "/00000");
  fs::rename(cells + "/t", cells + "/00001");
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok()) << index.status();
  ExpectExactly(**index, want);
  const IndexStats s = (*index)->Stats();
  for (int c : {0, 1}) {
    EXPECT_EQ(s.cells[c].state, CellPhase::kServing);
    EXPECT_EQ(s.cells[c].recovery.source, RecoverySource::kCheckpoint) << c;
    EXPECT_THAT(Fallbacks(s.cells[c]), HasSubstr("the local state belongs to cell " +
                                                 std::to_string(1 - c)));
  }
  EXPECT_EQ(s.cells[2].recovery.source, RecoverySource::kLocal);
  EXPECT_EQ(DamagedDirs(cells).size(), 2u);  // kept, not deleted
}

TEST(IntegrityTest, LocalStateOfAnotherIndexIsRefused) {
  testing::ScratchDir dir, other;
  auto want = PopulateFourCells(dir);
  {
    auto index = Index::Open(FourCells(other));  // same layout, another index
    ASSERT_TRUE(index.ok());
    Populate(**index);
    ASSERT_TRUE((*index)->Put({"bucket", "k040"}, Rec(999)).ok());
  }
  ASSERT_TRUE(RemoveAll(dir / "data/cells/00001").ok());
  fs::copy(other / "data/cells/00001", dir / "data/cells/00001");
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok()) << index.status();
  ExpectExactly(**index, want);
  EXPECT_THAT(Fallbacks((*index)->Stats().cells[1]), HasSubstr("of index"));
}

// A state written by an older cellindex (format 1: one column family, the
// reverse index beside the records) is refused before anything is written
// to it: the cell fails with FailedPrecondition naming the format, the state
// stays as it was (no family added, nothing moved aside), and the other
// cells serve.
TEST(IntegrityTest, ALocalStateOfTheOlderFormatIsRefusedAndLeftAsItWas) {
  testing::ScratchDir dir;
  auto want = PopulateFourCells(dir);
  const std::string cell_dir = dir / "data/cells/00001";
  {
    // Format 1, as the older version wrote it: cell 1's entries, all in one
    // family, with the identity's format byte 1.
    std::vector<std::pair<std::string, std::string>> entries;
    {
      RawCellDb raw(cell_dir);
      for (rocksdb::ColumnFamilyHandle* f : {raw.db->DefaultColumnFamily(), raw.locations.get()}) {
        std::unique_ptr<rocksdb::Iterator> it(raw.db->NewIterator({}, f));
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          entries.emplace_back(it->key().ToString(), it->value().ToString());
        }
      }
    }
    ASSERT_TRUE(RemoveAll(cell_dir).ok());
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, cell_dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (auto [k, v] : entries) {
      if (k == "midentity") v[0] = 1;
      ASSERT_TRUE(db->Put({}, k, v).ok());
    }
  }
  // Every file of the state but RocksDB's info log, by digest.
  auto files = [&] {
    std::map<std::string, FileDigest> digests;
    const absl::StatusOr<std::vector<std::string>> names = ListDir(cell_dir);
    EXPECT_TRUE(names.ok()) << names.status();
    for (const std::string& name : names.value_or(std::vector<std::string>{})) {
      if (name.rfind("LOG", 0) != 0) digests[name] = *DigestFile(cell_dir + "/" + name);
    }
    return digests;
  };
  const std::map<std::string, FileDigest> before = files();
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok()) << index.status();
  const CellStats c = (*index)->Stats().cells[1];
  EXPECT_EQ(c.state, CellPhase::kFailed);
  EXPECT_THAT(c.error, HasSubstr("format 1"));
  absl::StatusOr<ObjectRecord> got = (*index)->Get({"bucket", "k030"});
  EXPECT_TRUE(absl::IsFailedPrecondition(got.status())) << got.status();
  for (const auto& [key, value] : want) {
    if ((*index)->CellFor({"bucket", key}) == 1) continue;
    absl::StatusOr<ObjectRecord> r = (*index)->Get({"bucket", key});
    EXPECT_EQ(r.ok(), value.has_value()) << key << ": " << r.status();
  }
  index->reset();
  EXPECT_EQ(files(), before);  // not a byte changed
  EXPECT_TRUE(DamagedDirs(dir / "data/cells").empty());
}

// A state whose default family is empty but whose reverse index is not is
// not a new state: it carries no identity, is refused as damage, and the cell
// is restored from the store (it is never given an identity and served).
TEST(IntegrityTest, AStateWithOnlyAReverseIndexIsDamageNotANewState) {
  testing::ScratchDir dir;
  auto want = PopulateFourCells(dir);
  {
    RawCellDb raw(dir / "data/cells/00001");
    ASSERT_TRUE(raw.db->DeleteRange({}, raw.db->DefaultColumnFamily(), "", "\xff").ok());
    std::unique_ptr<rocksdb::Iterator> it(raw.db->NewIterator({}, raw.locations.get()));
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());  // the reverse index is still there
  }
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok()) << index.status();
  ExpectExactly(**index, want);
  const CellStats c = (*index)->Stats().cells[1];
  EXPECT_EQ(c.recovery.source, RecoverySource::kCheckpoint);
  EXPECT_THAT(Fallbacks(c), HasSubstr("carries no identity"));
}

// An identity key naming format 1 in a state that has the locations family
// is damage (no version wrote that): refused, kept, and the cell restored
// from the store.
TEST(IntegrityTest, AnIdentityOfAnOlderFormatIsDamageAndRestoredFromTheStore) {
  testing::ScratchDir dir;
  auto want = PopulateFourCells(dir);
  {
    RawCellDb raw(dir / "data/cells/00001");
    std::string identity;
    ASSERT_TRUE(raw.db->Get({}, "midentity", &identity).ok());
    ASSERT_FALSE(identity.empty());
    identity[0] = 1;  // the format byte
    ASSERT_TRUE(raw.db->Put({}, "midentity", identity).ok());
  }
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok()) << index.status();
  ExpectExactly(**index, want);
  const CellStats c = (*index)->Stats().cells[1];
  EXPECT_EQ(c.recovery.source, RecoverySource::kCheckpoint);
  EXPECT_THAT(Fallbacks(c), HasSubstr("the state is in format 1, written by an older cellindex"));
  EXPECT_EQ(DamagedDirs(dir / "data/cells").size(), 1u);  // kept, not deleted
}

// A bit flip in a local SST after RocksDB wrote it: the background check of
// every file's checksum finds it, the cell is restored from the store, and
// every read is right.
TEST(IntegrityTest, ALocalFileDamagedAfterItWasWrittenIsFoundAndRepaired) {
  testing::ScratchDir dir;
  auto want = PopulateFourCells(dir);
  const std::vector<std::string> ssts = FilesEndingWith(dir / "data/cells/00001", ".sst");
  ASSERT_FALSE(ssts.empty());
  FlipByte(ssts[0], 100);
  Options o = FourCells(dir);
  o.validate_after_recovery = true;
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE(testing::WaitUntil([&] {
    const CellStats c = (*index)->Stats().cells[1];
    return c.state == CellPhase::kServing && c.validation == ValidationState::kOk && c.recovery.source == RecoverySource::kCheckpoint;
  })) << Fallbacks((*index)->Stats().cells[1]);
  ExpectExactly(**index, want);
  EXPECT_THAT(Fallbacks((*index)->Stats().cells[1]), HasSubstr("checksum"));
  EXPECT_EQ(DamagedDirs(dir / "data/cells").size(), 1u);
}

// A reverse-index entry gone while its record stays (no damaged bytes: what
// a bug in a flush or a replay would leave) fails the deep validation, and
// the cell is restored from the store; Locate finds every object again.
TEST(IntegrityTest, AMissingReverseIndexEntryFailsValidationAndTheCellIsRestored) {
  testing::ScratchDir dir;
  auto want = PopulateFourCells(dir);
  auto locate_all = [](Index& index) {
    std::set<std::string> keys;
    LocateOptions lo;
    lo.volume = "vol-1";
    do {
      absl::StatusOr<LocateResult> r = index.Locate(lo);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      for (const LocatedObject& o : r->objects) keys.insert(o.key.key);
      lo.continuation_token = r->next_continuation_token;
    } while (!lo.continuation_token.empty());
    return keys;
  };
  std::set<std::string> located;
  {
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok());
    located = locate_all(**index);
  }
  ASSERT_EQ(located.count("k030"), 1u);
  {
    RawCellDb raw(dir / "data/cells/00001");
    const std::string entry = absl::StrCat("vvol-1", std::string(1, '\0'),
                                           EncodeKey({"bucket", "k030"}));
    std::string v;
    ASSERT_TRUE(raw.db->Get({}, raw.locations.get(), entry, &v).ok());
    ASSERT_TRUE(raw.db->Delete({}, raw.locations.get(), entry).ok());
  }
  Options o = FourCells(dir);
  o.validate_after_recovery = true;
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE(testing::WaitUntil([&] {
    const CellStats c = (*index)->Stats().cells[1];
    return c.state == CellPhase::kServing && c.validation == ValidationState::kOk &&
           c.recovery.source == RecoverySource::kCheckpoint;
  })) << Fallbacks((*index)->Stats().cells[1]);
  EXPECT_THAT(Fallbacks((*index)->Stats().cells[1]), HasSubstr("the reverse index holds"));
  EXPECT_EQ(locate_all(**index), located);
  ExpectExactly(**index, want);
}

// The same without the background check (as the CLI runs): the first read
// of the damaged block is DataLoss, never a wrong answer; the read takes the
// cell out of service, it is restored, and reads are right again.
TEST(IntegrityTest, ADamagedBlockReadIsDataLossThenTheCellIsRestored) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want;
  {
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok());
    want = Populate(**index);
    // Enough records in cell 1 for many blocks, so opening the cell does not
    // read the one damaged below.
    for (int i = 0; i < 4000; ++i) {
      const std::string key = absl::StrFormat("k030-%05d", i);
      ASSERT_TRUE((*index)->Put({"bucket", key}, Rec(10 + i)).ok());
      want[key] = *(*index)->Get({"bucket", key});
    }
    ASSERT_TRUE((*index)->Checkpoint().ok());
  }
  const std::vector<std::string> ssts = FilesEndingWith(dir / "data/cells/00001", ".sst");
  ASSERT_FALSE(ssts.empty());
  FlipByte(ssts[0], *FileSize(DefaultFs(), ssts[0]) / 2);
  auto index = Index::Open(FourCells(dir));  // no background validation
  ASSERT_TRUE(index.ok()) << index.status();
  absl::Status first;
  for (const auto& [key, rec] : want) {
    if (key < "k025" || key >= "k050" || !rec.has_value()) continue;
    absl::StatusOr<ObjectRecord> r = (*index)->Get({"bucket", key});
    if (r.ok()) {
      EXPECT_EQ(EncodeRecord(*r), EncodeRecord(*rec)) << key;
    } else {
      first = r.status();
      break;
    }
  }
  ASSERT_TRUE(absl::IsDataLoss(first) || absl::IsUnavailable(first)) << first;
  (*index)->WaitForRecovery();
  ExpectExactly(**index, want);
  const CellStats c = (*index)->Stats().cells[1];
  EXPECT_EQ(c.recovery.source, RecoverySource::kCheckpoint);
  EXPECT_THAT(Fallbacks(c), HasSubstr("damaged while serving"));
}

// A local SST damaged after it was written, before it reached the store: the
// checkpoint that would upload it checks it against the checksum RocksDB
// recorded, refuses, and the cell is restored; no manifest names bad bytes.
TEST(IntegrityTest, ACheckpointNeverPublishesALocalFileDamagedSinceItWasWritten) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want;
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok());
  want = Populate(**index);
  // New SSTs that the store does not have yet: writes until a flush.
  const uint64_t flushed = (*index)->Stats().cells[1].sst_bytes;
  for (int i = 0; (*index)->Stats().cells[1].sst_bytes == flushed; ++i) {
    ObjectRecord r = Rec(1000 + i);
    r.etag = std::string(500, 'x');
    const std::string key = absl::StrFormat("k03%d-%06d", i % 10, i);
    ASSERT_TRUE((*index)->Put({"bucket", key}, r).ok());
    want[key] = *(*index)->Get({"bucket", key});
    ASSERT_LT(i, 100000) << "no flush";
  }
  // The newest file is the one no checkpoint holds.
  std::vector<std::string> ssts = FilesEndingWith(dir / "data/cells/00001", ".sst");
  std::sort(ssts.begin(), ssts.end());
  FlipByte(ssts.back(), 200);
  absl::StatusOr<std::vector<CheckpointReport>> r = (*index)->Checkpoint(1);
  ASSERT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("recorded when it wrote it"));
  (*index)->WaitForRecovery();
  ExpectExactly(**index, want);
  // Every file every manifest names is in the store as its manifest says.
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  const std::vector<uint64_t> seqs = *ListCheckpoints(*store, 1);
  for (uint64_t seq : seqs) {
    absl::StatusOr<CheckpointManifest> m = LoadCheckpoint(*store, "", 1, seq);
    ASSERT_TRUE(m.ok()) << m.status();
    for (const CheckpointFile& f : m->files) {
      EXPECT_EQ(*DigestFile(dir / ("store/" + f.store_name)), f.digest) << f.store_name;
    }
  }
}

// Damaged manifests do not count as kept: the last valid older checkpoint
// stays, and the damaged one is moved aside, not deleted.
TEST(IntegrityTest, RetentionKeepsOnlyCheckpointsThatVerify) {
  testing::ScratchDir dir;
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok());
  Populate(**index, /*checkpoints=*/2);
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  std::vector<uint64_t> seqs = *ListCheckpoints(*store, 1);
  ASSERT_EQ(seqs.size(), 2u);
  FlipByte(dir / ("store/" + CheckpointManifestName(1, seqs[0])), 10);
  ASSERT_TRUE((*index)->Put({"bucket", "k030"}, Rec(5)).ok());
  absl::StatusOr<std::vector<CheckpointReport>> r = (*index)->Checkpoint(1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].checkpoints_damaged, 1u);
  std::vector<uint64_t> now = *ListCheckpoints(*store, 1);
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[1], seqs[1]);  // the older valid one is still there
  EXPECT_TRUE(LoadCheckpoint(*store, "", 1, seqs[1]).ok());
  EXPECT_TRUE(store->Exists(DamagedManifestName(1, seqs[0])));
}

// A restore that falls back to an older checkpoint writes files whose
// numbers the newer history used (both histories after the older checkpoint
// start by restoring it, so RocksDB hands out the same SST numbers in both);
// the store names them so that nothing a kept manifest names is ever
// overwritten.
TEST(IntegrityTest, ARestoreFromAnOlderCheckpointNeverOverwritesANewerOnesFiles) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want;
  {
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok());
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE((*index)->Put({"bucket", testing::Key(i)}, Rec(i + 1)).ok());
      want[testing::Key(i)] = *(*index)->Get({"bucket", testing::Key(i)});
    }
    ASSERT_TRUE((*index)->Checkpoint().ok());  // the older checkpoint
  }
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  const uint64_t older_seq = (*ListCheckpoints(*store, 1))[0];
  auto history = [&](int base) {
    ASSERT_TRUE(RemoveAll(dir / "data").ok());
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok()) << index.status();
    EXPECT_EQ((*index)->Stats().cells[1].recovery.checkpoint_seq, older_seq);
    for (int i = 25; i < 50; ++i) {
      ASSERT_TRUE((*index)->Put({"bucket", testing::Key(i)}, Rec(base + i)).ok());
      want[testing::Key(i)] = *(*index)->Get({"bucket", testing::Key(i)});
    }
    ASSERT_TRUE((*index)->Checkpoint(1).ok());
  };
  history(1000);  // the newer checkpoint
  const std::vector<uint64_t> seqs = *ListCheckpoints(*store, 1);
  ASSERT_EQ(seqs.size(), 2u);
  const CheckpointManifest newest = *LoadCheckpoint(*store, "", 1, seqs[0]);
  const CheckpointManifest older = *LoadCheckpoint(*store, "", 1, seqs[1]);
  // The SSTs of the newer checkpoint only (one per column family), all
  // damaged: the one with the records fails the restore's first read.
  std::set<std::string> damaged_db_names;
  for (const CheckpointFile& f : testing::UnsharedSsts(newest, older)) {
    FlipByte(dir / ("store/" + f.store_name), 50);
    damaged_db_names.insert(f.db_name);
  }
  ASSERT_FALSE(damaged_db_names.empty());
  std::map<std::string, FileDigest> before;  // every file a manifest names
  for (uint64_t seq : seqs) {
    const CheckpointManifest m = *LoadCheckpoint(*store, "", 1, seq);
    for (const CheckpointFile& f : m.files) {
      before[f.store_name] = *DigestFile(dir / ("store/" + f.store_name));
    }
  }
  history(2000);  // falls back to the older checkpoint and writes other records
  // The scenario happened: the restored state wrote a file under a number
  // the newer history used.
  bool reused = false;
  const std::vector<uint64_t> now = *ListCheckpoints(*store, 1);
  for (uint64_t seq : now) {
    const CheckpointManifest m = *LoadCheckpoint(*store, "", 1, seq);
    for (const CheckpointFile& f : m.files) {
      if (damaged_db_names.count(f.db_name) != 0 && seq != seqs[0]) reused = true;
    }
  }
  EXPECT_TRUE(reused) << "no file of the newer checkpoint's numbers was written again";
  for (const auto& [name, digest] : before) {
    if (!store->Exists(name)) continue;  // deleted by retention: fine
    EXPECT_EQ(*DigestFile(dir / ("store/" + name)), digest) << name << " was overwritten";
  }
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok());
  ExpectExactly(**index, want);
}

// A state is never checkpointed before it passes validation: the explicit
// checkpoint runs the pending validation itself, which fails, and the cell
// is restored from the last good checkpoint instead.
TEST(IntegrityTest, AStateThatFailsValidationIsNeverCheckpointed) {
  testing::ScratchDir dir;
  auto want = PopulateFourCells(dir);
  {
    RawCellDb raw(dir / "data/cells/00001");
    ASSERT_TRUE(raw.db->Put({}, "r" + EncodeKey({"bucket", "k030x"}), EncodeRecord(Rec(5))).ok());
  }
  want["k030x"] = std::nullopt;
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  const std::vector<uint64_t> seqs = *ListCheckpoints(*store, 1);
  Options o = FourCells(dir);
  o.validate_after_recovery = true;
  o.recovery_parallelism = 1;  // cells come up (and queue validation) in id order
  InternalOptions in;
  absl::Notification release;
  // The one background validation thread is held on cell 0 (validated
  // first), so cell 1's validation is still pending when the checkpoint
  // comes: the checkpoint must run it.
  in.recovery_hook = [&](uint32_t cell, RecoveryEvent phase) {
    if (cell == 0 && phase == RecoveryEvent::kValidate) release.WaitForNotification();
  };
  auto index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE((*index)->Put({"bucket", "k031"}, Rec(31)).ok());  // something new to checkpoint
  want["k031"] = *(*index)->Get({"bucket", "k031"});
  EXPECT_EQ((*index)->Stats().cells[1].validation, ValidationState::kPending);
  absl::StatusOr<std::vector<CheckpointReport>> r = (*index)->Checkpoint(1);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("failed validation"));
  EXPECT_EQ(*ListCheckpoints(*store, 1), seqs);  // nothing new published
  release.Notify();
  ASSERT_TRUE(testing::WaitUntil([&] {
    (*index)->WaitForRecovery();
    const CellStats c = (*index)->Stats().cells[1];
    return c.state == CellPhase::kServing && c.recovery.source == RecoverySource::kCheckpoint;
  }));
  // The phantom is gone; the write acknowledged on top of the bad state is
  // in the journal, and the restore replayed it.
  ExpectExactly(**index, want);
}

// One recovery per cell at a time: a background validation that fails while
// a host loss takes the same cell does not start a second recovery.
TEST(IntegrityTest, AFailedValidationAndAHostLossNeverRecoverOneCellTwiceAtOnce) {
  testing::ScratchDir dir;
  std::vector<uint64_t> seqs;
  std::map<std::string, std::optional<ObjectRecord>> want =
      testing::PlantPhantomCheckpoint(dir, &seqs);
  Options o = FourCells(dir);
  o.validate_after_recovery = true;
  o.host_dirs = {{"h0", dir / "h0"}, {"h1", dir / "h1"}};
  absl::Mutex mu;
  std::map<uint32_t, int> active, most;
  absl::Notification validating, release;
  std::atomic<bool> held{false};
  InternalOptions in;
  in.recovery_hook = [&](uint32_t cell, RecoveryEvent phase) {
    if (phase == RecoveryEvent::kStart || phase == RecoveryEvent::kDone) {
      absl::MutexLock lock(&mu);
      int& a = active[cell];
      a += phase == RecoveryEvent::kStart ? 1 : -1;
      most[cell] = std::max(most[cell], a);
    }
    if (cell == 1 && phase == RecoveryEvent::kValidate && !held.exchange(true)) {
      validating.Notify();
      release.WaitForNotification();
    }
  };
  auto index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE(validating.WaitForNotificationWithTimeout(absl::Seconds(60)));
  const std::string host = (*index)->Stats().cells[1].host;
  std::thread lose([&] { EXPECT_TRUE((*index)->LoseHost(host).ok()); });
  // The host loss has taken the cell (it waits for the validation to let go).
  ASSERT_TRUE(testing::WaitUntil([&] { return (*index)->Stats().cells[1].state == CellPhase::kQueued; }));
  release.Notify();  // the validation now fails, on a cell already taken
  lose.join();
  ASSERT_TRUE(testing::WaitUntil([&] {
    (*index)->WaitForRecovery();
    const CellStats c = (*index)->Stats().cells[1];
    return c.state == CellPhase::kServing && c.validation == ValidationState::kOk;
  }));
  ExpectExactly(**index, want);
  absl::MutexLock lock(&mu);
  for (const auto& [cell, n] : most) EXPECT_EQ(n, 1) << "cell " << cell;
}

// The verdict of a validation that ends after its cell was taken (here by a
// host loss) is not carried into the next recovery's report: that recovery
// restores from the store and owes nothing to the old local state.
TEST(IntegrityTest, AValidationVerdictOnACellAlreadyTakenIsNotCarried) {
  testing::ScratchDir dir;
  Options o = FourCells(dir);
  o.host_dirs = {{"h0", dir / "h0"}, {"h1", dir / "h1"}};
  std::map<std::string, std::optional<ObjectRecord>> want;
  std::string host;
  {
    auto index = Index::Open(o);
    ASSERT_TRUE(index.ok()) << index.status();
    want = Populate(**index);
    host = (*index)->Stats().cells[1].host;
  }
  {
    // The phantom only in cell 1's local state: the host loss's restore is
    // the last recovery.
    RawCellDb raw(dir / (host + "/cells/00001"));
    ASSERT_TRUE(raw.db->Put({}, "r" + EncodeKey({"bucket", "k030x"}), EncodeRecord(Rec(5))).ok());
  }
  want["k030x"] = std::nullopt;
  o.validate_after_recovery = true;
  absl::Notification validating, release;
  std::atomic<bool> held{false};
  InternalOptions in;
  in.recovery_hook = [&](uint32_t cell, RecoveryEvent phase) {
    if (cell == 1 && phase == RecoveryEvent::kValidate && !held.exchange(true)) {
      validating.Notify();
      release.WaitForNotification();
    }
  };
  auto index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE(validating.WaitForNotificationWithTimeout(absl::Seconds(60)));
  std::thread lose([&] { EXPECT_TRUE((*index)->LoseHost(host).ok()); });
  ASSERT_TRUE(testing::WaitUntil([&] { return (*index)->Stats().cells[1].state == CellPhase::kQueued; }));
  release.Notify();
  lose.join();
  ASSERT_TRUE(testing::WaitUntil([&] {
    (*index)->WaitForRecovery();
    const CellStats c = (*index)->Stats().cells[1];
    return c.state == CellPhase::kServing && c.validation == ValidationState::kOk;
  }));
  ExpectExactly(**index, want);
  EXPECT_THAT(Fallbacks((*index)->Stats().cells[1]),
              ::testing::Not(HasSubstr("failed validation")));
}

// Destroying the index while a cell is being restored: the destructor waits
// for it, and what it would schedule next is dropped, not run on a
// scheduler already gone.
TEST(IntegrityTest, DestroyingTheIndexWhileACellRecoversIsSafe) {
  testing::ScratchDir dir;
  auto want = PopulateFourCells(dir);
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  Options o = FourCells(dir);
  o.wait_for_recovery = false;
  o.validate_after_recovery = true;
  absl::Notification shutting_down, fetching;
  InternalOptions in;
  in.recovery_hook = [&](uint32_t cell, RecoveryEvent phase) {
    if (cell == 2 && phase == RecoveryEvent::kFetch) {
      fetching.Notify();
      shutting_down.WaitForNotification();
    }
  };
  in.shutdown_hook = [&] { shutting_down.Notify(); };
  {
    auto index = OpenIndex(o, in);
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE(fetching.WaitForNotificationWithTimeout(absl::Seconds(60)));
  }  // ~Index with cell 2's restore in the middle of its fetch
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok()) << index.status();
  ExpectExactly(**index, want);
}

// Only damage falls back to an older source. A failure of another kind
// (here a file that cannot be created while fetching) fails the cell with
// its own error, leaves the store alone, and the other cells serve.
TEST(IntegrityTest, AnIoErrorFailsTheCellWithItsOwnCodeInsteadOfFallingBack) {
  testing::ScratchDir dir;
  std::map<std::string, std::optional<ObjectRecord>> want;
  {
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok());
    want = Populate(**index, /*checkpoints=*/2);
  }
  ASSERT_TRUE(RemoveAll(dir / "data/cells/00001").ok());
  auto faults = std::make_shared<testing::FaultInjectionFileSystem>(rocksdb::FileSystem::Default(),
                                                                    dir / "trash");
  faults->FailNext(testing::FaultKind::kCreate, 1, "00001.restore/");
  InternalOptions in;
  in.file_system = faults;
  {
    auto index = OpenIndex(FourCells(dir), in);
    ASSERT_TRUE(index.ok()) << index.status();
    const CellStats c = (*index)->Stats().cells[1];
    EXPECT_EQ(c.state, CellPhase::kFailed);
    EXPECT_THAT(c.error, HasSubstr("injected"));
    EXPECT_TRUE(c.recovery.fallbacks.empty()) << Fallbacks(c);
    absl::Status s = (*index)->Get({"bucket", "k030"}).status();
    EXPECT_FALSE(absl::IsDataLoss(s)) << s;
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE((*index)->Get({"bucket", "k000"}).ok() ||
                absl::IsNotFound((*index)->Get({"bucket", "k000"}).status()));
  }
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->Stats().cells[1].recovery.checkpoint_seq,
            *ListCheckpoints(*NewLocalDirStore(&DefaultFs(), dir / "store"), 1)->begin());
  ExpectExactly(**index, want);
}

// A failed journal sync is never acknowledged; the cell stops taking writes,
// reopens its journal from what is durable, and goes on; what was
// acknowledged before survives a power loss afterwards.
TEST(IntegrityTest, AFailedJournalSyncIsNotAcknowledgedAndTheCellReopens) {
  testing::ScratchDir dir(testing::MemoryDirOrTemp());
  auto faults = std::make_shared<testing::FaultInjectionFileSystem>(rocksdb::FileSystem::Default(),
                                                                    dir / "trash");
  InternalOptions in;
  in.file_system = faults;
  in.close_without_flush = true;
  Options o = FourCells(dir);
  o.durability = Durability::kSync;
  std::map<std::string, std::optional<ObjectRecord>> want;
  {
    auto index = OpenIndex(o, in);
    ASSERT_TRUE(index.ok());
    want = Populate(**index);
    faults->FailNext(testing::FaultKind::kSync, 1, "cells/00001/journal/");
    absl::StatusOr<uint64_t> failed = (*index)->Put({"bucket", "k030"}, Rec(77));
    ASSERT_FALSE(failed.ok());
    EXPECT_THAT(std::string(failed.status().message()), HasSubstr("injected"));
    ASSERT_TRUE(testing::WaitUntil([&] {
      (*index)->WaitForRecovery();
      return (*index)->Stats().cells[1].state == CellPhase::kServing;
    }));
    EXPECT_THAT(Fallbacks((*index)->Stats().cells[1]), HasSubstr("failed while serving"));
    // The write that failed may or may not be there; acknowledged ones are.
    absl::StatusOr<ObjectRecord> k030 = (*index)->Get({"bucket", "k030"});
    ASSERT_TRUE(k030.ok());
    EXPECT_TRUE(k030->size == 77 || EncodeRecord(*k030) == EncodeRecord(*want["k030"]));
    want["k030"] = *k030;
    for (int i = 26; i < 40; ++i) {
      ASSERT_TRUE((*index)->Put({"bucket", testing::Key(i)}, Rec(300 + i)).ok());
      want[testing::Key(i)] = *(*index)->Get({"bucket", testing::Key(i)});
    }
    faults->SetFilesystemActive(false);
  }
  ASSERT_TRUE(faults->SimulatePowerLoss().ok());
  faults->SetFilesystemActive(true);
  auto index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok()) << index.status();
  ExpectExactly(**index, want);
}

// A failed journal write is not acknowledged either, and the cell reopens.
TEST(IntegrityTest, AFailedJournalWriteIsNotAcknowledgedAndTheCellReopens) {
  testing::ScratchDir dir(testing::MemoryDirOrTemp());
  auto faults = std::make_shared<testing::FaultInjectionFileSystem>(rocksdb::FileSystem::Default(),
                                                                    dir / "trash");
  InternalOptions in;
  in.file_system = faults;
  Options o = FourCells(dir);
  o.durability = Durability::kSync;
  auto index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok());
  std::map<std::string, std::optional<ObjectRecord>> want = Populate(**index);
  faults->FailNext(testing::FaultKind::kWrite, 1, "cells/00002/journal/");
  absl::StatusOr<uint64_t> failed = (*index)->Put({"bucket", "k060"}, Rec(66));
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("injected"));
  ASSERT_TRUE(testing::WaitUntil([&] {
    (*index)->WaitForRecovery();
    return (*index)->Stats().cells[2].state == CellPhase::kServing;
  }));
  ExpectExactly(**index, want);  // the failed write was never written: nothing to see
  ASSERT_TRUE((*index)->Put({"bucket", "k060"}, Rec(67)).ok());
  EXPECT_EQ((*index)->Get({"bucket", "k060"})->size, 67u);
}

// A checkpoint whose publish fails (the manifest cannot be linked into
// place) fails, leaves the previous checkpoints as they were, and a restore
// from the store still brings everything back.
TEST(IntegrityTest, AFailedManifestPublishLeavesThePreviousCheckpoints) {
  testing::ScratchDir dir;
  auto faults = std::make_shared<testing::FaultInjectionFileSystem>(rocksdb::FileSystem::Default(),
                                                                    dir / "trash");
  InternalOptions in;
  in.file_system = faults;
  std::map<std::string, std::optional<ObjectRecord>> want;
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  std::vector<uint64_t> seqs;
  {
    auto index = OpenIndex(FourCells(dir), in);
    ASSERT_TRUE(index.ok());
    want = Populate(**index, /*checkpoints=*/2);
    seqs = *ListCheckpoints(*store, 1);
    for (int i = 25; i < 50; ++i) {
      ASSERT_TRUE((*index)->Put({"bucket", testing::Key(i)}, Rec(700 + i)).ok());
      want[testing::Key(i)] = *(*index)->Get({"bucket", testing::Key(i)});
    }
    faults->FailNext(testing::FaultKind::kLink, 1, ".manifest");
    absl::StatusOr<std::vector<CheckpointReport>> r = (*index)->Checkpoint(1);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("injected"));
    EXPECT_EQ(*ListCheckpoints(*store, 1), seqs);
    for (uint64_t seq : seqs) EXPECT_TRUE(LoadCheckpoint(*store, "", 1, seq).ok()) << seq;
  }
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  auto index = Index::Open(FourCells(dir));
  ASSERT_TRUE(index.ok());
  ExpectExactly(**index, want);
}

// RocksDB's own writes failing (a memtable flush cannot write its SST):
// the cell stops taking writes, is reopened from its journal, and loses no
// acknowledged write.
TEST(IntegrityTest, AFailedFlushFailsTheCellWhichReopensFromItsJournal) {
  testing::ScratchDir dir(testing::MemoryDirOrTemp());
  auto faults = std::make_shared<testing::FaultInjectionFileSystem>(rocksdb::FileSystem::Default(),
                                                                    dir / "trash");
  InternalOptions in;
  in.file_system = faults;
  Options o = FourCells(dir);
  o.cell_write_buffer_bytes = 64 << 10;
  auto index = OpenIndex(o, in);
  ASSERT_TRUE(index.ok());
  std::map<std::string, std::optional<ObjectRecord>> want = Populate(**index);
  faults->FailNext(testing::FaultKind::kWrite, 1, "cells/00003/0");  // its next SST
  bool failed = false;
  for (int i = 0; i < 20000 && !failed; ++i) {
    ObjectRecord r = Rec(2000 + i);
    r.etag = std::string(300, 'f');
    const std::string key = absl::StrFormat("k080-%05d", i);
    absl::StatusOr<uint64_t> v = (*index)->Put({"bucket", key}, r);
    if (v.ok()) {
      want[key] = *(*index)->Get({"bucket", key});
    } else {
      failed = true;  // not acknowledged: may or may not come back
      want.erase(key);
    }
  }
  ASSERT_TRUE(failed) << "the failed flush never stopped the cell's writes";
  ASSERT_TRUE(testing::WaitUntil([&] {
    (*index)->WaitForRecovery();
    return (*index)->Stats().cells[3].state == CellPhase::kServing;
  }));
  EXPECT_THAT(Fallbacks((*index)->Stats().cells[3]), HasSubstr("failed while serving"));
  ExpectExactly(**index, want);
}

TEST(IntegrityTest, DirectoriesThatOverlapAreRefusedAtOpen) {
  testing::ScratchDir dir;
  Options o = FourCells(dir);
  o.host_dirs = {{"h0", dir / "h0"}, {"h1", dir / "h1"}};
  o.store_dir = dir / "h1/store";
  absl::Status s = Index::Open(o).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("overlap"));
  o.store_dir = dir / "store";
  o.host_dirs = {{"h0", dir / "h0"}, {"h1", dir / "h0/h1"}};
  s = Index::Open(o).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("lies in host h0"));
  EXPECT_FALSE(PathExists(dir / "store/CELLMAP"));
}

TEST(IntegrityTest, AStoreWithCellsButNoCellMapIsDataLossForEveryCaller) {
  testing::ScratchDir dir;
  {
    auto index = Index::Open(FourCells(dir));
    ASSERT_TRUE(index.ok());
    Populate(**index);
  }
  ASSERT_EQ(0, ::unlink((dir / "store/CELLMAP").c_str()));
  for (bool create : {true, false}) {
    Options o = FourCells(dir);
    o.error_if_missing = !create;
    absl::Status s = Index::Open(o).status();
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("no cell map"));
  }
}

TEST(IntegrityTest, ADataDirThatIsAFileIsInvalidArgument) {
  testing::ScratchDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir / "file", "x").ok());
  Options o;
  o.data_dir = dir / "file";
  absl::Status s = Index::Open(o).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("is not a directory"));
}

}  // namespace
}  // namespace cellindex
