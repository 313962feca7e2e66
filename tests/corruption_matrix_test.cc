// The corruption matrix: for each kind of file an index keeps (checkpoint
// manifest, checkpoint SST, CURRENT and MANIFEST in the store, journal
// segments first/middle/last, the journal head, the cell map, local SST,
// local MANIFEST and CURRENT, and the local state directory itself) and each
// kind of damage (bit flip, truncation, deletion, appended garbage, a file of
// another cell or index), with and without losing the host, recover and read
// back every acknowledged write. Every read must be right, or DataLoss /
// Unavailable: never a wrong value, never "not found" for an acknowledged
// key. Cells the damage does not touch serve every read right. The table of
// outcomes is printed.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "index/index.h"
#include "recovery/checkpoint.h"
#include "recovery/store/checkpoint_manifest.h"
#include "recovery/store/durable_store.h"
#include "tests/four_cells.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

namespace fs = std::filesystem;
using testing::Key;
using testing::Rec;

using Want = std::map<std::string, std::optional<ObjectRecord>>;

constexpr uint32_t kTarget = 1;  // the damaged cell, on host h1 with cell 3

Options MatrixOptions(const std::string& root) {
  Options o;
  o.data_dir = root + "/data";
  o.store_dir = root + "/store";
  o.host_dirs = {{"h0", root + "/h0"}, {"h1", root + "/h1"}};
  o.block_cache_bytes = 8 << 20;
  o.cell_write_buffer_bytes = 1 << 20;
  o.journal_segment_bytes = 64 << 10;
  o.background_checkpoints = false;
  o.validate_after_recovery = true;
  o.cell_boundaries = {EncodeKey({"bucket", "k025"}), EncodeKey({"bucket", "k050"}),
                       EncodeKey({"bucket", "k075"})};
  return o;
}

// Two checkpoints, then a journal tail of several segments in every cell.
Want BuildIndex(const std::string& root, uint64_t salt) {
  Want want;
  auto index = Index::Open(MatrixOptions(root));
  EXPECT_TRUE(index.ok()) << index.status();
  uint64_t n = salt;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 100; ++i) EXPECT_TRUE((*index)->Put({"bucket", Key(i)}, Rec(++n)).ok());
    EXPECT_TRUE((*index)->Checkpoint().ok());
  }
  for (int r = 0; r < 8; ++r) {
    for (int i = 0; i < 100; ++i) {
      ObjectRecord rec = Rec(++n);
      rec.etag = std::string(250, static_cast<char>('a' + r));
      if ((i + r) % 11 == 0) {
        absl::Status s = (*index)->Delete({"bucket", Key(i)});
        EXPECT_TRUE(s.ok() || absl::IsNotFound(s)) << s;
      } else {
        EXPECT_TRUE((*index)->Put({"bucket", Key(i)}, rec).ok());
      }
    }
  }
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<ObjectRecord> r = (*index)->Get({"bucket", Key(i)});
    want[Key(i)] = r.ok() ? std::optional<ObjectRecord>(*r) : std::nullopt;
  }
  return want;
}

uint32_t CellOfKey(const std::string& key) {
  if (key < "k025") return 0;
  if (key < "k050") return 1;
  if (key < "k075") return 2;
  return 3;
}

