// Listing (S3 ListObjectsV2 semantics) across cells: a randomized comparison
// with an in-memory reference, the named edge cases, continuation tokens, and
// cells that are not serving.
#include "index/cell/listing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "index/cell/cell.h"
#include "index/model/page_range.h"
#include "index/index.h"
#include "rocksdb/perf_context.h"
#include "rocksdb/perf_level.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using testing::OpenIndexOrFail;
using testing::SizedRecord;
using testing::SmallIndexOptions;

void PutAll(Index& index, const std::string& bucket, const std::vector<std::string>& keys) {
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(index.Put({bucket, keys[i]}, SizedRecord(i)).ok()) << keys[i];
  }
}

// ListOptions in one expression: Opts().prefix("a/").delimiter("/").
struct Opts {
  ListOptions o;
  Opts& prefix(std::string v) { return o.prefix = std::move(v), *this; }
  Opts& delimiter(std::string v) { return o.delimiter = std::move(v), *this; }
  Opts& start_after(std::string v) { return o.start_after = std::move(v), *this; }
  Opts& continuation_token(std::string v) { return o.continuation_token = std::move(v), *this; }
  Opts& max_keys(int v) { return o.max_keys = v, *this; }
  operator ListOptions() const { return o; }
};

ListResult MustList(Index& index, const std::string& bucket, const ListOptions& o) {
  absl::StatusOr<ListResult> r = index.List(bucket, o);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : ListResult();
}

std::vector<std::string> Keys(const ListResult& r) {
  std::vector<std::string> keys;
  for (const ListedObject& o : r.contents) keys.push_back(o.key);
  return keys;
}

// Every page of a listing, followed by continuation tokens.
std::vector<ListResult> AllPages(Index& index, const std::string& bucket, ListOptions o) {
  std::vector<ListResult> pages;
  for (;;) {
    pages.push_back(MustList(index, bucket, o));
    if (!pages.back().is_truncated || pages.size() > 10000) return pages;
    o.continuation_token = pages.back().next_continuation_token;
  }
}

// ---- The reference: ListObjectsV2 over a std::map, written from the spec --

struct RefPage {
  std::vector<std::pair<std::string, uint64_t>> contents;
  std::vector<std::string> common_prefixes;
  bool is_truncated = false;
  std::string last;  // the last entry, key or common prefix
  bool last_is_prefix = false;
};

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The page after `after` (a key, or a common prefix already returned).
RefPage RefList(const std::map<std::string, uint64_t>& keys, const std::string& prefix,
                const std::string& delimiter, const std::string& after, bool after_is_prefix,
                int max_keys) {
  struct Entry {
    std::string s;
    bool is_prefix;
    uint64_t size;
  };
  std::vector<Entry> entries;
  for (const auto& [k, size] : keys) {
    if (!StartsWith(k, prefix)) continue;
    if (after_is_prefix ? (k < after || StartsWith(k, after)) : k <= after) continue;
    const size_t cut = delimiter.empty() ? std::string::npos : k.find(delimiter, prefix.size());
    if (cut != std::string::npos) {
      std::string common = k.substr(0, cut + delimiter.size());
      if (entries.empty() || !entries.back().is_prefix || entries.back().s != common) {
        entries.push_back({common, true, 0});
      }
      continue;
    }
    entries.push_back({k, false, size});
  }
  RefPage page;
  const size_t n = std::min<size_t>(entries.size(), std::min(max_keys, 1000));
  for (size_t i = 0; i < n; ++i) {
    if (entries[i].is_prefix) {
      page.common_prefixes.push_back(entries[i].s);
    } else {
      page.contents.push_back({entries[i].s, entries[i].size});
    }
    page.last = entries[i].s;
    page.last_is_prefix = entries[i].is_prefix;
  }
  page.is_truncated = n > 0 && entries.size() > n;
  return page;
}

std::string Describe(const std::string& bucket, const ListOptions& o) {
  return absl::StrCat("bucket=", bucket, " prefix='", o.prefix, "' delimiter='", o.delimiter,
                      "' start_after='", o.start_after, "' max_keys=", o.max_keys,
                      " token=", o.continuation_token.empty() ? "no" : "yes");
}

