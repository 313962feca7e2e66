#include "index/model/cell_map.h"

#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "index/base/coding.h"
#include "index/model/object_key.h"
#include "index/base/file_util.h"
#include "recovery/store/cell_map_file.h"
#include "tests/test_util.h"

namespace cellindex {

inline std::ostream& operator<<(std::ostream& os, CellOrigin o) { return os << CellOriginName(o); }
inline std::ostream& operator<<(std::ostream& os, const CellParent& p) {
  return os << "{" << p.id << ", " << p.seq << "}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

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

// ---- Split, merge and lineage ------------------------------------------------

const absl::Time kBorn = absl::FromUnixSeconds(1700000000);

// Every field of every cell, lineage and header included.
void ExpectSameMap(const CellMap& a, const CellMap& b) {
  EXPECT_EQ(a.index_id(), b.index_id());
  EXPECT_EQ(a.epoch(), b.epoch());
  EXPECT_EQ(a.next_cell_id(), b.next_cell_id());
  ASSERT_EQ(a.cells().size(), b.cells().size());
  for (size_t i = 0; i < a.cells().size(); ++i) {
    const CellRange& x = a.cells()[i];
    const CellRange& y = b.cells()[i];
    EXPECT_EQ(x.id, y.id) << i;
    EXPECT_EQ(x.lo, y.lo) << i;
    EXPECT_EQ(x.hi, y.hi) << i;
    EXPECT_EQ(x.hi_unbounded, y.hi_unbounded) << i;
    EXPECT_EQ(x.host, y.host) << i;
    EXPECT_EQ(x.lineage.origin, y.lineage.origin) << i;
    EXPECT_EQ(x.lineage.parents, y.lineage.parents) << i;
    EXPECT_EQ(x.lineage.born, y.lineage.born) << i;
  }
}

std::vector<CellId> Ids(const CellMap& m) {
  std::vector<CellId> ids;
  for (const CellRange& c : m.cells()) ids.push_back(c.id);
  return ids;
}

TEST(CellMapTest, NewMapHasNoLineageAndNextIdIsTheCellCount) {
  CellMap m = ThreeCells();
  EXPECT_EQ(m.next_cell_id(), 3u);
  for (const CellRange& c : m.cells()) {
    EXPECT_EQ(c.lineage.origin, CellOrigin::kNone);
    EXPECT_TRUE(c.lineage.parents.empty());
    EXPECT_EQ(c.lineage.born, absl::UnixEpoch());
  }
  EXPECT_EQ(m.IndexOf(2), 2u);
  EXPECT_EQ(m.IndexOf(3), std::nullopt);
}

TEST(CellMapTest, SplitReplacesTheParentWithTwoChildren) {
  CellMap m = ThreeCells();
  ASSERT_TRUE(m.SetHost(1, "h1").ok());
  const CellMap before = m;
  const std::string b1 = EncodeKey({"bucket", "m"});
  const std::string b2 = EncodeBucketPrefix("zebra");
  const std::string at = EncodeKey({"photos", ""});
  absl::StatusOr<CellMap> s = m.Split(1, at, 42, kBorn);
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectSameMap(m, before);  // the original is untouched

  EXPECT_EQ(s->epoch(), m.epoch() + 1);
  EXPECT_EQ(s->next_cell_id(), 5u);
  EXPECT_THAT(Ids(*s), ElementsAre(0, 3, 4, 2));
  EXPECT_EQ(s->Boundaries(), (std::vector<std::string>{b1, at, b2}));
  for (size_t i : {1, 2}) {
    const CellRange& c = s->cells()[i];
    EXPECT_EQ(c.host, "h1");
    EXPECT_EQ(c.lineage.origin, CellOrigin::kSplit);
    EXPECT_THAT(c.lineage.parents, ElementsAre(CellParent{1, 42}));
    EXPECT_EQ(c.lineage.born, kBorn);
  }
  EXPECT_FALSE(s->cells()[1].hi_unbounded);
  EXPECT_EQ(s->cells()[1].hi, at);
  EXPECT_EQ(s->cells()[2].lo, at);
  // The untouched neighbours keep their lineage.
  EXPECT_EQ(s->cells()[0].lineage.origin, CellOrigin::kNone);
  EXPECT_EQ(s->cells()[3].lineage.origin, CellOrigin::kNone);

  // Keys on both sides of the split key; the key itself goes right.
  EXPECT_EQ(s->Route(b1), 1u);
  EXPECT_EQ(s->Route(EncodeKey({"photor", "z"})), 1u);
  EXPECT_EQ(s->Route(at), 2u);
  EXPECT_EQ(s->Route(at + std::string(1, '\0')), 2u);
  EXPECT_EQ(s->Route(EncodeKey({"photos", "a"})), 2u);
  EXPECT_EQ(s->Route(b2), 3u);
  EXPECT_EQ(s->Route(""), 0u);
  for (const std::string& k : {b1, at, b2, EncodeKey({"photor", "z"}), EncodeKey({"zz", "z"})}) {
    EXPECT_TRUE(s->cells()[s->Route(k)].Contains(k)) << absl::CEscape(k);
  }
  EXPECT_FALSE(s->cells()[1].Contains(at));
}

TEST(CellMapTest, SplitOfTheLastCellKeepsTheRightChildUnbounded) {
  absl::StatusOr<CellMap> m = CellMap::FromBoundaries({"m"});
  ASSERT_TRUE(m.ok());
  absl::StatusOr<CellMap> s = m->Split(1, "t", 7, kBorn);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->cells().size(), 3u);
  EXPECT_FALSE(s->cells()[1].hi_unbounded);
  EXPECT_EQ(s->cells()[1].hi, "t");
  EXPECT_TRUE(s->cells()[2].hi_unbounded);
  EXPECT_EQ(s->Route("s\xff"), 1u);
  EXPECT_EQ(s->Route("t"), 2u);
  EXPECT_EQ(s->Route("\xff\xff\xff"), 2u);
}

TEST(CellMapTest, MergeJoinsNeighboursOnTheLeftHost) {
  CellMap m = ThreeCells();
  ASSERT_TRUE(m.SetHost(1, "h1").ok());
  ASSERT_TRUE(m.SetHost(2, "h2").ok());
  const CellMap before = m;
  const std::string b1 = EncodeKey({"bucket", "m"});
  absl::StatusOr<CellMap> merged = m.Merge(1, 2, 10, 20, kBorn);
  ASSERT_TRUE(merged.ok()) << merged.status();
  ExpectSameMap(m, before);

  EXPECT_EQ(merged->epoch(), m.epoch() + 1);
  EXPECT_EQ(merged->next_cell_id(), 4u);
  EXPECT_THAT(Ids(*merged), ElementsAre(0, 3));
  const CellRange& c = merged->cells()[1];
  EXPECT_EQ(c.lo, b1);
  EXPECT_TRUE(c.hi_unbounded);
  EXPECT_EQ(c.host, "h1");
  EXPECT_EQ(c.lineage.origin, CellOrigin::kMerge);
  EXPECT_THAT(c.lineage.parents, ElementsAre(CellParent{1, 10}, CellParent{2, 20}));
  EXPECT_EQ(c.lineage.born, kBorn);
  EXPECT_EQ(merged->Route(EncodeBucketPrefix("zebra")), 1u);
  EXPECT_EQ(merged->Route(b1), 1u);
  EXPECT_EQ(merged->Route(EncodeKey({"bucket", "l"})), 0u);
}

TEST(CellMapTest, SplitThenMergeRoundTripsWithLineage) {
  CellMap m = ThreeCells();
  m.set_index_id("0123456789abcdef0123456789abcdef");
  const std::string at = EncodeKey({"photos", ""});
  absl::StatusOr<CellMap> split = m.Split(1, at, 42, kBorn);
  ASSERT_TRUE(split.ok()) << split.status();
  absl::StatusOr<CellMap> merged =
      split->Merge(0, 3, 5, 43, kBorn + absl::Microseconds(1234567));
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_THAT(Ids(*merged), ElementsAre(5, 4, 2));

  for (const CellMap* map : {&*split, &*merged}) {
    const std::string enc = map->Encode();
    EXPECT_EQ(static_cast<uint8_t>(enc[4]), 3);
    absl::StatusOr<CellMap> d = CellMap::Decode(enc);
    ASSERT_TRUE(d.ok()) << d.status();
    ExpectSameMap(*d, *map);
    EXPECT_EQ(d->Encode(), enc);
  }
  absl::StatusOr<CellMap> d = CellMap::Decode(merged->Encode());
  ASSERT_TRUE(d.ok());
  EXPECT_THAT(d->cells()[0].lineage.parents, ElementsAre(CellParent{0, 5}, CellParent{3, 43}));
  EXPECT_EQ(d->cells()[0].lineage.born, kBorn + absl::Microseconds(1234567));
  EXPECT_THAT(d->cells()[1].lineage.parents, ElementsAre(CellParent{1, 42}));
}

TEST(CellMapTest, CellIdsAreNeverReused) {
  CellMap m = ThreeCells();
  std::set<CellId> used = {0, 1, 2};
  // Split and merge back and forth over the same keys; every new cell gets an
  // id no cell ever had, across an encode and decode too.
  for (int round = 0; round < 3; ++round) {
    const CellId first = m.cells()[0].id;
    absl::StatusOr<CellMap> s = m.Split(first, "a", 1, kBorn);
    ASSERT_TRUE(s.ok()) << s.status();
    for (size_t i : {0, 1}) {
      EXPECT_TRUE(used.insert(s->cells()[i].id).second) << "id reused: " << s->cells()[i].id;
    }
    absl::StatusOr<CellMap> merged =
        s->Merge(s->cells()[0].id, s->cells()[1].id, 2, 3, kBorn);
    ASSERT_TRUE(merged.ok()) << merged.status();
    EXPECT_TRUE(used.insert(merged->cells()[0].id).second)
        << "id reused: " << merged->cells()[0].id;
    EXPECT_EQ(merged->Boundaries(), m.Boundaries());
    absl::StatusOr<CellMap> d = CellMap::Decode(merged->Encode());
    ASSERT_TRUE(d.ok()) << d.status();
    m = *std::move(d);
    EXPECT_GT(m.next_cell_id(), *used.rbegin());
  }
  EXPECT_EQ(used.size(), 3u + 3 * 3);
}

TEST(CellMapTest, EpochGrowsByOnePerChange) {
  CellMap m = ThreeCells();
  const uint64_t e = m.epoch();
  absl::StatusOr<CellMap> s = m.Split(2, EncodeBucketPrefix("zebra") + "x", 1, kBorn);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->epoch(), e + 1);
  absl::StatusOr<CellMap> merged = s->Merge(3, 4, 1, 1, kBorn);
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->epoch(), e + 2);
  ASSERT_TRUE(merged->SetHost(5, "h9").ok());
  EXPECT_EQ(merged->epoch(), e + 3);
  EXPECT_EQ(merged->cells()[merged->IndexOf(5).value()].host, "h9");
  EXPECT_EQ(m.epoch(), e);
}

