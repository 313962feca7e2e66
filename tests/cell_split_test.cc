// A child's local state made from its parent's (index/cell/cell_split.h):
// both halves of a split hold exactly the parent's records of their range,
// with their reverse index, count, applied_seq and identity; the parent is
// left as it was; what is not a child, or
// would overwrite, is refused.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "index/cell/cell_keys.h"
#include "index/cell/cell_split.h"
#include "recovery/store/layout.h"
#include "tests/four_cells.h"

namespace cellindex {
namespace {

class CellSplitTest : public ::testing::Test {
 protected:
  // One cell holding k000..k099 (checkpointed, overwritten, some deleted),
  // closed.
  void SetUp() override {
    options_ = testing::FourCells(dir_);
    options_.cell_boundaries.clear();
    {
      std::unique_ptr<Index> index = testing::OpenIndexOrFail(options_);
      ASSERT_NE(index, nullptr);
      want_ = testing::Populate(*index);
      const CellMap map = index->cell_map();
      parent_.index_id = map.index_id();
      parent_.range = map.cells()[0];
    }
    parent_dir_ = CellDbDir(options_.data_dir, 0);
    ASSERT_TRUE(std::filesystem::exists(parent_dir_ + "/CURRENT"));
    testing::RawCellDb raw(parent_dir_);
    absl::StatusOr<StoredState> state = ReadState(raw.db.get(), rocksdb::ReadOptions());
    ASSERT_TRUE(state.ok()) << state.status();
    parent_state_ = *state;
  }

  CellIdentity Child(CellId id, std::string lo, std::optional<std::string> hi) const {
    CellIdentity c;
    c.index_id = parent_.index_id;
    c.range.id = id;
    c.range.lo = std::move(lo);
    c.range.hi_unbounded = !hi.has_value();
    if (hi) c.range.hi = *hi;
    return c;
  }

  absl::StatusOr<ChildStateReport> Make(const CellIdentity& child, const std::string& child_dir,
                                        const CellIdentity* parent = nullptr) {
    return MakeChildState(options_, resources_, parent_dir_, parent ? *parent : parent_,
                          child_dir, child);
  }