// The randomized model test; with `reshape`, cells also split (at their
// median) and merge (with their right neighbour) between the pages of a
// listing, as the index does by itself when cells grow and shrink.
void ListingModel(bool reshape) {
  testing::ScratchDir dir;
  const std::vector<std::string> buckets = {"alpha", "bravo"};
  // Six cells, with boundaries inside groups the delimiters form.
  auto index = OpenIndexOrFail(SmallIndexOptions(
      dir, {EncodeKey({"alpha", "a/"}), EncodeKey({"alpha", "ab"}), EncodeKey({"alpha", "é"}),
            EncodeBucketPrefix("bravo"), EncodeKey({"bravo", "日/a"})}));
  ASSERT_NE(index, nullptr);
  ASSERT_EQ(index->cell_map().cells().size(), 6u);

  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  const std::vector<std::string> tokens = {"a", "b", "ab", "é", "日", "/", "-", "/-/"};
  auto random_string = [&](size_t min_tokens, size_t max_tokens) {
    std::string s;
    const size_t n = min_tokens + pick(max_tokens - min_tokens + 1);
    for (size_t i = 0; i < n; ++i) s += tokens[pick(tokens.size())];
    return s;
  };
  const std::vector<std::string> delimiters = {"", "", "/", "/", "-", "/-/", "é", "ab"};
  const std::vector<int> page_sizes = {1, 2, 3, 5, 10, 50, 1000};

  std::map<std::string, std::map<std::string, uint64_t>> model;
  auto random_existing = [&](const std::string& bucket) -> std::string {
    const auto& keys = model[bucket];
    if (keys.empty()) return random_string(1, 3);
    return std::next(keys.begin(), pick(keys.size()))->first;
  };
  uint64_t next_size = 1;
  auto mutate = [&] {
    const std::string& bucket = buckets[pick(buckets.size())];
    if (pick(3) > 0 || model[bucket].empty()) {
      const std::string key = random_string(1, 6);
      const uint64_t size = next_size++;
      ASSERT_TRUE(index->Put({bucket, key}, SizedRecord(size)).ok());
      model[bucket][key] = size;
    } else {
      const std::string key = random_existing(bucket);
      ASSERT_TRUE(index->Delete({bucket, key}).ok());
      model[bucket].erase(key);
    }
  };

  int lists = 0, pages = 0, splits = 0, merges = 0;
  // Each split or merge checkpoints its cells; under a sanitizer, half.
  const int ops = (reshape ? 800 : 5000) / (testing::kUnderSanitizer ? 2 : 1);
  for (int op = 0; op < ops; ++op) {
    if (pick(5) > 0) {
      mutate();
      if (::testing::Test::HasFatalFailure()) return;
      continue;
    }
    ++lists;
    const std::string bucket = buckets[pick(buckets.size())];
    ListOptions o;
    const size_t shape = pick(10);
    if (shape < 4) {
      o.prefix = "";
    } else if (shape < 5) {
      o.prefix = random_existing(bucket);
    } else {
      o.prefix = random_string(1, 2);
    }
    o.delimiter = delimiters[pick(delimiters.size())];
    if (pick(4) == 0) o.start_after = pick(2) ? random_existing(bucket) : random_string(1, 3);
    o.max_keys = page_sizes[pick(page_sizes.size())];
    std::string after = o.start_after;
    bool after_is_prefix = false;
    for (int page = 0;; ++page) {
      ++pages;
      SCOPED_TRACE(absl::StrCat("op ", op, " page ", page, ": ", Describe(bucket, o)));
      const RefPage want =
          RefList(model[bucket], o.prefix, o.delimiter, after, after_is_prefix, o.max_keys);
      ListResult got = MustList(*index, bucket, o);
      std::vector<std::pair<std::string, uint64_t>> contents;
      for (const ListedObject& c : got.contents) contents.push_back({c.key, c.size});
      ASSERT_EQ(contents, want.contents);
      ASSERT_EQ(got.common_prefixes, want.common_prefixes);
      ASSERT_EQ(got.is_truncated, want.is_truncated);
      ASSERT_EQ(got.key_count,
                static_cast<int>(want.contents.size() + want.common_prefixes.size()));
      ASSERT_EQ(got.next_continuation_token.empty(), !got.is_truncated);
      if (!got.is_truncated) break;
      o.continuation_token = got.next_continuation_token;
      o.start_after = random_string(0, 2);  // ignored once there is a token
      after = want.last;
      after_is_prefix = want.last_is_prefix;
      // Writes between pages: the next page continues after the last entry.
      if (pick(8) == 0) {
        mutate();
        if (::testing::Test::HasFatalFailure()) return;
      }
      if (reshape && pick(8) == 0) {
        const CellMap map = index->cell_map();
        const size_t c = pick(map.cells().size());
        if (pick(2) == 0 || c + 1 == map.cells().size()) {
          SplitRequest split;
          split.cell = map.cells()[c].id;
          absl::StatusOr<SplitReport> r = index->SplitCell(split);
          // A cell with fewer than two records has no median.
          ASSERT_TRUE(r.ok() || absl::IsFailedPrecondition(r.status())) << r.status();
          splits += r.ok();
        } else {
          MergeRequest merge;
          merge.left = map.cells()[c].id;
          merge.right = map.cells()[c + 1].id;
          absl::StatusOr<MergeReport> r = index->MergeCells(merge);
          ASSERT_TRUE(r.ok()) << r.status();
          ++merges;
        }
      }
    }
  }
  EXPECT_GT(lists, ops / 16);
  EXPECT_GT(pages, ops / 5);
  if (reshape) {
    // Random choices (and, under a sanitizer, half the operations): both
    // kinds happened, and several changes in all.
    EXPECT_GE(splits, 1);
    EXPECT_GE(merges, 1);
    EXPECT_GT(splits + merges, 4);
  }
}

