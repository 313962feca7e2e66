#include "recovery/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "index/base/coding.h"
#include "index/index.h"
#include "recovery/store/checkpoint_manifest.h"
#include "recovery/store/durable_store.h"
#include "index/base/file_util.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;
using testing::SizedRecord;

Options OptionsIn(const testing::ScratchDir& dir) {
  Options o = testing::SyncIndexOptions(dir);
  o.background_checkpoints = false;
  o.validate_after_recovery = false;
  return o;
}

TEST(DurableStoreTest, PutGetListDelete) {
  testing::ScratchDir dir;
  auto store = NewLocalDirStore(&DefaultFs(), dir.path());
  ASSERT_TRUE(store->Put("cells/00001/a", "alpha").ok());
  ASSERT_TRUE(store->Put("cells/00001/b", "beta").ok());
  ASSERT_TRUE(store->Put("cells/00002/c", "gamma").ok());
  EXPECT_EQ(*store->Get("cells/00001/a"), "alpha");
  EXPECT_TRUE(absl::IsNotFound(store->Get("cells/00001/zz").status()));
  EXPECT_THAT(*store->List("cells/00001/"),
              ::testing::ElementsAre("cells/00001/a", "cells/00001/b"));
  ASSERT_TRUE(store->Put("cells/00001/a", "replaced").ok());
  EXPECT_EQ(*store->Get("cells/00001/a"), "replaced");
  ASSERT_TRUE(store->Delete("cells/00001/a").ok());
  ASSERT_TRUE(store->Delete("cells/00001/a").ok());  // already gone: fine
  EXPECT_FALSE(store->Exists("cells/00001/a"));
  // An unfinished publish (a leftover temp file) is never listed.
  ASSERT_TRUE(AtomicWriteFile(dir / "cells/00001/x.tmp", "partial").ok());
  EXPECT_THAT(*store->List("cells/00001/"), ::testing::ElementsAre("cells/00001/b"));
}

// PutNew publishes only a name that is free: never a replacement, and of
// eight writers racing for one name exactly one wins, whole; nothing else
// is left beside it.
TEST(DurableStoreTest, PutNewNeverReplacesAnObject) {
  testing::ScratchDir dir;
  auto store = NewLocalDirStore(&DefaultFs(), dir.path());
  ASSERT_TRUE(store->PutNew("a/one", "first").ok());
  absl::Status again = store->PutNew("a/one", "second");
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
  EXPECT_EQ(*store->Get("a/one"), "first");
  std::vector<std::thread> writers;
  std::atomic<int> won{0}, lost{0};
  for (int i = 0; i < 8; ++i) {
    writers.emplace_back([&, i] {
      absl::Status s = store->PutNew("a/raced", std::string(4096, static_cast<char>('a' + i)));
      if (s.ok()) ++won;
      if (absl::IsAlreadyExists(s)) ++lost;
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), 7);
  const std::string raced = *store->Get("a/raced");
  EXPECT_EQ(raced, std::string(4096, raced[0]));
  EXPECT_EQ(*store->List("a/"), (std::vector<std::string>{"a/one", "a/raced"}));
}

TEST(DurableStoreTest, FilesAreHashedWhileCopied) {
  testing::ScratchDir dir;
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 % 251);
  ASSERT_TRUE(AtomicWriteFile(dir / "src", data).ok());
  FileDigest up, down;
  ASSERT_TRUE(store->PutFile("f", dir / "src", UINT64_MAX, &up, nullptr).ok());
  ASSERT_TRUE(store->GetFile("f", dir / "dst", &down, nullptr).ok());
  EXPECT_EQ(up, down);
  EXPECT_EQ(up.size, data.size());
  EXPECT_EQ(*ReadFileToString(dir / "dst"), data);
  EXPECT_EQ(*DigestFile(dir / "src"), up);
  // A prefix of a file (a RocksDB MANIFEST is copied up to its live size).
  FileDigest prefix;
  ASSERT_TRUE(store->PutFile("p", dir / "src", 1000, &prefix, nullptr).ok());
  EXPECT_EQ(prefix.size, 1000u);
  EXPECT_EQ(*store->Get("p"), data.substr(0, 1000));
  EXPECT_NE(prefix, up);
  // Asking for more than the file holds is an error, not a short copy.
  EXPECT_FALSE(store->PutFile("q", dir / "src", data.size() + 1, nullptr, nullptr).ok());
}

