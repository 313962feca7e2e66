#include "recovery/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "recovery/file_util.h"
#include "recovery/journal_format.h"
#include "recovery/journal_reader.h"
#include "recovery/journal_writer.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::string Body(uint64_t seq) {
  // Sizes from tiny to several blocks, so records span block boundaries.
  const size_t size = (seq * 7919) % 5 == 0 ? 70000 + seq : 10 + (seq * 131) % 3000;
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (seq + i) % 26);
  return s;
}

struct Replayed {
  std::vector<uint64_t> seqs;
  std::vector<std::string> bodies;
};

absl::StatusOr<std::unique_ptr<Journal>> OpenJournal(const std::string& dir, uint64_t after,
                                                     Replayed* out, JournalOpenReport* report,
                                                     uint64_t segment_bytes = 1 << 20) {
  return Journal::Open({dir, segment_bytes}, after,
                       [out](uint64_t seq, absl::string_view body) {
                         out->seqs.push_back(seq);
                         out->bodies.emplace_back(body);
                         return absl::OkStatus();
                       },
                       report);
}

void AppendRange(Journal* j, uint64_t from, uint64_t to, bool sync = true) {
  std::vector<std::string> bodies;
  for (uint64_t s = from; s <= to; ++s) bodies.push_back(Body(s));
  std::vector<Journal::Entry> entries;
  for (uint64_t s = from; s <= to; ++s) entries.push_back({s, bodies[s - from]});
  ASSERT_TRUE(j->Append(entries, sync).ok());
}

std::vector<uint64_t> Seqs(uint64_t from, uint64_t to) {
  std::vector<uint64_t> v;
  for (uint64_t s = from; s <= to; ++s) v.push_back(s);
  return v;
}

std::string OnlySegment(const std::string& dir) {
  auto names = ListDir(dir);
  EXPECT_TRUE(names.ok());
  return dir + "/" + names->back();
}

uint64_t FileSize(const std::string& path) {
  auto c = ReadFileToString(path);
  return c.ok() ? c->size() : 0;
}

TEST(JournalTest, ReplaysEveryRecordInOrderAfterReopen) {
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_TRUE(r.seqs.empty());
    AppendRange(j->get(), 1, 10);
    AppendRange(j->get(), 11, 40, /*sync=*/false);
    EXPECT_EQ((*j)->last_seq(), 40u);
  }
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 40)));
  for (uint64_t s = 1; s <= 40; ++s) EXPECT_EQ(r.bodies[s - 1], Body(s)) << s;
  EXPECT_FALSE(rep.cut_tail);
  EXPECT_EQ((*j)->last_seq(), 40u);
  // Appends continue the sequence, in a new segment.
  AppendRange(j->get(), 41, 45);
}

TEST(JournalTest, SkipsRecordsAtOrBelowAfterSeq) {
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 20);
  }
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 15, &r, &rep);
  ASSERT_TRUE(j.ok());
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(16, 20)));
  EXPECT_EQ(rep.records_read, 20u);
  EXPECT_EQ(rep.records_replayed, 5u);
}

TEST(JournalTest, RotatesSegmentsBySizeAndReadsThemAll) {
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep, /*segment_bytes=*/64 * 1024);
    ASSERT_TRUE(j.ok());
    for (uint64_t s = 1; s <= 100; s += 5) AppendRange(j->get(), s, s + 4);
  }
  auto names = ListDir(dir.path());
  ASSERT_TRUE(names.ok());
  EXPECT_GT(names->size(), 3u);
  EXPECT_EQ(names->front(), Journal::SegmentName(1));
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep, 64 * 1024);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 100)));
}

// Cutting the newest segment anywhere inside its last record loses exactly
// that record, and the journal opens.
TEST(JournalTest, TornTailIsCutAtEveryOffsetOfTheLastRecord) {
  testing::ScratchDir base;
  const std::string golden = base / "golden";
  uint64_t before_last = 0, full = 0;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(golden, 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 9);
    before_last = FileSize(OnlySegment(golden));
    AppendRange(j->get(), 10, 10);  // Body(10) spans three blocks
    full = FileSize(OnlySegment(golden));
  }
  ASSERT_GT(full - before_last, 2 * journal::kBlockSize);
  auto golden_bytes = ReadFileToString(OnlySegment(golden));
  ASSERT_TRUE(golden_bytes.ok());
  for (uint64_t cut = before_last + 1; cut < full; cut += 997) {
    testing::ScratchDir dir;
    std::ofstream(dir / Journal::SegmentName(1), std::ios::binary)
        << golden_bytes->substr(0, cut);
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok()) << "cut at " << cut << ": " << j.status();
    EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 9))) << cut;
    EXPECT_TRUE(rep.cut_tail);
    EXPECT_EQ(rep.cut_offset, before_last);
    EXPECT_EQ(FileSize(dir / Journal::SegmentName(1)), before_last);
    // The journal continues at seq 10, and a reopen sees everything.
    AppendRange(j->get(), 10, 12);
    j->reset();
    Replayed again;
    JournalOpenReport rep2;
    ASSERT_TRUE(OpenJournal(dir.path(), 0, &again, &rep2).ok());
    EXPECT_THAT(again.seqs, ElementsAreArray(Seqs(1, 12)));
    EXPECT_FALSE(rep2.cut_tail);
  }
}

