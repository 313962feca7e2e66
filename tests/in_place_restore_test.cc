// In-place restore (RestoreMode::kInPlace): a lost cell serves from its
// checkpoint's files where they lie in the durable store while a paced
// background copy brings them to the host. It serves exactly what was
// acknowledged during and after the copy, catches a damaged store file and
// falls back, and loses nothing when its host is lost again mid-copy.
#include <map>
#include <optional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "index/base/file_util.h"
#include "index/index.h"
#include "recovery/checkpoint.h"
#include "recovery/store/checkpoint_manifest.h"
#include "recovery/store/durable_store.h"
#include "recovery/store/store_backed_fs.h"
#include "tests/four_cells.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;
using testing::ExpectExactly;
using testing::FourCells;
using testing::Rec;
using testing::WaitUntil;

using Want = std::map<std::string, std::optional<ObjectRecord>>;

// Keys m00000.. sort after the last boundary: all in cell 3.
std::string BigKey(int i) { return absl::StrFormat("m%05d", i); }
constexpr CellId kBigCell = 3;

Options InPlace(const testing::ScratchDir& dir, uint64_t bytes_per_sec) {
  Options o = FourCells(dir);
  o.restore_mode = RestoreMode::kInPlace;
  o.restore_copy_bytes_per_sec = bytes_per_sec;
  return o;
}

// 3,000 records in cell 3, written twice with a checkpoint after each (so
// the two checkpoints share no table file), then a tail of overwrites and
// deletes. Its table files span many blocks, most of which an open never
// reads. Returns what each key must read back as.
Want PopulateBig(Index& index) {
  uint64_t n = 0;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 3000; ++i) EXPECT_TRUE(index.Put({"bucket", BigKey(i)}, Rec(++n)).ok());
    EXPECT_TRUE(index.Checkpoint().ok());
  }
  for (int i = 0; i < 3000; i += 11) EXPECT_TRUE(index.Put({"bucket", BigKey(i)}, Rec(++n)).ok());
  for (int i = 5; i < 3000; i += 13) EXPECT_TRUE(index.Delete({"bucket", BigKey(i)}).ok());
  Want want;
  for (int i = 0; i < 3000; ++i) {
    absl::StatusOr<ObjectRecord> r = index.Get({"bucket", BigKey(i)});
    want[BigKey(i)] = r.ok() ? std::optional<ObjectRecord>(*r) : std::nullopt;
  }
  return want;
}

CellStats BigCell(Index& index) { return index.Stats().cells[kBigCell]; }

TEST(InPlaceRestoreTest, ServesExactlyWhatWasWrittenWhileTheCopyRunsAndAfter) {
  testing::ScratchDir dir;
  Want want;
  {
    auto index = Index::Open(InPlace(dir, 0));
    ASSERT_TRUE(index.ok());
    want = PopulateBig(**index);
  }
  ASSERT_TRUE(RemoveAll(dir / "data").ok());
  const std::string db_dir = dir / "data/cells/00003";
  {
    // 16 KiB/s: the copy of this cell's files takes tens of seconds, so it
    // is still running while the cell serves below.
    auto index = Index::Open(InPlace(dir, 16 << 10));
    ASSERT_TRUE(index.ok()) << index.status();
    CellStats c = BigCell(**index);
    ASSERT_EQ(c.state, CellPhase::kServing) << c.error;
    EXPECT_EQ(c.recovery.source, RecoverySource::kCheckpoint);
    EXPECT_TRUE(c.recovery.in_place);
    EXPECT_GT(c.recovery.files_in_store, 0u);
    EXPECT_GT(c.store_files, 0u) << "the copy is paced: it cannot be done yet";
    EXPECT_TRUE(PathExists(db_dir + "/" + kRemoteFilesName));
    ExpectExactly(**index, want);
    // The cell takes writes while its checkpoint's files are in the store.
    for (int i = 0; i < 3000; i += 17) {
      ASSERT_TRUE((*index)->Put({"bucket", BigKey(i)}, Rec(100000 + i)).ok());
      want[BigKey(i)] = *(*index)->Get({"bucket", BigKey(i)});
    }
    ExpectExactly(**index, want);
    EXPECT_GT(BigCell(**index).store_files, 0u);
  }
  // The host kept the state: a reopen resumes the copy, unpaced, and the
  // cell ends with every file local and no list.
  auto index = Index::Open(InPlace(dir, 0));
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(BigCell(**index).recovery.source, RecoverySource::kLocal);
  ASSERT_TRUE(WaitUntil([&] { return BigCell(**index).store_files == 0; }));
  CellStats c = BigCell(**index);
  EXPECT_GT(c.files_landed, 0u);
  EXPECT_EQ(c.copy_error, "");
  EXPECT_FALSE(PathExists(db_dir + "/" + kRemoteFilesName));
  ExpectExactly(**index, want);
  index->reset();
  // Now an ordinary local state.
  index = Index::Open(InPlace(dir, 0));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(BigCell(**index).store_files, 0u);
  ExpectExactly(**index, want);
}

