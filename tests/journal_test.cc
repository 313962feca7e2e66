#include "recovery/journal/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "index/base/coding.h"
#include "index/base/file_util.h"
#include "recovery/journal/journal_format.h"
#include "recovery/journal/journal_reader.h"
#include "recovery/journal/journal_writer.h"
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

// A journal of cell 7 of index "ix" in `root`: segments in root/journal, the
// head in root/HEAD.
JournalOptions OptionsIn(const std::string& root, uint64_t segment_bytes = 1 << 20,
                         uint32_t cell = 7) {
  JournalOptions o;
  o.fs = &DefaultFs();
  o.dir = root + "/journal";
  o.head_path = root + "/HEAD";
  o.index_id = "ix";
  o.cell_id = cell;
  o.segment_bytes = segment_bytes;
  return o;
}

// Reads the journal in `root` (records above `after` into `out`).
absl::StatusOr<std::unique_ptr<Journal>> ReadJournal(const std::string& root, uint64_t after,
                                                     Replayed* out, JournalOpenReport* report,
                                                     uint64_t segment_bytes = 1 << 20) {
  return Journal::Open(OptionsIn(root, segment_bytes), after,
                       [out](uint64_t seq, absl::string_view body) {
                         out->seqs.push_back(seq);
                         out->bodies.emplace_back(body);
                         return absl::OkStatus();
                       },
                       report);
}

// Reads it and starts appending after what it holds (or after `after`).
absl::StatusOr<std::unique_ptr<Journal>> OpenJournal(const std::string& root, uint64_t after,
                                                     Replayed* out, JournalOpenReport* report,
                                                     uint64_t segment_bytes = 1 << 20) {
  absl::StatusOr<std::unique_ptr<Journal>> j =
      ReadJournal(root, after, out, report, segment_bytes);
  if (!j.ok()) return j;
  if (!report->extent_verified) return absl::DataLossError(report->extent_problem);
  if (absl::Status s = (*j)->StartAppending(std::max(report->last_seq, after) + 1); !s.ok()) {
    return s;
  }
  return j;
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

std::string Segment(const std::string& root, uint64_t first) {
  return root + "/journal/" + Journal::SegmentName(first);
}

uint64_t SizeOf(const std::string& path) {
  auto c = ReadFileToString(path);
  return c.ok() ? c->size() : 0;
}

// The journal's files as they are now, copied while it is still open: what a
// crash (no seal, no close) would leave.
void CrashCopy(const std::string& from, const std::string& to) {
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}

// Writes records 1..`last` into a journal in `dir`/live and copies it, as a
// crash would leave it (unsealed), to `dir`/j.
void CrashedJournal(const testing::ScratchDir& dir, uint64_t last) {
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir / "live", 0, &r, &rep);
  ASSERT_TRUE(j.ok());
  AppendRange(j->get(), 1, last);
  CrashCopy(dir / "live", dir / "j");
}

TEST(JournalTest, ReplaysEveryRecordInOrderAfterReopenAndSealsOnClose) {
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
  EXPECT_FALSE(rep.torn_tail);
  EXPECT_TRUE(rep.sealed);
  EXPECT_TRUE(rep.extent_verified);
  EXPECT_EQ((*j)->last_seq(), 40u);
  // Appends continue the sequence, in a new segment linked to the old one.
  AppendRange(j->get(), 41, 45);
  EXPECT_TRUE(PathExists(Segment(dir.path(), 41)));
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
  auto j = ReadJournal(dir.path(), 15, &r, &rep);
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
  auto names = ListDir(dir / "journal");
  ASSERT_TRUE(names.ok());
  EXPECT_GT(names->size(), 3u);
  EXPECT_EQ(names->front(), Journal::SegmentName(1));
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir.path(), 0, &r, &rep, 64 * 1024);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 100)));
  EXPECT_TRUE(rep.extent_verified);
}