TEST(JournalTest, GarbageAppendedIsCut) {
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 7);
  }
  const std::string seg = OnlySegment(dir.path());
  const uint64_t good = FileSize(seg);
  std::mt19937 rng(42);
  std::string garbage(50000, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  std::ofstream(seg, std::ios::binary | std::ios::app) << garbage;

  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 7)));
  EXPECT_TRUE(rep.cut_tail);
  EXPECT_EQ(rep.cut_bytes, garbage.size());
  EXPECT_EQ(FileSize(seg), good);
}

TEST(JournalTest, ZeroFilledTailIsCut) {
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 3);
  }
  const std::string seg = OnlySegment(dir.path());
  std::ofstream(seg, std::ios::binary | std::ios::app) << std::string(100000, '\0');
  Replayed r;
  JournalOpenReport rep;
  ASSERT_TRUE(OpenJournal(dir.path(), 0, &r, &rep).ok());
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 3)));
}

struct FileSpace {
  uint64_t size = 0;       // st_size
  uint64_t allocated = 0;  // bytes of blocks
};

FileSpace SpaceOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return {static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(st.st_blocks) * 512};
}

uint64_t SizeOfAllSegments(const std::string& dir) {
  uint64_t total = 0;
  auto names = ListDir(dir);
  EXPECT_TRUE(names.ok());
  for (const std::string& name : *names) total += SpaceOf(dir + "/" + name).size;
  return total;
}

// Segments reserve blocks ahead of the appends, but their size stays that of
// the records: the byte counts match the files, a reopen replays exactly, and
// a torn tail is still found and cut.
TEST(JournalTest, PreallocatedSegmentsKeepTheirSizeAndReplayExactly) {
  testing::ScratchDir dir;
  uint64_t good = 0;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep, /*segment_bytes=*/4 << 20);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 3);
    const FileSpace space = SpaceOf(OnlySegment(dir.path()));
    good = space.size;
    EXPECT_EQ(space.size, (*j)->total_bytes());
    EXPECT_EQ(space.size, (*j)->appended_bytes());
    // Where the file system supports fallocate, more is reserved than written.
    const std::string probe = dir / "probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    const bool can_preallocate = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
    ::close(fd);
    ASSERT_EQ(::unlink(probe.c_str()), 0);
    if (can_preallocate) EXPECT_GE(space.allocated, uint64_t{1} << 20);
  }
  // A crash in the middle of appending record 4 leaves part of it after the
  // written bytes (not after the reserved blocks): the same bytes as record 4
  // has in an untorn journal, cut short.
  testing::ScratchDir golden;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(golden.path(), 0, &r, &rep, 4 << 20);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 3);
    AppendRange(j->get(), 4, 4);
  }
  auto golden_bytes = ReadFileToString(OnlySegment(golden.path()));
  ASSERT_TRUE(golden_bytes.ok());
  ASSERT_GT(golden_bytes->size(), good + 100);
  const std::string torn = golden_bytes->substr(good, (golden_bytes->size() - good) / 2);
  std::ofstream(OnlySegment(dir.path()), std::ios::binary | std::ios::app) << torn;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep, 4 << 20);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 3)));
    for (uint64_t s = 1; s <= 3; ++s) EXPECT_EQ(r.bodies[s - 1], Body(s)) << s;
    EXPECT_TRUE(rep.cut_tail);
    EXPECT_EQ(rep.cut_offset, good);
    EXPECT_EQ(rep.cut_bytes, torn.size());
    EXPECT_EQ(SpaceOf(dir / Journal::SegmentName(1)).size, good);
    AppendRange(j->get(), 4, 9);
  }
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep, 4 << 20);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 9)));
  for (uint64_t s = 1; s <= 9; ++s) EXPECT_EQ(r.bodies[s - 1], Body(s)) << s;
  EXPECT_FALSE(rep.cut_tail);
}