TEST(CheckpointManifestTest, RoundTripAndDamage) {
  CheckpointManifest m;
  m.range.id = 3;
  m.range.lo = "a";
  m.range.hi = "m";
  m.epoch = 7;
  m.owner_epoch = 20;
  m.applied_seq = 12345;
  m.key_count = 99;
  m.created = absl::FromUnixMicros(1700000000000000);
  m.db_identity = "id-1";
  m.files = {{"000012.sst", "cells/00003/files/id-1-000012.sst", {4096, 1, 2}},
             {"CURRENT", "cells/00003/files/x-CURRENT", {16, 3, 4}}};
  const std::string enc = m.Encode();
  absl::StatusOr<CheckpointManifest> d = CheckpointManifest::Decode(enc);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->applied_seq, 12345u);
  EXPECT_EQ(d->owner_epoch, 20u);
  EXPECT_EQ(d->key_count, 99u);
  EXPECT_EQ(d->range.hi, "m");
  EXPECT_EQ(d->files.size(), 2u);
  EXPECT_EQ(d->files[0].digest, m.files[0].digest);
  EXPECT_EQ(d->total_bytes(), 4112u);
  for (size_t i = 0; i < enc.size(); ++i) {
    std::string bad = enc;
    bad[i] ^= 0x04;
    EXPECT_TRUE(absl::IsDataLoss(CheckpointManifest::Decode(bad).status())) << i;
  }
  uint64_t seq;
  EXPECT_TRUE(ParseCheckpointManifestName(CheckpointManifestName(3, 12345), &seq));
  EXPECT_EQ(seq, 12345u);
  EXPECT_FALSE(ParseCheckpointManifestName("cells/00003/checkpoints/x.manifest", &seq));
}

// A manifest as format 2 wrote it (no owner epoch: cell 31, from "zoo"/"a",
// unbounded, map epoch 1, no files), without its checksum trailer.
constexpr char kFormat2Body[] = "4d43465402001f057a6f6f0061010001000000000000000000000000";

TEST(CheckpointManifestTest, DecodesFormat2AsOwnerEpochZero) {
  std::string enc = absl::HexStringToBytes(kFormat2Body);
  PutChecksumTrailer(&enc);
  absl::StatusOr<CheckpointManifest> d = CheckpointManifest::Decode(enc);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->range.id, 31u);
  EXPECT_TRUE(d->range.hi_unbounded);
  EXPECT_EQ(d->epoch, 1u);
  EXPECT_EQ(d->owner_epoch, 0u);
  EXPECT_EQ(d->applied_seq, 0u);
  EXPECT_TRUE(d->files.empty());
}

// A manifest of owner epoch E is valid up to the fence of the next owner
// epoch after E; a fence that does not decode proves nothing.
TEST(OwnerFenceTest, AManifestIsValidUpToTheNextOwnersFence) {
  OwnerFence f;
  f.index_id = "idx";
  f.cell = 3;
  f.owner_epoch = 20;
  f.fence_seq = 100;
  f.created = absl::FromUnixMicros(1700000000000000);
  absl::StatusOr<OwnerFence> back = OwnerFence::Decode(f.Encode());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->fence_seq, 100u);
  EXPECT_EQ(back->owner_epoch, 20u);
  EXPECT_EQ(back->cell, 3u);
  EXPECT_EQ(back->index_id, "idx");
  const std::string enc = f.Encode();
  for (size_t i = 0; i < enc.size(); ++i) {
    std::string bad = enc;
    bad[i] ^= 0x10;
    EXPECT_TRUE(absl::IsDataLoss(OwnerFence::Decode(bad).status())) << i;
  }
  OwnerFence later = f;
  later.owner_epoch = 30;
  later.fence_seq = 150;
  OwnerFences fences;
  fences.emplace(20, f);
  fences.emplace(30, later);
  CheckpointManifest m;
  for (auto [owner, seq, ok] : std::vector<std::tuple<uint64_t, uint64_t, bool>>{
           {0, 100, true}, {0, 101, false}, {10, 100, true}, {10, 101, false},
           {20, 150, true}, {20, 151, false}, {25, 151, false}, {30, 9999, true},
           {31, 9999, true}}) {
    m.owner_epoch = owner;
    m.applied_seq = seq;
    absl::Status s = CheckOwnerFence(fences, m);
    EXPECT_EQ(s.ok(), ok) << owner << "@" << seq << ": " << s;
    if (!ok) EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  }
  fences.erase(20);
  fences.emplace(20, absl::DataLossError("damaged"));
  m.owner_epoch = 10;
  m.applied_seq = 1;
  EXPECT_TRUE(absl::IsDataLoss(CheckOwnerFence(fences, m)));
  EXPECT_THAT(std::string(CheckOwnerFence(fences, m).message()), ::testing::HasSubstr("cannot be read"));
  uint64_t epoch = 0;
  EXPECT_TRUE(ParseOwnerFenceName(OwnerFenceName(3, 20), &epoch));
  EXPECT_EQ(epoch, 20u);
  EXPECT_FALSE(ParseOwnerFenceName(CheckpointManifestName(3, 20), &epoch));
}