// A crash inside the last record's write: the record is ignored, never read,
// and never deleted; the journal goes on in a new segment.
TEST(JournalTest, TornTailIsIgnoredAtEveryOffsetOfTheLastRecord) {
  testing::ScratchDir base;
  const std::string golden = base / "golden";
  uint64_t before_last = 0, full = 0;
  std::string golden_bytes;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(golden, 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 9);
    before_last = SizeOf(Segment(golden, 1));
    AppendRange(j->get(), 10, 10);  // Body(10) spans three blocks
    full = SizeOf(Segment(golden, 1));
    golden_bytes = *ReadFileToString(Segment(golden, 1));  // before the seal
    CrashCopy(golden, base / "crashed");
  }
  ASSERT_GT(full - before_last, 2 * journal::kBlockSize);
  for (uint64_t cut = before_last + 1; cut < full; cut += 997) {
    testing::ScratchDir dir;
    CrashCopy(base / "crashed", dir / "j");
    const std::string root = dir / "j";
    std::ofstream(Segment(root, 1), std::ios::binary | std::ios::trunc)
        << golden_bytes.substr(0, cut);
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(root, 0, &r, &rep);
    ASSERT_TRUE(j.ok()) << "cut at " << cut << ": " << j.status();
    EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 9))) << cut;
    EXPECT_TRUE(rep.torn_tail);
    EXPECT_FALSE(rep.sealed);
    EXPECT_EQ(rep.torn_offset, before_last);
    EXPECT_EQ(rep.torn_bytes, cut - before_last);
    EXPECT_EQ(SizeOf(Segment(root, 1)), cut);  // the evidence stays
    // The journal continues at seq 10, and a reopen sees everything.
    AppendRange(j->get(), 10, 12);
    j->reset();
    Replayed again;
    JournalOpenReport rep2;
    ASSERT_TRUE(OpenJournal(root, 0, &again, &rep2).ok());
    EXPECT_THAT(again.seqs, ElementsAreArray(Seqs(1, 12)));
    EXPECT_FALSE(rep2.torn_tail);
  }
}

// The reproducer of the issue: one acknowledged record in the newest
// segment, closed cleanly, then one byte of it flipped. That is not a torn
// write (the seal follows it): DataLoss, and the file is left as it was.
TEST(JournalTest, DamageToTheLastRecordOfASealedSegmentIsDataLoss) {
  testing::ScratchDir dir;
  uint64_t header_end = 0;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 1);
    // The first append wrote the segment's header, then the record.
    header_end = SizeOf(Segment(dir.path(), 1)) - (*j)->appended_bytes();
  }
  const std::string seg = Segment(dir.path(), 1);
  std::string bytes = *ReadFileToString(seg);
  std::string bad = bytes;
  bad[header_end + 20] ^= 0x10;
  ASSERT_TRUE(AtomicWriteFile(seg, bad).ok());
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir.path(), 0, &r, &rep);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("whole records follow"));
  EXPECT_EQ(*ReadFileToString(seg), bad);
}

// Record payloads hold bytes clients chose. A payload carrying what would
// be a valid fragment, in a record torn by a crash, must not make the torn
// tail read as damage followed by a record: fragment checksums are seeded
// with the segment's secret salt, so a planted one never verifies.
TEST(JournalTest, ATornRecordCarryingAPlantedFragmentIsStillATornTail) {
  testing::ScratchDir dir;
  uint64_t before_last = 0;
  std::string planted;
  {
    journal::Writer plant(0, 0);  // what a client can compute: no salt
    std::string payload;
    PutFixed64(&payload, 3);
    payload += "planted";
    plant.AddRecord(payload, &planted);
  }
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir / "live", 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 1);
    before_last = SizeOf(Segment(dir / "live", 1));
    const std::string body = std::string(300, 'x') + planted + std::string(3000, 'y');
    ASSERT_TRUE((*j)->Append({{2, body}}, true).ok());
    CrashCopy(dir / "live", dir / "j");
  }
  // The crash tore record 2 after the planted bytes.
  const std::string seg = Segment(dir / "j", 1);
  const std::string bytes = *ReadFileToString(seg);
  ASSERT_TRUE(absl::StrContains(bytes.substr(0, before_last + 11 + 8 + 300 + planted.size() + 10),
                                planted));
  ASSERT_EQ(0, ::truncate(seg.c_str(),
                          static_cast<off_t>(before_last + 11 + 8 + 300 + planted.size() + 10)));
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir / "j", 0, &r, &rep);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 1)));
  EXPECT_TRUE(rep.torn_tail);
  EXPECT_EQ(rep.torn_offset, before_last);
}

