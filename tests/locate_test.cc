// Location lookups: which objects have bytes on a volume or a node, exact
// through overwrites, deletes and a reopen, page by page across cells.
#include "index/cell/locate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "index/index.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

ObjectRecord Rec(std::vector<Extent> extents) {
  ObjectRecord r;
  r.size = 100;
  r.etag = "\"e\"";
  r.locations = std::move(extents);
  return r;
}

using testing::OpenIndexOrFail;
using testing::SmallIndexOptions;

LocateOptions OnVolume(std::string volume, int max_objects = kMaxLocateObjects) {
  LocateOptions o;
  o.volume = std::move(volume);
  o.max_objects = max_objects;
  return o;
}

LocateOptions OnNode(std::string node, int max_objects = kMaxLocateObjects) {
  LocateOptions o;
  o.node = std::move(node);
  o.max_objects = max_objects;
  return o;
}

// Every object of a lookup, following continuation tokens.
std::vector<LocatedObject> All(Index& index, LocateOptions o) {
  std::vector<LocatedObject> all;
  for (int pages = 0; pages < 100000; ++pages) {
    absl::StatusOr<LocateResult> r = index.Locate(o);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) break;
    EXPECT_LE(r->objects.size(), static_cast<size_t>(std::min(o.max_objects, kMaxLocateObjects)));
    EXPECT_EQ(r->is_truncated, !r->next_continuation_token.empty());
    for (LocatedObject& obj : r->objects) all.push_back(std::move(obj));
    if (!r->is_truncated) break;
    o.continuation_token = r->next_continuation_token;
  }
  return all;
}

std::vector<std::string> Names(const std::vector<LocatedObject>& objects) {
  std::vector<std::string> names;
  for (const LocatedObject& o : objects) names.push_back(o.key.bucket + "/" + o.key.key);
  return names;
}

TEST(LocateTest, FindsTheObjectsOnAVolumeOrANodeWithTheirExtents) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir, {EncodeBucketPrefix("mmm")}));
  ASSERT_NE(index, nullptr);
  // Three replicas; an erasure-coded object with two shards on one volume.
  const std::vector<Extent> replicas = {
      {"node-1", "vol-11", 0, 100}, {"node-2", "vol-21", 0, 100}, {"node-3", "vol-31", 0, 100}};
  const std::vector<Extent> shards = {{"node-1", "vol-11", 100, 25},
                                      {"node-1", "vol-11", 125, 25},
                                      {"node-1", "vol-12", 0, 25},
                                      {"node-2", "vol-21", 100, 25}};
  ASSERT_TRUE(index->Put({"zebra", "a/replicated"}, Rec(replicas)).ok());
  absl::StatusOr<uint64_t> v = index->Put({"alpha", "b/coded"}, Rec(shards));
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(index->Put({"alpha", "c/elsewhere"}, Rec({{"node-4", "vol-41", 0, 100}})).ok());

  std::vector<LocatedObject> on_vol = All(*index, OnVolume("vol-11"));
  // Key order across cells: alpha (cell 0) before zebra (cell 1).
  ASSERT_THAT(Names(on_vol), ElementsAre("alpha/b/coded", "zebra/a/replicated"));
  EXPECT_THAT(on_vol[0].extents, ElementsAre(shards[0], shards[1]));
  EXPECT_EQ(on_vol[0].version, *v);
  EXPECT_EQ(on_vol[0].size, 100u);
  EXPECT_THAT(on_vol[1].extents, ElementsAre(replicas[0]));

  std::vector<LocatedObject> on_node = All(*index, OnNode("node-1"));
  ASSERT_THAT(Names(on_node), ElementsAre("alpha/b/coded", "zebra/a/replicated"));
  EXPECT_THAT(on_node[0].extents, ElementsAre(shards[0], shards[1], shards[2]));
  EXPECT_THAT(All(*index, OnVolume("vol-12"))[0].extents, ElementsAre(shards[2]));
  EXPECT_THAT(All(*index, OnVolume("vol-99")), IsEmpty());
  // A name that is a prefix of another name is not that name.
  EXPECT_THAT(All(*index, OnVolume("vol-1")), IsEmpty());
  EXPECT_THAT(All(*index, OnNode("node-")), IsEmpty());
}