TEST(CellMapTest, SplitRefusesBadArguments) {
  const CellMap m = ThreeCells();
  const std::string b1 = EncodeKey({"bucket", "m"});
  const std::string b2 = EncodeBucketPrefix("zebra");
  const std::string inside = EncodeKey({"photos", ""});
  struct Case {
    CellId id;
    std::string at;
    const char* says;
  };
  const Case cases[] = {
      {7, inside, "no cell with that id"},
      {1, "", "not strictly inside"},               // the empty key
      {0, "", "not strictly inside"},               // = cell 0's lo
      {1, b1, "not strictly inside"},               // at == lo
      {1, "a", "not strictly inside"},              // below lo
      {1, b2, "not strictly inside"},               // at == hi
      {1, b2 + "x", "not strictly inside"},         // above hi
      {2, b1, "not strictly inside"},               // below the unbounded cell's lo
  };
  for (const Case& c : cases) {
    absl::StatusOr<CellMap> s = m.Split(c.id, c.at, 1, kBorn);
    EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << c.id << " " << absl::CEscape(c.at);
    EXPECT_THAT(s.status().message(), HasSubstr(c.says));
    EXPECT_THAT(s.status().message(), HasSubstr(absl::StrCat("cell ", c.id)));
  }
  for (absl::Time bad : {absl::InfinitePast(), absl::InfiniteFuture(),
                         absl::UnixEpoch() - absl::Microseconds(1)}) {
    EXPECT_TRUE(absl::IsInvalidArgument(m.Split(1, inside, 1, bad).status()));
  }
  // The boundaries themselves work one step inside.
  EXPECT_TRUE(m.Split(1, b1 + std::string(1, '\0'), 1, kBorn).ok());
  EXPECT_TRUE(m.Split(0, "\x01", 1, absl::UnixEpoch()).ok());
}