TEST(JournalTest, GarbageAfterACrashIsIgnored) {
  testing::ScratchDir dir;
  uint64_t good = 0;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir / "live", 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 7);
    good = SizeOf(Segment(dir / "live", 1));
    CrashCopy(dir / "live", dir / "j");
  }
  const std::string root = dir / "j";
  std::mt19937 rng(42);
  std::string garbage(50000, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  std::ofstream(Segment(root, 1), std::ios::binary | std::ios::app) << garbage;

  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(root, 0, &r, &rep);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 7)));
  EXPECT_TRUE(rep.torn_tail);
  EXPECT_EQ(rep.torn_offset, good);
  EXPECT_EQ(rep.torn_bytes, garbage.size());
}

TEST(JournalTest, ZeroFilledTailIsIgnored) {
  testing::ScratchDir dir;
  CrashedJournal(dir, 3);
  std::ofstream(Segment(dir / "j", 1), std::ios::binary | std::ios::app)
      << std::string(100000, '\0');
  Replayed r;
  JournalOpenReport rep;
  ASSERT_TRUE(OpenJournal(dir / "j", 0, &r, &rep).ok());
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
// the records: the byte counts match the files and a reopen replays exactly.
TEST(JournalTest, PreallocatedSegmentsKeepTheirSize) {
  testing::ScratchDir dir;
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep, /*segment_bytes=*/4 << 20);
  ASSERT_TRUE(j.ok());
  // The segment is written by the first append, header first.
  EXPECT_FALSE(PathExists(Segment(dir.path(), 1)));
  AppendRange(j->get(), 1, 3);
  const FileSpace space = SpaceOf(Segment(dir.path(), 1));
  EXPECT_EQ(space.size, (*j)->total_bytes());
  EXPECT_GT(space.size, (*j)->appended_bytes());
  // Where the file system supports fallocate, more is reserved than written.
  const std::string probe = dir / "probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  const bool can_preallocate = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
  ::close(fd);
  ASSERT_EQ(::unlink(probe.c_str()), 0);
  if (can_preallocate) EXPECT_GE(space.allocated, uint64_t{1} << 20);
  j->reset();
  Replayed again;
  ASSERT_TRUE(ReadJournal(dir.path(), 0, &again, &rep, 4 << 20).ok());
  EXPECT_THAT(again.seqs, ElementsAreArray(Seqs(1, 3)));
}

// total_bytes counts the bytes in the segment files, before and after a trim.
TEST(JournalTest, TotalBytesIsTheSizeOfTheSegmentsThroughATrim) {
  testing::ScratchDir dir;
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep, /*segment_bytes=*/64 * 1024);
  ASSERT_TRUE(j.ok());
  for (uint64_t s = 1; s <= 100; s += 5) AppendRange(j->get(), s, s + 4);
  EXPECT_EQ((*j)->total_bytes(), SizeOfAllSegments(dir / "journal"));
  const size_t before = ListDir(dir / "journal")->size();
  ASSERT_TRUE((*j)->TrimThrough(60).ok());
  EXPECT_LT(ListDir(dir / "journal")->size(), before);
  EXPECT_EQ((*j)->total_bytes(), SizeOfAllSegments(dir / "journal"));
  j->reset();
  Replayed again;
  ASSERT_TRUE(ReadJournal(dir.path(), 60, &again, &rep, 64 * 1024).ok());
  EXPECT_THAT(again.seqs, ElementsAreArray(Seqs(61, 100)));
}