TEST(ListingTest, RandomizedAgainstReferenceAcrossCells) { ListingModel(/*reshape=*/false); }

TEST(ListingTest, RandomizedAgainstReferenceWhileCellsSplitAndMerge) {
  ListingModel(/*reshape=*/true);
}

TEST(ListingTest, EmptyBucket) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir, {EncodeBucketPrefix("mmm")}));
  ASSERT_NE(index, nullptr);
  for (const char* delimiter : {"", "/"}) {
    ListResult r = MustList(*index, "never-written", Opts().delimiter(delimiter));
    EXPECT_THAT(r.contents, IsEmpty());
    EXPECT_THAT(r.common_prefixes, IsEmpty());
    EXPECT_FALSE(r.is_truncated);
    EXPECT_EQ(r.key_count, 0);
    EXPECT_EQ(r.next_continuation_token, "");
  }
  // Emptied by deletes; its neighbours' keys never leak in.
  PutAll(*index, "aaa", {"x"});
  PutAll(*index, "emptied", {"a", "b/c"});
  PutAll(*index, "zzz", {"y"});
  ASSERT_TRUE(index->Delete({"emptied", "a"}).ok());
  ASSERT_TRUE(index->Delete({"emptied", "b/c"}).ok());
  ListResult r = MustList(*index, "emptied", {});
  EXPECT_EQ(r.key_count, 0);
  EXPECT_FALSE(r.is_truncated);
}

TEST(ListingTest, PrefixThatEqualsAKey) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir));
  PutAll(*index, "bucket", {"logs", "logs/a", "logs/b/c", "logsx", "log"});
  EXPECT_THAT(Keys(MustList(*index, "bucket", Opts().prefix("logs"))),
              ElementsAre("logs", "logs/a", "logs/b/c", "logsx"));
  ListResult r = MustList(*index, "bucket", Opts().prefix("logs").delimiter("/"));
  EXPECT_THAT(Keys(r), ElementsAre("logs", "logsx"));
  EXPECT_THAT(r.common_prefixes, ElementsAre("logs/"));
  EXPECT_EQ(r.key_count, 3);
  r = MustList(*index, "bucket", Opts().prefix("logs/").delimiter("/"));
  EXPECT_THAT(Keys(r), ElementsAre("logs/a"));
  EXPECT_THAT(r.common_prefixes, ElementsAre("logs/b/"));
  EXPECT_THAT(Keys(MustList(*index, "bucket", Opts().prefix("logs/b/c"))), ElementsAre("logs/b/c"));
}