TEST(LocateTest, StaysExactThroughOverwriteAndDelete) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir));
  const ObjectKey key{"bucket", "moved"};
  ASSERT_TRUE(index->Put(key, Rec({{"node-1", "vol-1", 0, 100}})).ok());
  ASSERT_TRUE(index->Put({"bucket", "stays"}, Rec({{"node-1", "vol-1", 100, 100}})).ok());
  EXPECT_THAT(Names(All(*index, OnVolume("vol-1"))), ElementsAre("bucket/moved", "bucket/stays"));

  // The overwrite moves the object: gone from the old volume and node.
  absl::StatusOr<uint64_t> v = index->Put(key, Rec({{"node-2", "vol-2", 7, 100}}));
  ASSERT_TRUE(v.ok());
  EXPECT_THAT(Names(All(*index, OnVolume("vol-1"))), ElementsAre("bucket/stays"));
  std::vector<LocatedObject> on_new = All(*index, OnVolume("vol-2"));
  ASSERT_THAT(Names(on_new), ElementsAre("bucket/moved"));
  EXPECT_EQ(on_new[0].version, *v);
  EXPECT_THAT(on_new[0].extents, ElementsAre(Extent{"node-2", "vol-2", 7, 100}));
  EXPECT_THAT(Names(All(*index, OnNode("node-1"))), ElementsAre("bucket/stays"));

  // An overwrite that keeps the volume keeps the entry, with the new extent.
  ASSERT_TRUE(index->Put(key, Rec({{"node-2", "vol-2", 9, 50}})).ok());
  on_new = All(*index, OnVolume("vol-2"));
  ASSERT_EQ(on_new.size(), 1u);
  EXPECT_THAT(on_new[0].extents, ElementsAre(Extent{"node-2", "vol-2", 9, 50}));

  // A delete removes it; a write that fails its precondition changes nothing.
  ASSERT_TRUE(index->Delete(key).ok());
  EXPECT_THAT(All(*index, OnVolume("vol-2")), IsEmpty());
  EXPECT_THAT(All(*index, OnNode("node-2")), IsEmpty());
  Precondition absent;
  absent.if_none_match = true;
  EXPECT_FALSE(index->Put({"bucket", "stays"}, Rec({{"node-3", "vol-3", 0, 1}}), absent).ok());
  EXPECT_THAT(All(*index, OnVolume("vol-3")), IsEmpty());
  EXPECT_THAT(Names(All(*index, OnVolume("vol-1"))), ElementsAre("bucket/stays"));
}

// Random puts, overwrites and deletes over four cells, checked against a
// reference after every round, and again after the index is reopened (the
// journal replay rebuilds the same reverse index).
TEST(LocateTest, RandomizedAgainstReferenceAndAfterReopen) {
  testing::ScratchDir dir;
  const Options options = SmallIndexOptions(
      dir, {EncodeKey({"bucket", "k2"}), EncodeKey({"bucket", "k5"}), EncodeBucketPrefix("other")});
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  constexpr int kNodes = 3, kVolumesPerNode = 3;

  std::map<std::string, ObjectRecord> model;  // by encoded key
  auto check = [&](Index& index) {
    for (int n = 0; n < kNodes; ++n) {
      for (int v = -1; v < kVolumesPerNode; ++v) {
        const std::string node = absl::StrCat("node-", n);
        const std::string volume = absl::StrCat("vol-", n, "-", v);
        std::vector<std::string> want_names;
        std::vector<std::vector<Extent>> want_extents;
        for (const auto& [encoded, rec] : model) {
          std::vector<Extent> mine;
          for (const Extent& e : rec.locations) {
            if (v < 0 ? e.node == node : e.volume == volume) mine.push_back(e);
          }
          if (mine.empty()) continue;
          absl::StatusOr<ObjectKey> key = DecodeKey(encoded);
          want_names.push_back(key->bucket + "/" + key->key);
          want_extents.push_back(std::move(mine));
        }
        const int page = std::vector<int>{1, 2, 3, 7, 1000}[pick(5)];
        std::vector<LocatedObject> got =
            All(index, v < 0 ? OnNode(node, page) : OnVolume(volume, page));
        ASSERT_EQ(Names(got), want_names) << (v < 0 ? node : volume) << " page " << page;
        for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i].extents, want_extents[i]);
      }
    }
  };

  {
    auto index = OpenIndexOrFail(options);
    ASSERT_NE(index, nullptr);
    for (int round = 0; round < 8; ++round) {
      for (int op = 0; op < 60; ++op) {
        const std::string bucket = pick(4) == 0 ? "other" : "bucket";
        const ObjectKey key{bucket, absl::StrCat("k", pick(9), "/", pick(5))};
        if (pick(4) == 0) {
          if (index->Delete(key).ok()) model.erase(EncodeKey(key));
          continue;
        }
        std::vector<Extent> extents;
        for (size_t i = 0, n = 1 + pick(3); i < n; ++i) {
          const int node = static_cast<int>(pick(kNodes));
          extents.push_back({absl::StrCat("node-", node),
                             absl::StrCat("vol-", node, "-", pick(kVolumesPerNode)), i * 100,
                             1 + pick(100)});
        }
        ObjectRecord rec = Rec(extents);
        ASSERT_TRUE(index->Put(key, rec).ok());
        model[EncodeKey(key)] = rec;
      }
      check(*index);
      if (HasFatalFailure()) return;
    }
  }
  auto reopened = OpenIndexOrFail(options);
  ASSERT_NE(reopened, nullptr);
  check(*reopened);
}