TEST(CheckpointTest, PublishesAManifestOfTheCellsState) {
  testing::ScratchDir dir;
  auto index = Index::Open(OptionsIn(dir));
  ASSERT_TRUE(index.ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*index)->Put({"bucket", absl::StrCat("k", i)}, SizedRecord(i)).ok());
  absl::StatusOr<std::vector<CheckpointReport>> r = (*index)->Checkpoint();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE((*r)[0].taken);
  EXPECT_EQ((*r)[0].applied_seq, 100u);
  EXPECT_EQ((*r)[0].key_count, 100u);

  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  EXPECT_THAT(*ListCheckpoints(*store, 0), ::testing::ElementsAre(100u));
  absl::StatusOr<CheckpointManifest> m = LoadCheckpoint(*store, "", 0, 100);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->key_count, 100u);
  bool has_sst = false, has_current = false;
  for (const CheckpointFile& f : m->files) {
    has_sst |= absl::EndsWith(f.db_name, ".sst");
    has_current |= f.db_name == "CURRENT";
    // Every file in the store matches its manifest entry.
    absl::StatusOr<std::string> bytes = store->Get(f.store_name);
    ASSERT_TRUE(bytes.ok()) << f.store_name;
    EXPECT_EQ(bytes->size(), f.digest.size);
  }
  EXPECT_TRUE(has_sst);
  EXPECT_TRUE(has_current);
  // Nothing new: no second checkpoint of the same state.
  r = (*index)->Checkpoint();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)[0].taken);
}

TEST(CheckpointTest, SecondCheckpointCopiesOnlyNewFiles) {
  testing::ScratchDir dir;
  auto index = Index::Open(OptionsIn(dir));
  ASSERT_TRUE(index.ok());
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE((*index)->Put({"bucket", absl::StrCat("a", i)}, SizedRecord(i)).ok());
  absl::StatusOr<std::vector<CheckpointReport>> first = (*index)->Checkpoint();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)[0].taken);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*index)->Put({"bucket", absl::StrCat("b", i)}, SizedRecord(i)).ok());
  absl::StatusOr<std::vector<CheckpointReport>> second = (*index)->Checkpoint();
  ASSERT_TRUE(second.ok()) << second.status();
  const CheckpointReport& a = (*first)[0];
  const CheckpointReport& b = (*second)[0];
  ASSERT_TRUE(b.taken);
  EXPECT_EQ(b.files, a.files + 2);  // one new SST in each column family (the 5 writes)
  // Copied: the new SSTs plus the small per-checkpoint files (MANIFEST,
  // CURRENT, OPTIONS); the first checkpoint's SST is not copied again.
  EXPECT_EQ(b.files_copied, a.files_copied);
  EXPECT_LT(b.bytes_copied, a.bytes_copied);
  EXPECT_GT(b.total_bytes, a.total_bytes);
}