TEST(ListingTest, DelimiterOfMoreThanOneCharacter) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir));
  PutAll(*index, "bucket", {"a--b--c", "a--d", "a-e", "b--", "c-"});
  ListResult r = MustList(*index, "bucket", Opts().delimiter("--"));
  EXPECT_THAT(Keys(r), ElementsAre("a-e", "c-"));
  EXPECT_THAT(r.common_prefixes, ElementsAre("a--", "b--"));
  r = MustList(*index, "bucket", Opts().prefix("a--").delimiter("--"));
  EXPECT_THAT(Keys(r), ElementsAre("a--d"));
  EXPECT_THAT(r.common_prefixes, ElementsAre("a--b--"));
  // The delimiter is looked for after the prefix only.
  r = MustList(*index, "bucket", Opts().prefix("a-").delimiter("-"));
  EXPECT_THAT(r.common_prefixes, ElementsAre("a--"));
  EXPECT_THAT(Keys(r), ElementsAre("a-e"));
}

TEST(ListingTest, MultiByteUtf8KeysAndDelimiterAtTheEnd) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir));
  PutAll(*index, "bucket",
         {"фото/", "фото/кот.jpg", "日本/東京/", "日本/東京/x", "é", "éa/", "aéb", "aéc", "a"});
  // Byte order: "a" < "aéb" < "aéc" < "é" (c3 a9) < "éa/" < "фото" (d1 84) < "日本" (e6 97).
  ListResult r = MustList(*index, "bucket", Opts().delimiter("/"));
  EXPECT_THAT(Keys(r), ElementsAre("a", "aéb", "aéc", "é"));
  EXPECT_THAT(r.common_prefixes, ElementsAre("éa/", "фото/", "日本/"));
  // A key that ends with the delimiter rolls up into its own common prefix,
  // and is listed as a key under that prefix.
  r = MustList(*index, "bucket", Opts().prefix("фото/").delimiter("/"));
  EXPECT_THAT(Keys(r), ElementsAre("фото/", "фото/кот.jpg"));
  EXPECT_THAT(r.common_prefixes, IsEmpty());
  r = MustList(*index, "bucket", Opts().prefix("日本/").delimiter("/"));
  EXPECT_THAT(Keys(r), IsEmpty());
  EXPECT_THAT(r.common_prefixes, ElementsAre("日本/東京/"));
  // A multi-byte delimiter.
  r = MustList(*index, "bucket", Opts().delimiter("é"));
  EXPECT_THAT(Keys(r), ElementsAre("a", "фото/", "фото/кот.jpg", "日本/東京/", "日本/東京/x"));
  EXPECT_THAT(r.common_prefixes, ElementsAre("aé", "é"));
}

TEST(ListingTest, StartAfterPastTheLastKey) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir, {EncodeKey({"bucket", "m"})}));
  PutAll(*index, "bucket", {"a", "n", "z"});
  for (const char* after : {"z", "zz", "\xe6\x97\xa5"}) {
    ListResult r = MustList(*index, "bucket", Opts().start_after(after));
    EXPECT_EQ(r.key_count, 0) << after;
    EXPECT_FALSE(r.is_truncated);
  }
  EXPECT_THAT(Keys(MustList(*index, "bucket", Opts().start_after("a"))), ElementsAre("n", "z"));
  EXPECT_THAT(Keys(MustList(*index, "bucket", Opts().start_after("0"))),
              ElementsAre("a", "n", "z"));
}

TEST(ListingTest, MaxKeysZeroAndOne) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir, {EncodeKey({"bucket", "b"})}));
  PutAll(*index, "bucket", {"a", "b/1", "b/2", "c"});
  ListResult r = MustList(*index, "bucket", Opts().max_keys(0));
  EXPECT_EQ(r.key_count, 0);
  EXPECT_FALSE(r.is_truncated);  // as S3: nothing asked, nothing truncated
  EXPECT_EQ(r.next_continuation_token, "");

  std::vector<ListResult> pages = AllPages(*index, "bucket", Opts().delimiter("/").max_keys(1));
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_THAT(Keys(pages[0]), ElementsAre("a"));
  EXPECT_THAT(pages[1].common_prefixes, ElementsAre("b/"));
  EXPECT_THAT(Keys(pages[2]), ElementsAre("c"));
  EXPECT_TRUE(pages[0].is_truncated);
  EXPECT_TRUE(pages[1].is_truncated);
  EXPECT_FALSE(pages[2].is_truncated);  // the last page says so; no empty page follows
  for (const ListResult& p : pages) EXPECT_EQ(p.key_count, 1);
}