TEST(LocateTest, PagesAndContinuationTokens) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir, {EncodeKey({"bucket", "k3"})}));
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(index->Put({"bucket", absl::StrCat("k", i)}, Rec({{"n", "v", 0, 1}})).ok());
  }
  absl::StatusOr<LocateResult> page = index->Locate(OnVolume("v", 4));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->objects.size(), 4u);
  ASSERT_TRUE(page->is_truncated);
  LocateOptions next = OnVolume("v", 4);
  next.continuation_token = page->next_continuation_token;
  absl::StatusOr<LocateResult> last = index->Locate(next);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_THAT(Names(last->objects), ElementsAre("bucket/k4", "bucket/k5"));
  EXPECT_FALSE(last->is_truncated);
  EXPECT_EQ(last->next_continuation_token, "");

  // Exactly a full last page: not truncated, no empty page after it.
  page = index->Locate(OnVolume("v", 6));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), 6u);
  EXPECT_FALSE(page->is_truncated);
  page = index->Locate(OnVolume("v", 0));
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->objects, IsEmpty());
  EXPECT_FALSE(page->is_truncated);

  // A token is bound to its volume (or node); altered tokens are refused.
  const std::string token = index->Locate(OnVolume("v", 1))->next_continuation_token;
  std::string altered = token;
  altered[3] = altered[3] == 'x' ? 'y' : 'x';
  const std::vector<std::pair<LocateOptions, std::string>> cases = {
      {OnVolume("w"), "another volume"},
      {OnNode("n"), "another kind"},
      {OnVolume("v"), "continuation token"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    LocateOptions o = cases[i].first;
    o.continuation_token = i + 1 < cases.size() ? token : altered;
    absl::StatusOr<LocateResult> r = index->Locate(o);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(cases[i].second));
  }
}

// LocateOptions::cell: one cell's part, as a cluster client reads it.
TEST(LocateTest, OneCellsPartHoldsOnlyItsObjects) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir, {EncodeKey({"bucket", "k3"})}));
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(index->Put({"bucket", absl::StrCat("k", i)}, Rec({{"n", "v", 0, 1}})).ok());
  }
  const CellMap map = index->cell_map();
  ASSERT_EQ(map.cells().size(), 2u);
  LocateOptions o = OnVolume("v");
  o.cell = map.cells()[0].id;
  EXPECT_THAT(Names(All(*index, o)), ElementsAre("bucket/k0", "bucket/k1", "bucket/k2"));
  o.cell = map.cells()[1].id;
  EXPECT_THAT(Names(All(*index, o)), ElementsAre("bucket/k3", "bucket/k4", "bucket/k5"));
  // Paged within the cell; its token continues the whole lookup.
  o = OnVolume("v", 2);
  o.cell = map.cells()[0].id;
  absl::StatusOr<LocateResult> page = index->Locate(o);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_TRUE(page->is_truncated);
  LocateOptions whole = OnVolume("v");
  whole.continuation_token = page->next_continuation_token;
  EXPECT_THAT(Names(All(*index, whole)),
              ElementsAre("bucket/k2", "bucket/k3", "bucket/k4", "bucket/k5"));
  // Exactly full at the cell's end: not truncated.
  o = OnVolume("v", 3);
  o.cell = map.cells()[0].id;
  page = index->Locate(o);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), 3u);
  EXPECT_FALSE(page->is_truncated);
  o.cell = 77;
  EXPECT_TRUE(absl::IsInvalidArgument(index->Locate(o).status()));
}

TEST(LocateTest, InvalidInputIsRefusedNamingTheProblem) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir));
  LocateOptions both = OnVolume("v");
  both.node = "n";
  const std::vector<std::pair<LocateOptions, std::string>> cases = {
      {LocateOptions{}, "exactly one of a volume and a node"},
      {both, "exactly one of a volume and a node"},
      {OnVolume("vol:1"), "invalid volume name"},
      {OnNode(std::string("n\0x", 3)), "invalid node name"},
      {OnVolume(std::string(256, 'v')), "invalid volume name"},
      {OnVolume("v", -1), "max objects"},
  };
  for (const auto& [options, message] : cases) {
    absl::StatusOr<LocateResult> r = index->Locate(options);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << message << ": " << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(message));
  }
}

}  // namespace
}  // namespace cellindex