TEST(CellMapTest, MergeRefusesBadArguments) {
  const CellMap m = ThreeCells();
  struct Case {
    CellId left, right;
    const char* says;
  };
  const Case cases[] = {
      {7, 1, "no cell with id 7"},
      {1, 8, "no cell with id 8"},
      {0, 2, "cell 2 is not the right neighbour of cell 0"},
      {1, 0, "cell 0 is not the right neighbour of cell 1"},
      {1, 1, "cell 1 is not the right neighbour of cell 1"},
      {2, 0, "cell 0 is not the right neighbour of cell 2"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<CellMap> merged = m.Merge(c.left, c.right, 1, 1, kBorn);
    EXPECT_TRUE(absl::IsInvalidArgument(merged.status())) << c.left << " " << c.right;
    EXPECT_THAT(merged.status().message(), HasSubstr(c.says));
  }
  EXPECT_TRUE(absl::IsInvalidArgument(m.Merge(0, 1, 1, 1, absl::InfinitePast()).status()));
  // A retired id is unknown, like one never used.
  absl::StatusOr<CellMap> s = m.Split(1, EncodeKey({"photos", ""}), 1, kBorn);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(s->Merge(0, 1, 1, 1, kBorn).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(s->Split(1, EncodeKey({"photos", "x"}), 1, kBorn).status()));
  CellMap copy = m;
  EXPECT_TRUE(absl::IsInvalidArgument(copy.SetHost(3, "h")));
  EXPECT_EQ(copy.epoch(), m.epoch());
}

// Format 2, as the build before lineage wrote it: FromBoundaries({"g", "p"},
// "h1"), index id "0123456789abcdef0123456789abcdef", then MoveCell(1, "h2").
constexpr char kFormat2Golden[] =
    "434d4150022030313233343536373839616263646566303132333435363738396162636465660203000000016702"
    "683101016700017002683202017001000268310c7d28b62a829d1d";

TEST(CellMapTest, DecodesFormat2) {
  absl::StatusOr<CellMap> m = CellMap::Decode(absl::HexStringToBytes(kFormat2Golden));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->index_id(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(m->epoch(), 2u);
  EXPECT_EQ(m->Boundaries(), (std::vector<std::string>{"g", "p"}));
  EXPECT_THAT(Ids(*m), ElementsAre(0, 1, 2));
  EXPECT_EQ(m->cells()[0].host, "h1");
  EXPECT_EQ(m->cells()[1].host, "h2");
  EXPECT_EQ(m->cells()[2].host, "h1");
  EXPECT_EQ(m->next_cell_id(), 3u);
  for (const CellRange& c : m->cells()) {
    EXPECT_EQ(c.lineage.origin, CellOrigin::kNone);
    EXPECT_TRUE(c.lineage.parents.empty());
    EXPECT_EQ(c.lineage.born, absl::UnixEpoch());
  }
  // Written back in the new format, the same map.
  const std::string enc = m->Encode();
  EXPECT_EQ(static_cast<uint8_t>(enc[4]), 3);
  absl::StatusOr<CellMap> again = CellMap::Decode(enc);
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectSameMap(*again, *m);
}

// A format-2 map built field by field, with the given cell ids.
std::string Format2(const std::vector<CellId>& ids) {
  std::string out;
  PutFrameHeader(&out, 0x50414d43, 2);
  PutLengthPrefixed(&out, "idx");
  PutVarint64(&out, 9);  // epoch
  PutVarint64(&out, ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    CellRange c;
    c.id = ids[i];
    c.lo = i == 0 ? "" : std::string(1, static_cast<char>('a' + i));
    c.hi_unbounded = i + 1 == ids.size();
    if (!c.hi_unbounded) c.hi = std::string(1, static_cast<char>('a' + i + 1));
    PutCellRange(&out, c);
    PutLengthPrefixed(&out, "local");
  }
  PutChecksumTrailer(&out);
  return out;
}

TEST(CellMapTest, Format2NextIdIsAboveTheLargestId) {
  absl::StatusOr<CellMap> m = CellMap::Decode(Format2({4, 9, 2}));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->next_cell_id(), 10u);
  absl::StatusOr<CellMap> s = m->Split(9, "bb", 1, kBorn);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Ids(*s), ElementsAre(4, 10, 11, 2));

  absl::Status dup = CellMap::Decode(Format2({4, 2, 4})).status();
  EXPECT_TRUE(absl::IsDataLoss(dup)) << dup;
  EXPECT_THAT(dup.message(), HasSubstr("cell id 4 is used twice"));
}