TEST(JournalTest, DamageFollowedByValidRecordsIsDataLoss) {
  testing::ScratchDir dir;
  uint64_t third_start = 0;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir / "live", 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 2);
    third_start = SizeOf(Segment(dir / "live", 1));
    AppendRange(j->get(), 3, 30);
    CrashCopy(dir / "live", dir / "j");  // no seal: only the records follow
  }
  const std::string seg = Segment(dir / "j", 1);
  auto bytes = ReadFileToString(seg);
  ASSERT_TRUE(bytes.ok());
  std::string bad = *bytes;
  bad[third_start + journal::kHeaderSize + 3] ^= 0x01;  // inside record 3's payload
  ASSERT_TRUE(AtomicWriteFile(seg, bad).ok());
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir / "j", 0, &r, &rep);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("whole records follow"));
  EXPECT_EQ(SizeOf(seg), bytes->size());  // nothing cut
}

// Two segments: 1..5 (closed by the second open) and 6..8.
void TwoSegments(const std::string& root) {
  for (uint64_t from : {1, 6}) {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(root, 0, &r, &rep);
    ASSERT_TRUE(j.ok()) << j.status();
    AppendRange(j->get(), from, from == 1 ? 5 : 8);
  }
}

TEST(JournalTest, AnOlderSegmentShorterThanItsSuccessorSaysIsDataLoss) {
  testing::ScratchDir dir;
  TwoSegments(dir.path());
  const std::string first = Segment(dir.path(), 1);
  auto bytes = ReadFileToString(first);
  ASSERT_TRUE(bytes.ok());
  ASSERT_EQ(0, ::truncate(first.c_str(), static_cast<off_t>(bytes->size() - 5)));
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir.path(), 0, &r, &rep);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("shorter than"));
}

TEST(JournalTest, DamageInAnOlderSegmentIsDataLoss) {
  testing::ScratchDir dir;
  TwoSegments(dir.path());
  const std::string first = Segment(dir.path(), 1);
  std::string bytes = *ReadFileToString(first);
  bytes[bytes.size() - 40] ^= 0x01;  // in the seal or the last record
  ASSERT_TRUE(AtomicWriteFile(first, bytes).ok());
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir.path(), 0, &r, &rep);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("before its end"));
}

TEST(JournalTest, MissingRecordsAreDataLoss) {
  testing::ScratchDir dir;
  TwoSegments(dir.path());
  ASSERT_EQ(0, ::unlink(Segment(dir.path(), 1).c_str()));
  Replayed r;
  JournalOpenReport rep;
  // The state is at seq 2: records 3..5 are gone.
  auto j = ReadJournal(dir.path(), 2, &r, &rep);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("no records 3 to 5"));
  // A state already past the lost segment needs nothing from it.
  Replayed r2;
  ASSERT_TRUE(ReadJournal(dir.path(), 5, &r2, &rep).ok());
  EXPECT_THAT(r2.seqs, ElementsAreArray(Seqs(6, 8)));
}

TEST(JournalTest, LosingTheNewestSegmentOrTheDirectoryIsNoticed) {
  testing::ScratchDir dir;
  TwoSegments(dir.path());
  {
    testing::ScratchDir copy;
    CrashCopy(dir.path(), copy / "j");
    ASSERT_EQ(0, ::unlink(Segment(copy / "j", 6).c_str()));
    Replayed r;
    JournalOpenReport rep;
    auto j = ReadJournal(copy / "j", 0, &r, &rep);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 5)));
    EXPECT_FALSE(rep.extent_verified);
    EXPECT_THAT(rep.extent_problem, HasSubstr("which is missing"));
  }
  {
    testing::ScratchDir copy;
    CrashCopy(dir.path(), copy / "j");
    ASSERT_TRUE(RemoveAll(copy / "j/journal").ok());
    Replayed r;
    JournalOpenReport rep;
    auto j = ReadJournal(copy / "j", 0, &r, &rep);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_FALSE(rep.extent_verified);
    EXPECT_THAT(rep.extent_problem, HasSubstr("no segments"));
  }
  {
    testing::ScratchDir copy;
    CrashCopy(dir.path(), copy / "j");
    ASSERT_EQ(0, ::unlink((copy / "j/HEAD").c_str()));
    Replayed r;
    JournalOpenReport rep;
    auto j = ReadJournal(copy / "j", 0, &r, &rep);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_FALSE(rep.extent_verified);
    EXPECT_THAT(rep.extent_problem, HasSubstr("missing"));
  }
}