  // Checks the child's state as the deep validation would, and what it
  // holds against `want_`: every record inside the child's range and as
  // written, the deleted ones absent, the count and applied_seq in the
  // state key, the reverse index exactly the records' entries (two each:
  // vol-1, node-1), and the child's identity (not the parent's). Returns
  // the records found.
  uint64_t ExpectChildState(const CellIdentity& child, const std::string& child_dir) {
    testing::RawCellDb raw(child_dir);
    if (raw.db == nullptr) return 0;
    uint64_t records = 0;
    std::set<std::string> objects;
    std::unique_ptr<rocksdb::Iterator> it(raw.db->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(RecordKey("")); it->Valid() && it->key()[0] == kRecordPrefix; it->Next()) {
      const std::string encoded = it->key().ToString().substr(1);
      EXPECT_TRUE(child.range.Contains(encoded)) << Printable(encoded);
      absl::StatusOr<ObjectRecord> rec = DecodeRecord(it->value().ToString());
      EXPECT_TRUE(rec.ok()) << rec.status();
      absl::StatusOr<ObjectKey> key = DecodeKey(encoded);
      EXPECT_TRUE(key.ok());
      if (!rec.ok() || !key.ok()) continue;
      const auto& want = want_.at(key->key);
      EXPECT_TRUE(want.has_value()) << key->key << " was deleted";
      if (want.has_value()) EXPECT_EQ(rec->version, want->version) << key->key;
      objects.insert(encoded);
      ++records;
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    uint64_t in_range = 0;
    for (const auto& [key, rec] : want_) {
      in_range += rec.has_value() && child.range.Contains(EncodeKey({"bucket", key}));
    }
    EXPECT_EQ(records, in_range);
    absl::StatusOr<StoredState> state = ReadState(raw.db.get(), rocksdb::ReadOptions());
    EXPECT_TRUE(state.ok()) << state.status();
    if (state.ok()) {
      EXPECT_EQ(state->count, records);
      EXPECT_EQ(state->applied_seq, parent_state_.applied_seq);
    }
    uint64_t reverse = 0;
    std::unique_ptr<rocksdb::Iterator> rit(
        raw.db->NewIterator(rocksdb::ReadOptions(), raw.locations.get()));
    for (rit->SeekToFirst(); rit->Valid(); rit->Next()) {
      const std::string k = rit->key().ToString();
      absl::string_view object;
      EXPECT_TRUE(ReverseKeyObject(k, &object));
      EXPECT_EQ(objects.count(std::string(object)), 1u) << Printable(std::string(object));
      ++reverse;
    }
    EXPECT_EQ(reverse, 2 * records);
    EXPECT_TRUE(CheckIdentity(raw.db.get(), raw.locations.get(), child, {}).ok());
    EXPECT_TRUE(absl::IsDataLoss(CheckIdentity(raw.db.get(), raw.locations.get(), parent_, {})));
    return records;
  }

  testing::ScratchDir dir_, scratch_;
  Options options_;
  CellResources resources_ = MakeCellResources(Options());
  std::map<std::string, std::optional<ObjectRecord>> want_;
  CellIdentity parent_;
  std::string parent_dir_;
  StoredState parent_state_;
};

TEST_F(CellSplitTest, BothHalvesHoldExactlyTheParentsRecordsOfTheirRange) {
  const std::string at = EncodeKey({"bucket", testing::Key(50)});
  const CellIdentity left = Child(1, "", at);
  const CellIdentity right = Child(2, at, std::nullopt);
  uint64_t total = 0;
  for (const CellIdentity* child : {&left, &right}) {
    SCOPED_TRACE(child->Describe());
    const std::string child_dir = CellDbDir(scratch_ / "host", child->range.id);
    absl::StatusOr<ChildStateReport> report = Make(*child, child_dir);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->applied_seq, parent_state_.applied_seq);
    // One range tombstone each over the records, vol-1's and node-1's
    // entries: the other half's side of each.
    EXPECT_EQ(report->ranges_deleted, 3u);
    EXPECT_FALSE(std::filesystem::exists(child_dir + ".split-staging"));
    total += report->records;

    EXPECT_EQ(ExpectChildState(*child, child_dir), report->records);
    EXPECT_GT(report->records, 0u);
  }
  EXPECT_EQ(total, parent_state_.count);