// A format-3 map built field by field, so that it can say what Encode never
// would.
struct RawCell {
  CellId id;
  uint8_t origin = 0;
  std::vector<CellParent> parents;
  uint64_t born = 0;
};
std::string Format3(uint64_t next_id, const std::vector<RawCell>& cells) {
  std::string out;
  PutFrameHeader(&out, 0x50414d43, 3);
  PutLengthPrefixed(&out, "idx");
  PutVarint64(&out, 9);  // epoch
  PutVarint64(&out, next_id);
  PutVarint64(&out, cells.size());
  for (size_t i = 0; i < cells.size(); ++i) {
    CellRange c;
    c.id = cells[i].id;
    c.lo = i == 0 ? "" : std::string(1, static_cast<char>('a' + i));
    c.hi_unbounded = i + 1 == cells.size();
    if (!c.hi_unbounded) c.hi = std::string(1, static_cast<char>('a' + i + 1));
    PutCellRange(&out, c);
    PutLengthPrefixed(&out, "local");
    out.push_back(static_cast<char>(cells[i].origin));
    PutVarint64(&out, cells[i].parents.size());
    for (const CellParent& p : cells[i].parents) {
      PutVarint64(&out, p.id);
      PutVarint64(&out, p.seq);
    }
    PutVarint64(&out, cells[i].born);
  }
  PutChecksumTrailer(&out);
  return out;
}