TEST(JournalTest, ASegmentOfAnotherCellIsDataLoss) {
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = Journal::Open(OptionsIn(dir / "other", 1 << 20, /*cell=*/8), 0,
                           [](uint64_t, absl::string_view) { return absl::OkStatus(); }, &rep);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->StartAppending(1).ok());
    AppendRange(j->get(), 1, 3);
  }
  ASSERT_TRUE(CreateDirs(DefaultFs(), dir / "j/journal").ok());
  std::filesystem::copy(Segment(dir / "other", 1), Segment(dir / "j", 1));
  std::filesystem::copy(dir / "other/HEAD", dir / "j/HEAD");
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir / "j", 0, &r, &rep);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("belongs to cell 8"));
  EXPECT_TRUE(r.seqs.empty());
}

// A state ahead of its journal (a power loss in buffered durability): the
// journal restarts above it with the gap declared; reading across the gap is
// DataLoss, reading above it is fine.
TEST(JournalTest, RestartingAboveTheStateDeclaresTheGap) {
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
    auto j = OpenJournal(dir.path(), /*after=*/9, &r, &rep);  // the state holds 1..9
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_EQ(rep.last_seq, 5u);
    EXPECT_EQ((*j)->gap_end(), 9u);
    AppendRange(j->get(), 10, 12);
  }
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir.path(), 3, &r, &rep);
  EXPECT_TRUE(absl::IsDataLoss(j.status())) << j.status();
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("declared missing"));
  Replayed above;
  ASSERT_TRUE(ReadJournal(dir.path(), 9, &above, &rep).ok());
  EXPECT_THAT(above.seqs, ElementsAreArray(Seqs(10, 12)));
  EXPECT_EQ(rep.gap_end, 9u);
}

// A segment without a header (journal format 1) is refused, named.
TEST(JournalTest, AFormatOneSegmentIsRefusedClearly) {
  testing::ScratchDir dir;
  ASSERT_TRUE(CreateDirs(DefaultFs(), dir / "journal").ok());
  journal::Writer w;
  std::string payload, file;
  PutFixed64(&payload, 1);
  payload += "body";
  w.AddRecord(payload, &file);
  ASSERT_TRUE(AtomicWriteFile(Segment(dir.path(), 1), file).ok());
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir.path(), 0, &r, &rep);
  EXPECT_FALSE(j.ok());
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("format 1"));
}

// A crash while a segment was being created leaves an empty file: it is set
// aside (kept) and the journal opens.
TEST(JournalTest, AnEmptyNewestSegmentIsSetAside) {
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 4);
  }
  std::ofstream(Segment(dir.path(), 5), std::ios::binary);  // empty
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 4)));
  ASSERT_EQ(rep.set_aside.size(), 1u);
  EXPECT_TRUE(PathExists(rep.set_aside[0]));
  AppendRange(j->get(), 5, 6);
}

// Opening to append writes nothing until the first append: the journal
// (its segments and its head) stays byte for byte as Open found it, torn
// tail included, however often it is opened; the first append then links
// its new segment to where the valid records end.
TEST(JournalTest, StartingToAppendWritesNothingUntilTheFirstAppend) {
  testing::ScratchDir dir;
  CrashedJournal(dir, 3);
  // A torn write after record 3.
  const std::string seg = Segment(dir / "j", 1);
  ASSERT_TRUE(AtomicWriteFile(seg, *ReadFileToString(seg) + std::string("\x07\x00\x01", 3)).ok());
  auto snapshot = [&] {
    std::map<std::string, std::string> files;
    const std::vector<std::string> names = *ListDir(dir / "j/journal");
    for (const std::string& n : names) {
      files[n] = *ReadFileToString(dir / ("j/journal/" + n));
    }
    files["HEAD"] = *ReadFileToString(dir / "j/HEAD");
    return files;
  };
  const auto before = snapshot();
  for (int open = 0; open < 2; ++open) {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir / "j", 0, &r, &rep);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 3)));
    EXPECT_TRUE(rep.torn_tail);
    EXPECT_EQ((*j)->last_seq(), 3u);
  }
  EXPECT_EQ(snapshot(), before);
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir / "j", 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 4, 5);
  }
  EXPECT_NE(snapshot(), before);
  Replayed again;
  JournalOpenReport rep;
  ASSERT_TRUE(OpenJournal(dir / "j", 0, &again, &rep).ok());
  EXPECT_THAT(again.seqs, ElementsAreArray(Seqs(1, 5)));
  EXPECT_FALSE(rep.torn_tail);
}