TEST(InPlaceRestoreTest, ADamagedStoreFileIsCaughtWhenTheCopyLandsItAndFallsBack) {
  testing::ScratchDir dir;
  Want want;
  {
    auto index = Index::Open(InPlace(dir, 0));
    ASSERT_TRUE(index.ok());
    want = PopulateBig(**index);
  }
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  std::vector<uint64_t> seqs = *ListCheckpoints(*store, kBigCell);
  ASSERT_EQ(seqs.size(), 2u);
  CheckpointManifest newest = *LoadCheckpoint(*store, "", kBigCell, seqs[0]);
  CheckpointManifest older = *LoadCheckpoint(*store, "", kBigCell, seqs[1]);
  // The newest checkpoint's largest table file that the older one does not
  // share: one byte flipped in its middle, among the records, which an open
  // does not read.
  const std::string victim = testing::LargestSst(newest, older);
  ASSERT_FALSE(victim.empty());
  ASSERT_GT(*store->Size(victim), 64u << 10) << "the victim must span many blocks";
  const std::string path = dir / ("store/" + victim);
  std::string bytes = *ReadFileToString(path);
  bytes[bytes.size() / 2] ^= 0x20;
  ASSERT_TRUE(AtomicWriteFile(path, bytes).ok());
  ASSERT_TRUE(RemoveAll(dir / "data").ok());

  auto index = Index::Open(InPlace(dir, 0));
  ASSERT_TRUE(index.ok()) << index.status();
  // The copy lands the file, finds it does not match its manifest, and the
  // cell is restored again, copying and verifying first: from the older
  // checkpoint and a longer journal tail.
  ASSERT_TRUE(WaitUntil([&] {
    CellStats c = BigCell(**index);
    return c.state == CellPhase::kServing && c.recovery.checkpoint_seq == seqs[1];
  }));
  CellStats c = BigCell(**index);
  EXPECT_FALSE(c.recovery.in_place);
  std::string fallbacks;
  for (const std::string& f : c.recovery.fallbacks) fallbacks += f + "\n";
  EXPECT_THAT(fallbacks, HasSubstr("damaged while serving: file " + victim +
                                   " does not match its manifest"));
  EXPECT_THAT(fallbacks, HasSubstr(absl::StrCat("checkpoint ", seqs[0], ": file ", victim)));
  ExpectExactly(**index, want);
  // The evidence stays: the store's object is not rewritten.
  EXPECT_EQ(*ReadFileToString(path), bytes);
}

TEST(InPlaceRestoreTest, LosingTheHostAgainMidCopyLosesNothing) {
  testing::ScratchDir dir;
  Options o = InPlace(dir, 16 << 10);
  o.host_dirs = {{"h0", dir / "h0"}, {"h1", dir / "h1"}, {"h2", dir / "h2"}};
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok());
  Want want = PopulateBig(**index);
  const std::string first = BigCell(**index).host;
  ASSERT_TRUE((*index)->LoseHost(first).ok());
  (*index)->WaitForRecovery();
  CellStats c = BigCell(**index);
  ASSERT_EQ(c.state, CellPhase::kServing) << c.error;
  ASSERT_TRUE(c.recovery.in_place);
  ASSERT_GT(c.store_files, 0u) << "the copy is paced: it cannot be done yet";
  // Acknowledged writes while the copy runs.
  for (int i = 1; i < 3000; i += 19) {
    ASSERT_TRUE((*index)->Put({"bucket", BigKey(i)}, Rec(200000 + i)).ok());
    want[BigKey(i)] = *(*index)->Get({"bucket", BigKey(i)});
  }
  // The new host is lost in the middle of the copy.
  ASSERT_TRUE((*index)->LoseHost(c.host).ok());
  EXPECT_FALSE(PathExists(dir / c.host));
  (*index)->WaitForRecovery();
  c = BigCell(**index);
  ASSERT_EQ(c.state, CellPhase::kServing) << c.error;
  EXPECT_NE(c.host, first);
  EXPECT_TRUE(c.recovery.in_place);
  ExpectExactly(**index, want);
}

}  // namespace
}  // namespace cellindex