TEST(ListingTest, MaxKeysAbove1000IsClampedAndNegativeIsRefused) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir));
  WriteBatch batch;
  for (int i = 0; i < 1200; ++i) batch.Put({"bucket", absl::StrFormat("k%05d", i)}, SizedRecord(i));
  ASSERT_TRUE(index->Write(batch).ok());
  ListResult r = MustList(*index, "bucket", Opts().max_keys(5000));
  EXPECT_EQ(r.key_count, 1000);
  EXPECT_TRUE(r.is_truncated);
  r = MustList(*index, "bucket", Opts().continuation_token(r.next_continuation_token));
  EXPECT_EQ(r.key_count, 200);
  EXPECT_EQ(r.contents.front().key, "k01000");
  EXPECT_FALSE(r.is_truncated);

  absl::StatusOr<ListResult> bad = index->List("bucket", Opts().max_keys(-1));
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  EXPECT_THAT(bad.status().message(), HasSubstr("max-keys"));
}

// Three cells of bucket "photos": "2024/" spans all three, "2024/06/" two.
// `*keys` gets the keys put, dates in order after the first three.
std::unique_ptr<Index> PhotosIndex(const testing::ScratchDir& dir, std::vector<std::string>* keys) {
  auto index = OpenIndexOrFail(SmallIndexOptions(
      dir, {EncodeKey({"photos", "2024/06/15"}), EncodeKey({"photos", "2024/09/"})}));
  *keys = {"2023/12/31.jpg", "2025/01/01.jpg", "index.html"};
  for (int month = 1; month <= 12; ++month) {
    for (int day = 1; day <= 28; day += 3) {
      keys->push_back(absl::StrFormat("2024/%02d/%02d.jpg", month, day));
    }
  }
  PutAll(*index, "photos", *keys);
  return index;
}

TEST(ListingTest, CommonPrefixesThatStraddleCellBoundaries) {
  testing::ScratchDir dir;
  // "2024/" spans three cells; "2024/06/" spans two.
  std::vector<std::string> keys;
  auto index = PhotosIndex(dir, &keys);

  ListResult r = MustList(*index, "photos", Opts().delimiter("/"));
  EXPECT_THAT(r.common_prefixes, ElementsAre("2023/", "2024/", "2025/"));
  EXPECT_THAT(Keys(r), ElementsAre("index.html"));

  // One entry per page: each group once, the token past a group skips the
  // rest of it in the next cells.
  std::vector<ListResult> pages = AllPages(*index, "photos", Opts().delimiter("/").max_keys(1));
  ASSERT_EQ(pages.size(), 4u);
  EXPECT_THAT(pages[1].common_prefixes, ElementsAre("2024/"));
  EXPECT_THAT(pages[2].common_prefixes, ElementsAre("2025/"));
  EXPECT_THAT(Keys(pages[3]), ElementsAre("index.html"));

  r = MustList(*index, "photos", Opts().prefix("2024/").delimiter("/"));
  ASSERT_EQ(r.common_prefixes.size(), 12u);
  EXPECT_EQ(r.common_prefixes[5], "2024/06/");
  pages = AllPages(*index, "photos", Opts().prefix("2024/").delimiter("/").max_keys(5));
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_THAT(pages[1].common_prefixes,
              ElementsAre("2024/06/", "2024/07/", "2024/08/", "2024/09/", "2024/10/"));
  // Without a delimiter the pages run across both boundaries in order.
  std::vector<std::string> all;
  for (const ListResult& p : AllPages(*index, "photos", Opts().prefix("2024/").max_keys(7))) {
    for (const ListedObject& o : p.contents) all.push_back(o.key);
  }
  std::vector<std::string> want(keys.begin() + 3, keys.end());
  EXPECT_EQ(all, want);
}