TEST(JournalTest, RestartingWithoutWritesReplacesTheNewestSegmentWithoutChangingIt) {
  // A restart that appends nothing leaves a segment holding only its header
  // (and a seal); the next start writes a new one of the same name. It must
  // replace the file, not truncate it: the old file stays whole (a copy that
  // shares it by a hard link sees no change), so a crash leaves one of the two.
  testing::ScratchDir dir;
  {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok());
    AppendRange(j->get(), 1, 3);
    ASSERT_TRUE((*j)->Rotate().ok());
  }
  const std::string newest = Segment(dir.path(), 4);
  const std::string linked = dir.path() + "/linked";
  ASSERT_EQ(::link(newest.c_str(), linked.c_str()), 0);
  auto before = ReadFileToString(linked);
  ASSERT_TRUE(before.ok());
  for (int restart = 0; restart < 2; ++restart) {
    Replayed r;
    JournalOpenReport rep;
    auto j = OpenJournal(dir.path(), 0, &r, &rep);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 3)));
  }
  auto after = ReadFileToString(linked);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *before);
  EXPECT_FALSE(PathExists(newest + ".new"));
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 0, &r, &rep);
  ASSERT_TRUE(j.ok()) << j.status();
  AppendRange(j->get(), 4, 5);
  j->reset();
  Replayed again;
  ASSERT_TRUE(OpenJournal(dir.path(), 0, &again, &rep).ok());
  EXPECT_THAT(again.seqs, ElementsAreArray(Seqs(1, 5)));
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
    ASSERT_TRUE((*j)->Rotate().ok());  // nothing new: no new segment
    AppendRange(j->get(), 11, 15);
  }
  EXPECT_EQ(ListDir(dir / "journal")->size(), 2u);
  Replayed r;
  JournalOpenReport rep;
  auto j = OpenJournal(dir.path(), 10, &r, &rep);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(11, 15)));
  EXPECT_EQ(rep.records_read, 5u);  // the segment at or below seq 10 is not read
  ASSERT_TRUE((*j)->TrimThrough(10).ok());
  EXPECT_FALSE(PathExists(Segment(dir.path(), 1)));
  EXPECT_TRUE(PathExists(Segment(dir.path(), 11)));
  j->reset();
  Replayed again;
  ASSERT_TRUE(ReadJournal(dir.path(), 10, &again, &rep).ok());
  EXPECT_THAT(again.seqs, ElementsAreArray(Seqs(11, 15)));
}

// Opens the journal in `root` as an owner of epoch `epoch` (0: none) and
// starts appending after what it holds.
absl::StatusOr<std::unique_ptr<Journal>> OpenAsOwner(const std::string& root, uint64_t epoch,
                                                     Replayed* out) {
  JournalOptions o = OptionsIn(root);
  o.writer_epoch = epoch;
  JournalOpenReport report;
  absl::StatusOr<std::unique_ptr<Journal>> j = Journal::Open(
      o, 0,
      [out](uint64_t seq, absl::string_view body) {
        out->seqs.push_back(seq);
        out->bodies.emplace_back(body);
        return absl::OkStatus();
      },
      &report);
  if (!j.ok()) return j;
  if (!report.extent_verified) return absl::DataLossError(report.extent_problem);
  if (absl::Status s = (*j)->StartAppending(report.last_seq + 1); !s.ok()) return s;
  return j;
}