TEST(CellMapTest, DamagedLineageIsDataLoss) {
  // A well-formed map from the builder: cell 0 original, 3 split from 1,
  // 7 merged from 2 and 6 (1, 2 and 6 retired).
  const RawCell none{0};
  const RawCell split3{3, 1, {{1, 8}}};
  const RawCell merge7{7, 2, {{2, 5}, {6, 9}}, 1700000000000000};
  absl::StatusOr<CellMap> good = CellMap::Decode(Format3(8, {none, split3, merge7}));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->next_cell_id(), 8u);
  EXPECT_THAT(good->cells()[2].lineage.parents, ElementsAre(CellParent{2, 5}, CellParent{6, 9}));
  EXPECT_EQ(good->cells()[2].lineage.born, absl::FromUnixMicros(1700000000000000));

  struct Case {
    std::string encoded;
    const char* says;
  };
  RawCell bad_origin = split3;
  bad_origin.origin = 3;
  RawCell split_two_parents = split3;
  split_two_parents.parents.push_back({2, 1});
  RawCell merge_one_parent = merge7;
  merge_one_parent.parents.pop_back();
  RawCell none_with_parent = none;
  none_with_parent.parents = {{1, 1}};
  RawCell parent_alive = split3;
  parent_alive.parents = {{0, 1}};
  RawCell parent_newer = split3;
  parent_newer.parents = {{5, 1}};
  RawCell merge_self = merge7;
  merge_self.parents = {{2, 1}, {2, 1}};
  RawCell born_too_late = merge7;
  born_too_late.born = uint64_t{1} << 63;
  const Case cases[] = {
      {Format3(8, {none, bad_origin, merge7}), "unknown cell origin"},
      {Format3(8, {none, split_two_parents, merge7}), "parent count disagrees with the origin"},
      {Format3(8, {none, split3, merge_one_parent}), "parent count disagrees with the origin"},
      {Format3(8, {none_with_parent, split3, merge7}), "parent count disagrees with the origin"},
      {Format3(7, {none, split3, merge7}), "next cell id 7 is not above cell 7"},
      {Format3(2, {none, split3, merge7}), "next cell id 2 is not above cell 7"},
      {Format3(8, {none, split3, split3}), "cell id 3 is used twice"},
      {Format3(8, {none, parent_alive, merge7}), "cell 3 has parent 0, which is still a cell"},
      {Format3(8, {none, parent_newer, merge7}), "cell 3 has parent 5, a newer id"},
      {Format3(8, {none, split3, merge_self}), "cell 7 merges cell 2 with itself"},
      {Format3(8, {none, split3, born_too_late}), "bad cell entry"},
      {Format3(uint64_t{1} << 33, {none, split3, merge7}), "bad header"},
  };
  for (const Case& c : cases) {
    absl::Status st = CellMap::Decode(c.encoded).status();
    EXPECT_TRUE(absl::IsDataLoss(st)) << c.says << ": " << st;
    EXPECT_THAT(st.message(), HasSubstr("cell map is damaged: "));
    EXPECT_THAT(st.message(), HasSubstr(c.says));
  }
  // Neither an older nor a newer format byte.
  for (char format : {1, 4}) {
    std::string other = Format3(8, {none, split3, merge7});
    other[4] = format;
    other.resize(other.size() - 8);
    PutChecksumTrailer(&other);
    absl::Status st = CellMap::Decode(other).status();
    EXPECT_TRUE(absl::IsDataLoss(st)) << st;
    EXPECT_THAT(st.message(), HasSubstr("unknown format"));
  }
}

}  // namespace
}  // namespace cellindex