std::vector<std::string> Sorted(const std::string& dir, const std::string& contains,
                                const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (absl::StrContains(name, contains) && absl::EndsWith(name, suffix)) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Where a kind of file lives in an index at `root`, for cell `cell`.
struct FileKind {
  const char* name;
  bool local;  // on the host: meaningless once the host is lost
  std::function<std::string(const std::string& root, uint32_t cell)> path;
};

std::string StoreCell(const std::string& root, uint32_t cell) {
  return absl::StrFormat("%s/store/cells/%05u", root, cell);
}

std::string NewestManifest(const std::string& root, uint32_t cell) {
  return Sorted(StoreCell(root, cell) + "/checkpoints", "", ".manifest").back();
}

// A file of the newest checkpoint of `cell` whose name ends with `suffix`
// (the newest checkpoint's own, when there are several).
std::string NewestCheckpointFile(const std::string& root, uint32_t cell,
                                 const std::string& suffix) {
  auto store = NewLocalDirStore(&DefaultFs(), root + "/store");
  const std::vector<uint64_t> seqs = *ListCheckpoints(*store, cell);
  const CheckpointManifest m = *LoadCheckpoint(*store, "", cell, seqs.front());
  std::string found;
  for (const CheckpointFile& f : m.files) {
    if (absl::StrContains(f.db_name, suffix)) found = root + "/store/" + f.store_name;
  }
  return found;
}

std::string LocalCell(const std::string& root, uint32_t cell) {
  return absl::StrFormat("%s/%s/cells/%05u", root, cell % 2 == 0 ? "h0" : "h1", cell);
}

std::vector<FileKind> Kinds() {
  return {
      {"manifest", false, NewestManifest},
      {"checkpoint SST",
       false,
       [](const std::string& r, uint32_t c) { return NewestCheckpointFile(r, c, ".sst"); }},
      {"checkpoint CURRENT",
       false,
       [](const std::string& r, uint32_t c) { return NewestCheckpointFile(r, c, "CURRENT"); }},
      {"checkpoint MANIFEST-",
       false,
       [](const std::string& r, uint32_t c) { return NewestCheckpointFile(r, c, "MANIFEST-"); }},
      {"journal first",
       false,
       [](const std::string& r, uint32_t c) {
         return Sorted(StoreCell(r, c) + "/journal", "", ".log").front();
       }},
      {"journal middle",
       false,
       [](const std::string& r, uint32_t c) {
         std::vector<std::string> s = Sorted(StoreCell(r, c) + "/journal", "", ".log");
         return s[s.size() / 2];
       }},
      {"journal last",
       false,
       [](const std::string& r, uint32_t c) {
         return Sorted(StoreCell(r, c) + "/journal", "", ".log").back();
       }},
      {"journal head",
       false,
       [](const std::string& r, uint32_t c) { return StoreCell(r, c) + "/JOURNAL-HEAD"; }},
      {"CELLMAP", false, [](const std::string& r, uint32_t) { return r + "/store/CELLMAP"; }},
      {"local SST",
       true,
       [](const std::string& r, uint32_t c) { return Sorted(LocalCell(r, c), "", ".sst").back(); }},
      {"local MANIFEST",
       true,
       [](const std::string& r, uint32_t c) {
         return Sorted(LocalCell(r, c), "MANIFEST-", "").back();
       }},
      {"local CURRENT",
       true,
       [](const std::string& r, uint32_t c) { return LocalCell(r, c) + "/CURRENT"; }},
  };
}

enum class Damage { kFlip, kTruncate, kDelete, kGarbage, kForeign };
const char* DamageName(Damage d) {
  switch (d) {
    case Damage::kFlip:
      return "bit flip";
    case Damage::kTruncate:
      return "truncation";
    case Damage::kDelete:
      return "deletion";
    case Damage::kGarbage:
      return "garbage appended";
    case Damage::kForeign:
      return "another's file";
  }
  return "?";
}

void Apply(Damage d, const std::string& path, const std::string& foreign) {
  std::string bytes = *ReadFileToString(path);
  switch (d) {
    case Damage::kFlip:
      bytes[bytes.size() / 2] ^= 0x20;
      break;
    case Damage::kTruncate:
      bytes.resize(bytes.size() / 2);
      break;
    case Damage::kDelete:
      ASSERT_TRUE(fs::remove(path));
      return;
    case Damage::kGarbage: {
      std::mt19937 rng(7);
      for (int i = 0; i < 4096; ++i) bytes.push_back(static_cast<char>(rng()));
      break;
    }
    case Damage::kForeign:
      bytes = *ReadFileToString(foreign);
      break;
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// What recovery made of one case.
struct Outcome {
  std::string open_error;  // the index refused to open
  int right = 0, data_loss = 0, unavailable = 0, other_error = 0, wrong = 0;
  int fallbacks = 0;
  int other_cells_not_right = 0;
  std::vector<std::string> wrong_keys;
};

Outcome Recover(const std::string& root, const Want& want) {
  Outcome out;
  auto index = Index::Open(MatrixOptions(root));
  if (!index.ok()) {
    out.open_error = std::string(absl::StatusCodeToString(index.status().code()));
    EXPECT_TRUE(absl::IsDataLoss(index.status())) << index.status();
    return out;
  }
  // Let every background validation finish (it may take a cell out).
  EXPECT_TRUE(testing::WaitUntil([&] {
    (*index)->WaitForRecovery();
    for (const CellStats& c : (*index)->Stats().cells) {
      if (c.state == CellPhase::kServing && (c.validation == ValidationState::kPending || c.validation == ValidationState::kRunning)) {
        return false;
      }
    }
    return true;
  }));
  (*index)->WaitForRecovery();
  for (const CellStats& c : (*index)->Stats().cells) out.fallbacks += c.recovery.fallbacks.size();
  for (const auto& [key, rec] : want) {
    absl::StatusOr<ObjectRecord> r = (*index)->Get({"bucket", key});
    bool right = false;
    if (r.ok()) {
      right = rec.has_value() && EncodeRecord(*r) == EncodeRecord(*rec);
      if (!right) {
        ++out.wrong;
        out.wrong_keys.push_back(key);
      }
    } else if (absl::IsNotFound(r.status())) {
      right = !rec.has_value();
      if (!right) {
        ++out.wrong;
        out.wrong_keys.push_back(key);
      }
    } else if (absl::IsDataLoss(r.status())) {
      ++out.data_loss;
    } else if (absl::IsUnavailable(r.status())) {
      ++out.unavailable;
    } else {
      ++out.other_error;
    }
    out.right += right;
    if (!right && CellOfKey(key) != kTarget && CellOfKey(key) != 3) ++out.other_cells_not_right;
  }
  return out;
}

std::string Describe(const Outcome& o) {
  if (!o.open_error.empty()) return "open refused: " + o.open_error;
  std::string s = absl::StrCat(o.right, " right");
  if (o.data_loss) absl::StrAppend(&s, ", ", o.data_loss, " DataLoss");
  if (o.unavailable) absl::StrAppend(&s, ", ", o.unavailable, " Unavailable");
  if (o.other_error) absl::StrAppend(&s, ", ", o.other_error, " other errors");
  if (o.wrong) absl::StrAppend(&s, ", ", o.wrong, " WRONG");
  if (o.fallbacks) absl::StrAppend(&s, " (", o.fallbacks, " fallbacks)");
  return s;
}

class CorruptionMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    base_ = new testing::ScratchDir(testing::MemoryDirOrTemp());
    want_ = new Want(BuildIndex(*base_ / "golden", 0));
    BuildIndex(*base_ / "other", 1000000);  // another index, same layout
  }
  static void TearDownTestSuite() {
    delete want_;
    delete base_;
  }
  static testing::ScratchDir* base_;
  static Want* want_;
};
testing::ScratchDir* CorruptionMatrixTest::base_ = nullptr;
Want* CorruptionMatrixTest::want_ = nullptr;

TEST_F(CorruptionMatrixTest, EveryDamageIsRightOrRefusedNeverWrong) {
  const std::string golden = *base_ / "golden";
  const std::string other = *base_ / "other";
  ASSERT_GE(Sorted(StoreCell(golden, kTarget) + "/journal", "", ".log").size(), 3u)
      << "the journal tail must span several segments";
  struct Row {
    std::string kind, damage, host;
    Outcome outcome;
  };
  std::vector<Row> rows;
  int case_no = 0;
  auto run = [&](const std::string& kind, const std::string& damage, bool lose_host,
                 const std::function<void(const std::string& root)>& apply) {
    const std::string root = absl::StrCat(*base_ / "case-", ++case_no);
    fs::copy(golden, root, fs::copy_options::recursive);
    apply(root);
    if (lose_host) ASSERT_TRUE(RemoveAll(root + "/h1").ok());
    Outcome o = Recover(root, *want_);
    SCOPED_TRACE(absl::StrCat(kind, " / ", damage, lose_host ? " / host lost" : ""));
    EXPECT_EQ(o.wrong, 0) << Describe(o) << ": " << absl::StrJoin(o.wrong_keys, ", ");
    if (kind != "CELLMAP") {
      EXPECT_EQ(o.other_cells_not_right, 0) << "cells 0 and 2 must be untouched: " << Describe(o);
    }
    rows.push_back({kind, damage, lose_host ? "lost" : "kept", o});
    ASSERT_TRUE(RemoveAll(root).ok());
  };

  for (const FileKind& kind : Kinds()) {
    for (Damage d : {Damage::kFlip, Damage::kTruncate, Damage::kDelete, Damage::kGarbage,
                     Damage::kForeign}) {
      for (bool lose : {false, true}) {
        if (kind.local && lose) continue;
        run(kind.name, DamageName(d), lose, [&](const std::string& root) {
          const std::string path = kind.path(root, kTarget);
          ASSERT_FALSE(path.empty()) << kind.name;
          // Another's file: the same kind of file of cell 2 (local: cell 3,
          // on the same host), or of another index for the cell map.
          const std::string foreign = std::string(kind.name) == "CELLMAP"
                                          ? kind.path(other, kTarget)
                                          : kind.path(root, kind.local ? 3 : 2);
          Apply(d, path, foreign);
        });
      }
    }
  }
  run("local state", "swapped with cell 3's", false, [&](const std::string& root) {
    fs::rename(LocalCell(root, 1), root + "/t");
    fs::rename(LocalCell(root, 3), LocalCell(root, 1));
    fs::rename(root + "/t", LocalCell(root, 3));
  });
  run("local state", "another index's", false, [&](const std::string& root) {
    ASSERT_TRUE(RemoveAll(LocalCell(root, 1)).ok());
    fs::copy(LocalCell(other, 1), LocalCell(root, 1), fs::copy_options::recursive);
  });

  int wrong = 0, refused = 0, fell_back = 0, untouched = 0;
  std::printf("\n%-22s %-18s %-5s  %s\n", "file", "damage", "host", "outcome (of 100 keys)");
  for (const Row& r : rows) {
    std::printf("%-22s %-18s %-5s  %s\n", r.kind.c_str(), r.damage.c_str(), r.host.c_str(),
                Describe(r.outcome).c_str());
    const Outcome& o = r.outcome;
    wrong += o.wrong;
    if (!o.open_error.empty() || o.data_loss || o.unavailable || o.other_error) {
      ++refused;
    } else if (o.fallbacks > 0) {
      ++fell_back;
    } else {
      ++untouched;
    }
  }
  std::printf("\n%zu faults injected: %d served right after a fallback, %d served right "
              "(the damaged file was not needed), %d refused in part or whole (DataLoss / "
              "Unavailable), %d wrong reads\n",
              rows.size(), fell_back, untouched, refused, wrong);
  EXPECT_EQ(wrong, 0);
}

}  // namespace
}  // namespace cellindex