TEST(CheckpointTest, KeepsTwoCheckpointsAndTrimsTheJournalBelowTheOldest) {
  testing::ScratchDir dir;
  Options o = OptionsIn(dir);
  o.journal_segment_bytes = 64 << 10;  // many small segments
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok());
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  const std::string journal = dir / "store/cells/00000/journal";
  std::vector<uint64_t> seqs;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 400; ++i) {
      ObjectRecord r = SizedRecord(i);
      r.etag = std::string(200, 'e');
      ASSERT_TRUE((*index)->Put({"bucket", absl::StrCat("r", round, "-", i)}, r).ok());
    }
    absl::StatusOr<std::vector<CheckpointReport>> c = (*index)->Checkpoint();
    ASSERT_TRUE(c.ok()) << c.status();
    seqs.push_back((*c)[0].applied_seq);
  }
  EXPECT_THAT(*ListCheckpoints(*store, 0), ::testing::ElementsAre(seqs[3], seqs[2]));
  // The journal still holds everything above the oldest kept checkpoint and
  // none of the segments wholly below it.
  absl::StatusOr<std::vector<std::string>> segments = ListDir(journal);
  ASSERT_TRUE(segments.ok());
  uint64_t first_seq = std::stoull(segments->front().substr(0, 20));
  EXPECT_LE(first_seq, seqs[2] + 1);
  EXPECT_GT(first_seq, seqs[0]);
  // Files of dropped checkpoints are gone: every stored file is referenced.
  std::set<std::string> referenced;
  for (uint64_t s : {seqs[3], seqs[2]}) {
    absl::StatusOr<CheckpointManifest> m = LoadCheckpoint(*store, "", 0, s);
    ASSERT_TRUE(m.ok());
    for (const CheckpointFile& f : m->files) referenced.insert(f.store_name);
  }
  absl::StatusOr<std::vector<std::string>> stored = store->List(CheckpointFilePrefix(0));
  ASSERT_TRUE(stored.ok());
  for (const std::string& name : *stored) {
    EXPECT_TRUE(referenced.count(name)) << name;
  }
}

// Waits up to 30 s for the cell's background checkpoints to reach `n`.
bool WaitForCheckpoints(Index& index, uint64_t n) {
  for (int i = 0; i < 3000; ++i) {
    if (index.Stats().cells[0].checkpoints_taken >= n) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

TEST(CheckpointTest, BackgroundCheckpointWhenTheJournalGrows) {
  testing::ScratchDir dir;
  Options o = OptionsIn(dir);
  o.background_checkpoints = true;
  o.checkpoint_journal_bytes = 64 << 10;
  o.checkpoint_interval = absl::Hours(1);  // only the size threshold applies
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok());
  // Below the threshold, the checker passes over the cell and leaves it.
  ASSERT_TRUE((*index)->Put({"bucket", "first"}, SizedRecord(1)).ok());
  const uint64_t passes = (*index)->Stats().checkpoint_loop_passes;
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return (*index)->Stats().checkpoint_loop_passes >= passes + 2; }))
      << "the checkpoint loop does not run";
  EXPECT_EQ((*index)->Stats().cells[0].checkpoints_taken, 0u);
  for (int i = 0; i < 600; ++i) {
    ObjectRecord r = SizedRecord(i);
    r.etag = std::string(200, 'e');
    ASSERT_TRUE((*index)->Put({"bucket", absl::StrCat("k", i)}, r).ok());
  }
  // Checkpoints follow the writes (one or more, as the checker's ticks fall)
  // until what is left since the last one is below the threshold.
  ASSERT_TRUE(testing::WaitUntil([&] {
    const CellStats c = (*index)->Stats().cells[0];
    return c.checkpoints_taken >= 1 &&
           c.journal_bytes_since_checkpoint < o.checkpoint_journal_bytes;
  })) << "no checkpoint brought the journal since it below the threshold";
  CellStats c = (*index)->Stats().cells[0];
  EXPECT_GT(c.last_checkpoint_seq, 0u);
  auto store = NewLocalDirStore(&DefaultFs(), dir / "store");
  EXPECT_FALSE(ListCheckpoints(*store, 0)->empty());
}

TEST(CheckpointTest, BackgroundCheckpointWhenTheLastOneIsOld) {
  testing::ScratchDir dir;
  Options o = OptionsIn(dir);
  o.background_checkpoints = true;
  o.checkpoint_journal_bytes = 1ull << 40;  // only the age threshold applies
  o.checkpoint_interval = absl::Milliseconds(300);
  auto index = Index::Open(o);
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->Put({"bucket", "a"}, SizedRecord(1)).ok());
  ASSERT_TRUE(WaitForCheckpoints(**index, 1));
  EXPECT_EQ((*index)->Stats().cells[0].last_checkpoint_seq, 1u);
  ASSERT_TRUE((*index)->Put({"bucket", "b"}, SizedRecord(2)).ok());
  ASSERT_TRUE(WaitForCheckpoints(**index, 2));
  EXPECT_EQ((*index)->Stats().cells[0].last_checkpoint_seq, 2u);
}

}  // namespace
}  // namespace cellindex