// ListOptions::cell: one cell's part of a page, as a cluster client reads
// it from the cell's host. The parts, read in map order with a token past
// the last entry so far, make exactly the listing of the whole index.
TEST(ListingTest, OneCellsPartEndsWhereTheCellDoesAndThePartsMakeTheListing) {
  testing::ScratchDir dir;
  std::vector<std::string> keys;
  auto index = PhotosIndex(dir, &keys);
  const CellMap map = index->cell_map();
  ASSERT_EQ(map.cells().size(), 3u);

  for (const ListOptions& shape :
       {ListOptions(Opts()), ListOptions(Opts().delimiter("/")),
        ListOptions(Opts().prefix("2024/").delimiter("/")), ListOptions(Opts().max_keys(7))}) {
    SCOPED_TRACE(absl::StrCat("prefix ", shape.prefix, " delimiter ", shape.delimiter));
    // Each cell's part holds only keys of its range, and a page of it is
    // truncated only by what follows in the cell.
    std::vector<std::string> entries;  // keys and prefixes, part after part
    std::string token;
    for (const CellRange& cell : map.cells()) {
      ListOptions o = shape;
      o.cell = cell.id;
      if (!token.empty()) o.continuation_token = token;
      for (const ListResult& page : AllPages(*index, "photos", o)) {
        for (const ListedObject& c : page.contents) {
          EXPECT_TRUE(cell.Contains(EncodeKey({"photos", c.key}))) << c.key;
          entries.push_back(c.key);
        }
        for (const std::string& p : page.common_prefixes) entries.push_back(p);
        if (page.key_count > 0) {
          const bool prefix_last =
              !page.common_prefixes.empty() &&
              (page.contents.empty() || page.common_prefixes.back() > page.contents.back().key);
          token = ListPageToken(
              "photos", shape,
              prefix_last ? page.common_prefixes.back() : page.contents.back().key, prefix_last);
        }
      }
    }
    std::vector<std::string> whole;
    for (const ListResult& page : AllPages(*index, "photos", shape)) {
      for (const ListedObject& c : page.contents) whole.push_back(c.key);
      for (const std::string& p : page.common_prefixes) whole.push_back(p);
    }
    std::sort(entries.begin(), entries.end());
    std::sort(whole.begin(), whole.end());
    EXPECT_EQ(entries, whole);
  }

  // A truncated part's token continues the whole listing where it stopped.
  ListOptions part = Opts().max_keys(2);
  part.cell = map.cells()[1].id;
  ListResult first = MustList(*index, "photos", part);
  ASSERT_TRUE(first.is_truncated);
  ASSERT_EQ(first.contents.size(), 2u);
  EXPECT_EQ(first.contents[0].key, "2024/06/16.jpg");  // the cell's first key
  ListResult next = MustList(*index, "photos",
                             Opts().max_keys(1).continuation_token(first.next_continuation_token));
  EXPECT_THAT(Keys(next), ElementsAre("2024/06/22.jpg"));
  // The last cell's part: from its first key to the bucket's end.
  part = Opts();
  part.cell = map.cells()[2].id;
  ListResult last = MustList(*index, "photos", part);
  EXPECT_EQ(last.contents.front().key, "2024/09/01.jpg");
  EXPECT_EQ(last.contents.back().key, "index.html");
  EXPECT_FALSE(last.is_truncated);
  // A part that holds nothing of the range: empty, not truncated.
  part = Opts().prefix("2023/");
  part.cell = map.cells()[2].id;
  ListResult none = MustList(*index, "photos", part);
  EXPECT_THAT(none.contents, IsEmpty());
  EXPECT_FALSE(none.is_truncated);

  // A cell the map does not hold.
  part = Opts();
  part.cell = 999;
  absl::StatusOr<ListResult> r = index->List("photos", part);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("no cell 999"));
}

TEST(ListingTest, DelimiterSkipsEachGroupWithOneSeek) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir));
  constexpr int kGroups = 40, kKeysPerGroup = 250;
  for (int g = 0; g < kGroups; ++g) {
    WriteBatch batch;
    for (int k = 0; k < kKeysPerGroup; ++k) {
      batch.Put({"bucket", absl::StrFormat("group-%03d/object-%05d", g, k)}, SizedRecord(k));
    }
    ASSERT_TRUE(index->Write(batch).ok());
  }
  // Above the default level, so the scan keeps counting.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableTimeExceptForMutex);
  rocksdb::get_perf_context()->Reset();
  ListResult r = MustList(*index, "bucket", Opts().delimiter("/"));
  const uint64_t delimited_steps = rocksdb::get_perf_context()->internal_key_skipped_count;
  rocksdb::get_perf_context()->Reset();
  ListResult flat = MustList(*index, "bucket", {});
  const uint64_t flat_steps = rocksdb::get_perf_context()->internal_key_skipped_count;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);

  EXPECT_EQ(r.common_prefixes.size(), static_cast<size_t>(kGroups));
  EXPECT_EQ(flat.key_count, 1000);
  // Reading 1000 keys steps past about 1000 entries; rolling up 10000 keys
  // into 40 groups steps past (almost) none: each group is one seek.
  EXPECT_GE(flat_steps, 999u);
  EXPECT_LT(delimited_steps, static_cast<uint64_t>(kGroups));
}