  // The parent's state is as it was: its own identity, every record.
  std::unique_ptr<Index> index = testing::OpenIndexOrFail(options_);
  ASSERT_NE(index, nullptr);
  testing::ExpectExactly(*index, want_);
}

// The reverse index is trimmed by ranges under each location name: with
// many names, some a prefix of another, objects of each on both sides, and
// a child bounded on both sides, every entry left names an object of the
// child, and every location of the child's objects has its entry.
TEST_F(CellSplitTest, AMiddleChildKeepsExactlyItsReverseEntriesUnderEveryName) {
  const std::vector<std::string> volumes = {"v", "v1", "v10", "w"};
  const std::vector<std::string> nodes = {"n", "n2", "n20"};
  std::map<std::string, ObjectRecord> written;  // encoded key -> record
  {
    std::unique_ptr<Index> index = testing::OpenIndexOrFail(options_);
    ASSERT_NE(index, nullptr);
    for (int i = 0; i < 100; ++i) {
      ObjectRecord r = testing::SizedRecord(i + 1);
      r.locations.clear();
      for (int e = 0; e <= i % 3; ++e) {
        r.locations.push_back({nodes[(i + e) % nodes.size()], volumes[(i * 7 + e) % volumes.size()],
                               static_cast<uint64_t>(e) * 10, 5});
      }
      ASSERT_TRUE(index->Put({"bucket", testing::Key(i)}, r).ok());
      written[EncodeKey({"bucket", testing::Key(i)})] = r;
    }
  }
  const CellIdentity middle = Child(1, EncodeKey({"bucket", testing::Key(30)}),
                                    EncodeKey({"bucket", testing::Key(70)}));
  const std::string child_dir = CellDbDir(scratch_ / "host", 1);
  absl::StatusOr<ChildStateReport> report = Make(middle, child_dir);
  ASSERT_TRUE(report.ok()) << report.status();
  // Both sides of the records and of each of the 7 names.
  EXPECT_EQ(report->ranges_deleted, 2u * (1 + volumes.size() + nodes.size()));
  EXPECT_EQ(report->records, 40u);

  std::set<std::string> want;
  for (const auto& [encoded, rec] : written) {
    if (!middle.range.Contains(encoded)) continue;
    for (const Extent& e : rec.locations) {
      want.insert(ReverseKey(kVolumePrefix, e.volume, encoded));
      want.insert(ReverseKey(kNodePrefix, e.node, encoded));
    }
  }
  testing::RawCellDb raw(child_dir);
  ASSERT_NE(raw.db, nullptr);
  std::set<std::string> got;
  std::unique_ptr<rocksdb::Iterator> it(
      raw.db->NewIterator(rocksdb::ReadOptions(), raw.locations.get()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) got.insert(it->key().ToString());
  ASSERT_TRUE(it->status().ok()) << it->status().ToString();
  EXPECT_EQ(got, want);
  EXPECT_GT(want.size(), 40u);
}

TEST_F(CellSplitTest, RefusesWhatIsNotAChildAndNeverOverwrites) {
  const std::string at = EncodeKey({"bucket", testing::Key(50)});
  const std::string child_dir = CellDbDir(scratch_ / "host", 1);

  CellIdentity foreign = Child(1, "", at);
  foreign.index_id = "another index";
  EXPECT_TRUE(absl::IsInvalidArgument(Make(foreign, child_dir).status()));
  // Its own id, or not inside the parent's range, or empty.
  EXPECT_TRUE(absl::IsInvalidArgument(Make(Child(0, "", at), child_dir).status()));
  CellIdentity narrow_parent = parent_;
  narrow_parent.range.hi_unbounded = false;
  narrow_parent.range.hi = at;
  EXPECT_TRUE(absl::IsInvalidArgument(
      Make(Child(1, at, std::nullopt), child_dir, &narrow_parent).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Make(Child(1, at, at), child_dir).status()));
  EXPECT_FALSE(std::filesystem::exists(child_dir));

  // The parent named is not the state's owner: DataLoss, no child.
  CellIdentity wrong_parent = parent_;
  wrong_parent.range.id = 7;
  EXPECT_TRUE(absl::IsDataLoss(Make(Child(8, "", at), child_dir, &wrong_parent).status()));
  EXPECT_FALSE(std::filesystem::exists(child_dir));

  // No parent state: refused, and none is created.
  const std::string saved = parent_dir_;
  parent_dir_ = scratch_ / "no-such-parent";
  EXPECT_TRUE(absl::IsFailedPrecondition(Make(Child(1, "", at), child_dir).status()));
  EXPECT_FALSE(std::filesystem::exists(parent_dir_));
  parent_dir_ = saved;

  // An existing child directory is never overwritten.
  std::filesystem::create_directories(child_dir);
  { std::ofstream(child_dir + "/mine") << "keep"; }
  EXPECT_TRUE(absl::IsFailedPrecondition(Make(Child(1, "", at), child_dir).status()));
  absl::StatusOr<std::string> mine = ReadFileToString(child_dir + "/mine");
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(*mine, "keep");
}

TEST_F(CellSplitTest, AnEarlierAttemptsStagingIsReplaced) {
  // A crash during an earlier attempt left its staging directory behind.
  const std::string at = EncodeKey({"bucket", testing::Key(50)});
  const std::string child_dir = CellDbDir(scratch_ / "host", 2);
  std::filesystem::create_directories(child_dir + ".split-staging");
  { std::ofstream(child_dir + ".split-staging/CURRENT") << "half-written"; }
  absl::StatusOr<ChildStateReport> report = Make(Child(2, at, std::nullopt), child_dir);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(std::filesystem::exists(child_dir + ".split-staging"));
  EXPECT_EQ(ExpectChildState(Child(2, at, std::nullopt), child_dir), report->records);
}

}  // namespace
}  // namespace cellindex
