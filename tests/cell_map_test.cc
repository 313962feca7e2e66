#include "index/model/cell_map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "index/model/object_key.h"
#include "index/base/file_util.h"
#include "recovery/store/cell_map_file.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

CellMap ThreeCells() {
  absl::StatusOr<CellMap> m =
      CellMap::FromBoundaries({EncodeKey({"bucket", "m"}), EncodeBucketPrefix("zebra")});
  EXPECT_TRUE(m.ok());
  return *m;
}

TEST(CellMapTest, SingleCellCoversEverything) {
  absl::StatusOr<CellMap> m = CellMap::FromBoundaries({});
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->cells().size(), 1u);
  EXPECT_EQ(m->Route(""), 0u);
  EXPECT_EQ(m->Route(EncodeKey({"zzz", "\xf4\x8f\xbf\xbf"})), 0u);
  EXPECT_TRUE(m->cells()[0].hi_unbounded);
}

TEST(CellMapTest, RoutesKeysAtAndAroundEveryBoundary) {
  CellMap m = ThreeCells();
  const std::string b1 = EncodeKey({"bucket", "m"});
  const std::string b2 = EncodeBucketPrefix("zebra");
  // Just below, at, and just above each boundary.
  EXPECT_EQ(m.Route(EncodeKey({"bucket", "l\xff"})), 0u);
  EXPECT_EQ(m.Route(b1), 1u);
  EXPECT_EQ(m.Route(b1 + std::string(1, '\0')), 1u);
  EXPECT_EQ(m.Route(EncodeKey({"bucket", "lzzzz"})), 0u);
  EXPECT_EQ(m.Route(EncodeKey({"bucket", "m0"})), 1u);
  EXPECT_EQ(m.Route(EncodeKey({"zebr", "x"})), 1u);
  EXPECT_EQ(m.Route(b2), 2u);
  EXPECT_EQ(m.Route(EncodeKey({"zebra", "a"})), 2u);
  EXPECT_EQ(m.Route(""), 0u);
  // Every route lands in a cell whose range contains the key.
  for (const std::string& k : {b1, b2, std::string("a"), std::string("bucket"),
                               EncodeKey({"zz", "z"})}) {
    EXPECT_TRUE(m.cells()[m.Route(k)].Contains(k)) << k;
  }
  EXPECT_FALSE(m.cells()[0].Contains(b1));
  EXPECT_FALSE(m.cells()[1].Contains(b2));
  EXPECT_FALSE(m.cells()[1].Contains(EncodeKey({"bucket", "a"})));
}

TEST(CellMapTest, RejectsBadBoundaries) {
  EXPECT_TRUE(absl::IsInvalidArgument(CellMap::FromBoundaries({"b", "a"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CellMap::FromBoundaries({"a", "a"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CellMap::FromBoundaries({""}).status()));
}

TEST(CellMapTest, FromSampleMakesQuantiles) {
  std::vector<std::string> sample;
  for (int i = 0; i < 1000; ++i) sample.push_back(EncodeKey({"bkt", std::to_string(1000 + i)}));
  absl::StatusOr<CellMap> m = CellMap::FromSample(sample, 4);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->cells().size(), 4u);
  std::vector<int> per_cell(4);
  for (const std::string& k : sample) per_cell[m->Route(k)]++;
  for (int n : per_cell) EXPECT_EQ(n, 250);
  // Too few distinct keys: fewer cells, never empty or repeated boundaries.
  absl::StatusOr<CellMap> few = CellMap::FromSample({"a", "a", "b"}, 8);
  ASSERT_TRUE(few.ok());
  EXPECT_EQ(few->Boundaries(), (std::vector<std::string>{"a", "b"}));
}

TEST(CellMapTest, EncodeDecodeRoundTrip) {
  CellMap m = ThreeCells();
  absl::StatusOr<CellMap> d = CellMap::Decode(m.Encode());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->Boundaries(), m.Boundaries());
  EXPECT_EQ(d->epoch(), m.epoch());
  EXPECT_EQ(d->cells()[1].host, "local");
}

TEST(CellMapTest, DamagedMapIsDataLoss) {
  const std::string enc = ThreeCells().Encode();
  for (size_t i = 0; i < enc.size(); ++i) {
    std::string bad = enc;
    bad[i] ^= 0x20;
    EXPECT_TRUE(absl::IsDataLoss(CellMap::Decode(bad).status())) << i;
  }
  EXPECT_TRUE(absl::IsDataLoss(CellMap::Decode(enc.substr(0, enc.size() - 1)).status()));
}

TEST(CellMapTest, SaveAndLoad) {
  testing::ScratchDir dir;
  EXPECT_TRUE(absl::IsNotFound(LoadCellMap(DefaultFs(), dir / "CELLMAP").status()));
  ASSERT_TRUE(SaveCellMap(DefaultFs(), dir / "CELLMAP", ThreeCells()).ok());
  absl::StatusOr<CellMap> loaded = LoadCellMap(DefaultFs(), dir / "CELLMAP");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->Boundaries(), ThreeCells().Boundaries());
  EXPECT_FALSE(PathExists(dir / "CELLMAP.tmp"));
}

}  // namespace
}  // namespace cellindex