// Listings turn RocksDB's perf counting off while they scan at its default
// level, and leave the caller's level as it was.
TEST(ListingTest, LeavesTheCallersRocksDbPerfLevelAlone) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir, {EncodeKey({"bucket", "m"})}));
  PutAll(*index, "bucket", {"a", "x"});
  for (rocksdb::PerfLevel level : {rocksdb::PerfLevel::kEnableCount,
                                   rocksdb::PerfLevel::kEnableTime, rocksdb::PerfLevel::kDisable}) {
    rocksdb::SetPerfLevel(level);
    EXPECT_EQ(MustList(*index, "bucket", {}).key_count, 2);
    EXPECT_TRUE(index->Locate(LocateOptions{"vol-1", "", "", 1}).ok());
    EXPECT_EQ(rocksdb::GetPerfLevel(), level);
  }
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
}

TEST(ListingTest, ContinuationTokensAreBoundToTheirListing) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir));
  PutAll(*index, "bucket", {"a/1", "a/2", "b/1", "b/2"});
  PutAll(*index, "other", {"a/1", "a/2"});
  ListResult first = MustList(*index, "bucket", Opts().prefix("a/").max_keys(1));
  ASSERT_TRUE(first.is_truncated);
  const std::string token = first.next_continuation_token;
  EXPECT_THAT(Keys(MustList(*index, "bucket", Opts().prefix("a/").continuation_token(token))),
              ElementsAre("a/2"));

  struct Case {
    std::string bucket;
    ListOptions options;
    std::string message;
  };
  std::string altered = token;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  std::string last_char = token;
  last_char.back() = last_char.back() == 'A' ? 'B' : 'A';
  const std::vector<Case> cases = {
      {"other", Opts().prefix("a/").continuation_token(token), "another bucket"},
      {"bucket", Opts().prefix("b/").continuation_token(token), "another prefix"},
      {"bucket", Opts().prefix("a/").delimiter("/").continuation_token(token), "another delimiter"},
      {"bucket", Opts().prefix("a/").continuation_token(altered), "continuation token"},
      {"bucket", Opts().prefix("a/").continuation_token(last_char), "continuation token"},
      {"bucket", Opts().prefix("a/").continuation_token(token.substr(0, 10)), "continuation token"},
      {"bucket", Opts().prefix("a/").continuation_token("not a token!"), "continuation token"},
      {"bucket", Opts().prefix("a/").continuation_token(token + "AA"), "continuation token"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ListResult> r = index->List(c.bucket, c.options);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << c.message << ": " << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(c.message));
  }
  // A locate token is not a list token.
  absl::StatusOr<LocateResult> located = index->Locate(LocateOptions{"vol-1", "", "", 1});
  ASSERT_TRUE(located.ok() && located->is_truncated);
  absl::StatusOr<ListResult> r =
      index->List("bucket", Opts().continuation_token(located->next_continuation_token));
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
}

TEST(ListingTest, StartAfterIsIgnoredOnceThereIsAToken) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir));
  PutAll(*index, "bucket", {"a", "b", "c", "d"});
  ListResult first = MustList(*index, "bucket", Opts().start_after("a").max_keys(1));
  EXPECT_THAT(Keys(first), ElementsAre("b"));
  ListResult next = MustList(
      *index, "bucket", Opts().start_after("c").continuation_token(first.next_continuation_token));
  EXPECT_THAT(Keys(next), ElementsAre("c", "d"));
}

TEST(ListingTest, InvalidInputIsRefusedNamingTheProblem) {
  testing::ScratchDir dir;
  auto index = OpenIndexOrFail(SmallIndexOptions(dir));
  struct Case {
    std::string bucket;
    ListOptions options;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"Bad_Bucket", {}, "invalid bucket name"},
      {"ab", {}, "invalid bucket name"},
      {"bucket", Opts().prefix("a\xff"), "invalid prefix"},
      {"bucket", Opts().delimiter("\xc3"), "invalid delimiter"},
      {"bucket", Opts().start_after("\xed\xa0\x80"), "invalid start-after"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ListResult> r = index->List(c.bucket, c.options);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << c.message << ": " << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(c.message));
  }
}