// total_bytes counts the bytes in the segment files, before and after a trim.
TEST(JournalTest, TotalBytesIsTheSizeOfTheSegmentsThroughATrim) {
  testing::ScratchDir dir;
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep, /*segment_bytes=*/64 * 1024);
  ASSERT_TRUE(j.ok());
  for (uint64_t s = 1; s <= 100; s += 5) AppendRange(j->get(), s, s + 4);
  EXPECT_EQ((*j)->total_bytes(), SizeOfAllSegments(dir.path()));
  const size_t before = ListDir(dir.path())->size();
  ASSERT_TRUE((*j)->TrimThrough(60).ok());
  EXPECT_LT(ListDir(dir.path())->size(), before);
  EXPECT_EQ((*j)->total_bytes(), SizeOfAllSegments(dir.path()));
  j->reset();
  Replayed again;
  ASSERT_TRUE(OpenJournal(dir.path(), 60, &again, &rep, 64 * 1024).ok());
  EXPECT_THAT(again.seqs, ElementsAreArray(Seqs(61, 100)));
}

TEST(JournalTest, DamageFollowedByValidRecordsIsDataLoss) {
  testing::ScratchDir dir;
  uint64_t third_start = 0;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 2);
    third_start = FileSize(OnlySegment(dir.path()));
    AppendRange(j->get(), 3, 30);
  }
  const std::string seg = OnlySegment(dir.path());
  auto bytes = ReadFileToString(seg);
  ASSERT_TRUE(bytes.ok());
  std::string bad = *bytes;
  bad[third_start + journal::kHeaderSize + 3] ^= 0x01;  // inside record 3's payload
  ASSERT_TRUE(AtomicWriteFile(seg, bad).ok());
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("valid records follow"));
  // Nothing was cut: the damage is left for an operator or a fallback.
  EXPECT_EQ(FileSize(seg), bytes->size());
}

TEST(JournalTest, DamageInAnOlderSegmentIsDataLoss) {
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 5);
  }
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);  // starts segment 6
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 6, 8);
  }
  const std::string first = dir / Journal::SegmentName(1);
  auto bytes = ReadFileToString(first);
  ASSERT_TRUE(bytes.ok());
  ASSERT_EQ(0, ::truncate(first.c_str(), static_cast<off_t>(bytes->size() - 5)));
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("later segments"));
}

TEST(JournalTest, MissingRecordsAreDataLoss) {
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 5);
  }
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 6, 8);
  }
  ASSERT_EQ(0, ::unlink((dir / Journal::SegmentName(1)).c_str()));
  Replayed r;
  JournalOpenReport rep;
  // The state is at seq 2: records 3..5 are gone.
  auto j = OpenJournal(dir.path(), 2, &r, &rep);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("no records 3 to 5"));
  // A state already past the lost segment needs nothing from it.
  Replayed r2;
  ASSERT_TRUE(OpenJournal(dir.path(), 5, &r2, &rep).ok());
  EXPECT_THAT(r2.seqs, ElementsAreArray(Seqs(6, 8)));
}

TEST(JournalTest, RotateLetsTrimDropWhatACheckpointCoversAndOpenSkipsIt) {
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 10);
    ASSERT_TRUE((*j)->Rotate().ok());  // as a checkpoint at seq 10 does
    ASSERT_TRUE((*j)->Rotate().ok());  // nothing new: no empty segment
    AppendRange(j->get(), 11, 15);
  }
  EXPECT_EQ(ListDir(dir.path())->size(), 2u);
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 10, &r, &rep);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(11, 15)));
  EXPECT_EQ(rep.records_read, 5u);  // the segment at or below seq 10 is not read
  ASSERT_TRUE((*j)->TrimThrough(10).ok());
  EXPECT_FALSE(PathExists(dir / Journal::SegmentName(1)));
  EXPECT_TRUE(PathExists(dir / Journal::SegmentName(11)));
}

// The reader alone: on any prefix of a segment it returns exactly the whole
// records in that prefix, never a partial or damaged one.
TEST(JournalReaderTest, EveryPrefixYieldsOnlyWholeRecords) {
  journal::Writer w;
  std::string file;
  std::vector<uint64_t> ends;
  for (uint64_t s = 1; s <= 12; ++s) {
    w.AddRecord(Body(s), &file);
    ends.push_back(file.size());
  }
  for (uint64_t n = 0; n <= file.size(); n += 101) {
    journal::Reader reader(absl::string_view(file).substr(0, n));
    std::string scratch;
    absl::string_view rec;
    uint64_t s = 0;
    while (reader.ReadRecord(&rec, &scratch)) {
      ++s;
      ASSERT_EQ(std::string(rec), Body(s)) << "prefix " << n;
    }
    uint64_t expected = 0;
    while (expected < ends.size() && ends[expected] <= n) ++expected;
    EXPECT_EQ(s, expected) << "prefix " << n;
    EXPECT_FALSE(reader.ValidFragmentAfterDamage()) << "prefix " << n;
  }
}

}  // namespace
}  // namespace cellindex