// Two processes owning a cell in turn (host processes coordinated through
// etcd): the old one, frozen past its lease, wakes and appends. Nothing it
// writes after the new owner opened the journal is ever read.
TEST(JournalTest, AnEarlierOwnersLateAppendsAreNeverRead) {
  testing::ScratchDir dir;
  Replayed first;
  auto old_owner = OpenAsOwner(dir.path(), 5, &first);
  ASSERT_TRUE(old_owner.ok()) << old_owner.status();
  // The owner's segment is written as it opens, before any append.
  EXPECT_TRUE(PathExists(Segment(dir.path(), 1)));
  AppendRange(old_owner->get(), 1, 3);

  // The new owner takes the journal while the old one is still open.
  Replayed taken;
  auto new_owner = OpenAsOwner(dir.path(), 9, &taken);
  ASSERT_TRUE(new_owner.ok()) << new_owner.status();
  EXPECT_THAT(taken.seqs, ElementsAreArray(Seqs(1, 3)));
  EXPECT_TRUE(PathExists(Segment(dir.path(), 4)));  // fenced before it serves

  // The old owner's late appends go to its own segment, past the end the
  // new owner's segment gives it. A reader before the new owner's first
  // append sees none of them.
  std::vector<Journal::Entry> late = {{4, "late 4"}, {5, "late 5"}};
  ASSERT_TRUE((*old_owner)->Append(late, true).ok());
  {
    Replayed r;
    JournalOpenReport rep;
    ASSERT_TRUE(ReadJournal(dir.path(), 0, &r, &rep).ok());
    EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 3)));
  }
  std::vector<Journal::Entry> mine = {{4, "new owner's 4"}};
  ASSERT_TRUE((*new_owner)->Append(mine, true).ok());
  new_owner->reset();
  Replayed r;
  JournalOpenReport rep;
  ASSERT_TRUE(ReadJournal(dir.path(), 0, &r, &rep).ok());
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 4)));
  EXPECT_EQ(r.bodies.back(), "new owner's 4");

  // An owner of an earlier epoch cannot take it back.
  Replayed again;
  EXPECT_EQ(OpenAsOwner(dir.path(), 5, &again).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A writer with no epoch (one process, the store's lock held) carries on
  // the newest epoch.
  {
    Replayed plain;
    auto j = OpenAsOwner(dir.path(), 0, &plain);
    ASSERT_TRUE(j.ok()) << j.status();
    AppendRange(j->get(), 5, 6);
  }
  Replayed all;
  ASSERT_TRUE(ReadJournal(dir.path(), 0, &all, &rep).ok()) << rep.extent_problem;
  EXPECT_THAT(all.seqs, ElementsAreArray(Seqs(1, 6)));
}

TEST(JournalTest, AnEarlierOwnersRotationCannotReplaceALaterOwnersSegment) {
  testing::ScratchDir dir;
  Replayed r1, r2;
  auto old_owner = OpenAsOwner(dir.path(), 5, &r1);
  ASSERT_TRUE(old_owner.ok());
  AppendRange(old_owner->get(), 1, 3);
  auto new_owner = OpenAsOwner(dir.path(), 9, &r2);
  ASSERT_TRUE(new_owner.ok());
  const std::string taken = *ReadFileToString(Segment(dir.path(), 4));
  // The old owner's next segment would have the new owner's segment's name.
  EXPECT_EQ((*old_owner)->Rotate().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadFileToString(Segment(dir.path(), 4)), taken);
  std::vector<Journal::Entry> mine = {{4, "new owner's 4"}};
  ASSERT_TRUE((*new_owner)->Append(mine, true).ok());
  new_owner->reset();
  Replayed r;
  JournalOpenReport rep;
  ASSERT_TRUE(ReadJournal(dir.path(), 0, &r, &rep).ok());
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 4)));
}