// Three cells opened directly, without an Index, so a test can take one out
// of service or damage what it stores.
class ListingCellsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<CellMap> map =
        CellMap::FromBoundaries({EncodeKey({"bucket", "m"}), EncodeBucketPrefix("later")});
    ASSERT_TRUE(map.ok());
    map_ = *std::move(map);
    for (const CellRange& range : map_.cells()) {
      Cell::Paths paths{dir_ / absl::StrCat("db-", range.id),
                        dir_ / absl::StrCat("journal-", range.id),
                        dir_ / absl::StrCat("head-", range.id)};
      absl::StatusOr<std::unique_ptr<Cell>> cell =
          Cell::Open({"test", range}, paths, options_, resources_);
      ASSERT_TRUE(cell.ok()) << cell.status();
      cells_.push_back(*std::move(cell));
    }
    Put(0, {"bucket", "a"});
    Put(1, {"bucket", "x"});
    Put(2, {"later", "y"});
  }

  void Put(size_t cell, const ObjectKey& key) {
    CellOp op;
    op.encoded_key = EncodeKey(key);
    op.record = SizedRecord(1);
    ASSERT_TRUE(cells_[cell]->Write({op}).ok());
  }

  absl::StatusOr<ListResult> List(const std::string& bucket, const ListOptions& o) {
    // Non-owning: the test keeps the cells; a reset one is not open.
    ServingCellFn serving = [&](size_t i) -> absl::StatusOr<std::shared_ptr<Cell>> {
      if (cells_[i] == nullptr) {
        return absl::UnavailableError(absl::StrCat("cell ", i, " is not open"));
      }
      return std::shared_ptr<Cell>(std::shared_ptr<Cell>(), cells_[i].get());
    };
    return ListObjects(map_, serving, bucket, o);
  }

  testing::ScratchDir dir_;
  Options options_ = SmallIndexOptions(dir_);
  CellResources resources_ = MakeCellResources(options_);
  CellMap map_;
  std::vector<std::unique_ptr<Cell>> cells_;
};

TEST_F(ListingCellsTest, ACellThatIsNotServingFailsTheListingNamingTheCell) {
  cells_[1]->SetStateForTesting(Cell::State::kReplaying);
  absl::StatusOr<ListResult> r = List("bucket", {});
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("cell 1"));
  EXPECT_THAT(r.status().message(), HasSubstr("replaying"));
  // A page filled before the cell is reached is served: it says it is
  // truncated (the cell may hold more), and the next page is Unavailable.
  r = List("bucket", Opts().max_keys(1));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Keys(*r), ElementsAre("a"));
  EXPECT_TRUE(r->is_truncated);
  r = List("bucket", Opts().max_keys(1).continuation_token(r->next_continuation_token));
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  // Listings that do not reach the cell are served.
  r = List("bucket", Opts().prefix("a"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Keys(*r), ElementsAre("a"));
  r = List("later", {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Keys(*r), ElementsAre("y"));

  // A cell that is not open at all is the same.
  cells_[1].reset();
  r = List("bucket", {});
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("cell 1"));
}

TEST_F(ListingCellsTest, ADamagedRecordIsDataLossNamingTheObject) {
  const std::string key = std::string(1, kRecordPrefix) + EncodeKey({"bucket", "x"});
  std::string bytes;
  ASSERT_TRUE(cells_[1]->db()->Get(rocksdb::ReadOptions(), key, &bytes).ok());
  bytes[bytes.size() / 2] ^= 0x20;
  rocksdb::WriteOptions w;
  w.disableWAL = true;
  ASSERT_TRUE(cells_[1]->db()->Put(w, key, bytes).ok());

  absl::StatusOr<ListResult> r = List("bucket", {});
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("cell 1, object bucket/x"));
  EXPECT_THAT(r.status().message(), HasSubstr("checksum mismatch"));
  // The damage took the cell out of service (an Index restores it): it
  // serves nothing more, even what would not read the damaged record.
  r = List("bucket", Opts().delimiter("x"));
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("cell 1 has failed"));
  EXPECT_EQ(cells_[1]->Stats().state, CellPhase::kFailed);
  r = List("bucket", Opts().prefix("a"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Keys(*r), ElementsAre("a"));
}

}  // namespace
}  // namespace cellindex
