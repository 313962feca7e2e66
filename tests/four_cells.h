// A small index for recovery and integrity tests: four cells holding keys
// k000..k099 of "bucket", populated so that a restore needs checkpoints and
// a journal tail, and checked record by record.
#ifndef CELLINDEX_TESTS_FOUR_CELLS_H_
#define CELLINDEX_TESTS_FOUR_CELLS_H_

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "index/index.h"
#include "recovery/checkpoint.h"
#include "recovery/store/checkpoint_manifest.h"
#include "recovery/store/durable_store.h"
#include "rocksdb/db.h"
#include "tests/test_util.h"

namespace cellindex::testing {

// The records the populated index holds.
inline ObjectRecord Rec(uint64_t size) { return SizedRecord(size); }

// Four cells: keys k000..k099 spread over them.
inline Options FourCells(const ScratchDir& dir) {
  Options o;
  o.data_dir = dir / "data";
  o.store_dir = dir / "store";
  o.block_cache_bytes = 8 << 20;
  o.cell_write_buffer_bytes = 1 << 20;
  o.background_checkpoints = false;
  o.validate_after_recovery = false;
  o.cell_boundaries = {EncodeKey({"bucket", "k025"}), EncodeKey({"bucket", "k050"}),
                       EncodeKey({"bucket", "k075"})};
  return o;
}

inline std::string Key(int i) { return absl::StrFormat("k%03d", i); }

// Writes, checkpoints, and writes again (overwrites and deletes), so a
// restore needs both the checkpoint and the journal tail. Returns what each
// key must read back as (nullopt: deleted).
inline std::map<std::string, std::optional<ObjectRecord>> Populate(Index& index, int checkpoints = 1) {
  std::map<std::string, std::optional<ObjectRecord>> want;
  uint64_t n = 0;
  for (int c = 0; c < checkpoints; ++c) {
    for (int i = 0; i < 100; ++i) {
      EXPECT_TRUE(index.Put({"bucket", Key(i)}, Rec(++n)).ok());
    }
    EXPECT_TRUE(index.Checkpoint().ok());
  }
  for (int i = 0; i < 100; i += 3) EXPECT_TRUE(index.Put({"bucket", Key(i)}, Rec(++n)).ok());
  for (int i = 1; i < 100; i += 7) EXPECT_TRUE(index.Delete({"bucket", Key(i)}).ok());
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<ObjectRecord> r = index.Get({"bucket", Key(i)});
    want[Key(i)] = r.ok() ? std::optional<ObjectRecord>(*r) : std::nullopt;
  }
  return want;
}

// Creates the four-cell index in `dir`, populates it (Populate) and closes
// it; returns what it holds.
inline std::map<std::string, std::optional<ObjectRecord>> PopulateFourCells(const ScratchDir& dir) {
  auto index = Index::Open(FourCells(dir));
  EXPECT_TRUE(index.ok()) << index.status();
  if (!index.ok()) return {};
  return Populate(**index);
}

inline void ExpectExactly(Index& index, const std::map<std::string, std::optional<ObjectRecord>>& want) {
  for (const auto& [key, rec] : want) {
    absl::StatusOr<ObjectRecord> r = index.Get({"bucket", key});
    if (rec.has_value()) {
      ASSERT_TRUE(r.ok()) << key << ": " << r.status();
      EXPECT_EQ(EncodeRecord(*r), EncodeRecord(*rec)) << key;  // byte for byte
    } else {
      EXPECT_TRUE(absl::IsNotFound(r.status())) << key << ": " << r.status();
    }
  }
}

// Populates, then plants a record that no write made (a phantom: the state's
// count no longer matches) into cell 1's local state and checkpoints it, so
// that the newest checkpoint of cell 1 is wrong in a way only the deep
// validation sees. Then loses all local state. `seqs` gets cell 1's
// checkpoints, newest first.
inline std::map<std::string, std::optional<ObjectRecord>> PlantPhantomCheckpoint(
    const ScratchDir& dir, std::vector<uint64_t>* seqs) {
  std::map<std::string, std::optional<ObjectRecord>> want;
  {
    auto index = Index::Open(FourCells(dir));
    EXPECT_TRUE(index.ok());
    want = Populate(**index);
  }
  {
    RawCellDb raw(dir / "data/cells/00001");
    EXPECT_TRUE(raw.db->Put({}, "r" + EncodeKey({"bucket", "k030x"}), EncodeRecord(Rec(5))).ok());
  }
  {
    auto index = Index::Open(FourCells(dir));
    EXPECT_TRUE(index.ok());
    EXPECT_TRUE((*index)->Put({"bucket", "k031"}, Rec(31)).ok());
    want["k031"] = *(*index)->Get({"bucket", "k031"});
    EXPECT_TRUE((*index)->Checkpoint(1).ok());
  }
  want["k030x"] = std::nullopt;
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  *seqs = *ListCheckpoints(*store, 1);
  EXPECT_EQ(seqs->size(), 2u);
  EXPECT_TRUE(RemoveAll(dir / "data").ok());
  return want;
}

// The SSTs of `m` that `older` (a checkpoint before it) does not share (one
// per column family, or more): damaging them leaves the older checkpoint
// whole.
inline std::vector<CheckpointFile> UnsharedSsts(const CheckpointManifest& m,
                                                const CheckpointManifest& older = {}) {
  std::vector<CheckpointFile> out;
  for (const CheckpointFile& f : m.files) {
    const bool shared =
        std::any_of(older.files.begin(), older.files.end(),
                    [&](const CheckpointFile& o) { return o.store_name == f.store_name; });
    if (absl::EndsWith(f.db_name, ".sst") && !shared) out.push_back(f);
  }
  return out;
}

// The largest of them (its store name).
inline std::string LargestSst(const CheckpointManifest& m, const CheckpointManifest& older = {}) {
  std::string best;
  uint64_t size = 0;
  for (const CheckpointFile& f : UnsharedSsts(m, older)) {
    if (f.digest.size > size) {
      best = f.store_name;
      size = f.digest.size;
    }
  }
  return best;
}

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_FOUR_CELLS_H_