TEST(JournalTest, ASegmentAnEarlierOwnerStartsAfterALaterOnesIsSetAsideAndKept) {
  testing::ScratchDir dir;
  Replayed r1, r2;
  auto old_owner = OpenAsOwner(dir.path(), 5, &r1);
  ASSERT_TRUE(old_owner.ok());
  AppendRange(old_owner->get(), 1, 2);
  {
    auto new_owner = OpenAsOwner(dir.path(), 9, &r2);
    ASSERT_TRUE(new_owner.ok());
    AppendRange(new_owner->get(), 3, 4);
  }
  // The late owner appends, starts a segment of a name the new owner has
  // not used, appends to it, and closes (writing its own head).
  AppendRange(old_owner->get(), 3, 5);
  ASSERT_TRUE((*old_owner)->Rotate().ok());
  ASSERT_TRUE(PathExists(Segment(dir.path(), 6)));
  std::vector<Journal::Entry> late = {{6, "late 6"}};
  ASSERT_TRUE((*old_owner)->Append(late, true).ok());
  old_owner->reset();
  // Read: exactly the later owner's records; the late segment kept aside.
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir.path(), 0, &r, &rep);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_TRUE(rep.extent_verified) << rep.extent_problem;
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 4)));
  EXPECT_EQ(r.bodies[2], Body(3));  // the new owner's 3, not the late owner's
  ASSERT_EQ(rep.fenced.size(), 1u);
  EXPECT_EQ(rep.fenced[0], Segment(dir.path(), 6) + ".fenced");
  EXPECT_TRUE(PathExists(rep.fenced[0]));  // the evidence stays
  EXPECT_FALSE(PathExists(Segment(dir.path(), 6)));
  j->reset();
  // A third owner carries on from the later owner's end.
  Replayed r3;
  auto third = OpenAsOwner(dir.path(), 12, &r3);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_THAT(r3.seqs, ElementsAreArray(Seqs(1, 4)));
  AppendRange(third->get(), 5, 6);
  third->reset();
  Replayed all;
  ASSERT_TRUE(ReadJournal(dir.path(), 0, &all, &rep).ok());
  EXPECT_THAT(all.seqs, ElementsAreArray(Seqs(1, 6)));
}

// A late owner's close writes its own head, never the later owner's: the
// journal's end stays provable.
TEST(JournalTest, ALateOwnersCloseDoesNotHideTheLaterOwnersHead) {
  testing::ScratchDir dir;
  Replayed r1, r2;
  auto old_owner = OpenAsOwner(dir.path(), 5, &r1);
  ASSERT_TRUE(old_owner.ok());
  AppendRange(old_owner->get(), 1, 2);
  auto new_owner = OpenAsOwner(dir.path(), 9, &r2);
  ASSERT_TRUE(new_owner.ok());
  AppendRange(new_owner->get(), 3, 4);
  new_owner->reset();      // closed: its head says where the journal ends
  old_owner->reset();      // the late close seals its segment, writes its head
  Replayed r;
  JournalOpenReport rep;
  auto j = ReadJournal(dir.path(), 0, &r, &rep);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_TRUE(rep.extent_verified) << rep.extent_problem;
  EXPECT_TRUE(rep.sealed);
  EXPECT_THAT(r.seqs, ElementsAreArray(Seqs(1, 4)));
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

TEST(JournalFormatTest, HeaderSealAndHeadRoundTrip) {
  journal::SegmentHeader h;
  h.index_id = "abc";
  h.cell_id = 3;
  h.first_seq = 42;
  h.prev_first = 7;
  h.prev_end = 12345;
  h.prev_last_seq = 41;
  h.gap_end = 30;
  h.created = absl::FromUnixMicros(1700000000000000);
  absl::StatusOr<journal::RecordView> v = journal::DecodeRecord(journal::EncodeSegmentHeader(h));
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->kind, journal::RecordView::Kind::kHeader);
  EXPECT_EQ(v->header.index_id, "abc");
  EXPECT_EQ(v->header.first_seq, 42u);
  EXPECT_EQ(v->header.prev_end, 12345u);
  EXPECT_EQ(v->header.gap_end, 30u);
  EXPECT_EQ(v->header.created, h.created);
  v = journal::DecodeRecord(journal::EncodeSeal(99));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->seal_last_seq, 99u);
  const std::string head = journal::EncodeHead({3, 42});
  EXPECT_EQ(journal::DecodeHead(head)->newest, 42u);
  for (size_t i = 0; i < head.size(); ++i) {
    std::string bad = head;
    bad[i] ^= 0x04;
    EXPECT_TRUE(absl::IsDataLoss(journal::DecodeHead(bad).status())) << i;
  }
}

}  // namespace
}  // namespace cellindex
