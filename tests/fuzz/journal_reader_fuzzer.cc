// Fuzzes the journal reader (recovery/journal_reader.h) against the writer
// (recovery/journal_writer.h).
//
// The first input byte picks a mode; the mode reads the rest:
//
//   raw        The bytes are a segment's contents.
//   writer     Records (sizes from the input, contents generated from it) framed
//              by journal::Writer in two runs, the second as when appending to an
//              existing segment; then, as the input says, nothing, a cut (a torn
//              tail) or one flipped byte (damage). The reader must return exactly
//              the records before the cut or the damage. A torn tail must not look
//              like damage with valid fragments after it (it is cut, not refused);
//              damage followed by a whole record must (it is refused, never cut).
//   fragments  Fragments built from the input with correct checksums (unless the
//              input asks for a bad one), of any type sequence, some of a bad type,
//              then maybe cut. A model of the format says which records the reader
//              must return and where it must report damage. This mode alone lays
//              out bytes as journal_format.h says; at start it checks that
//              journal::Writer frames records the same way, and when not (the format
//              changed) it says so on stderr and reads such inputs as raw ones.
//
// In every mode: each record returned is whole and lies inside the input or the
// scratch buffer; the reader reads nothing past the input (AddressSanitizer, on
// exact-size copies); the bytes before valid_end() read back as the same records,
// undamaged (cutting a torn tail loses nothing); a fresh journal::Writer frames
// the records so that they read back the same; and a record appended after the
// cut with journal::Writer(valid_end()) reads back after them.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "index/base/coding.h"
#include "recovery/journal/journal_format.h"
#include "recovery/journal/journal_reader.h"
#include "recovery/journal/journal_writer.h"
#include "tests/fuzz/fuzz_util.h"

namespace cellindex::fuzz {
namespace {

using journal::Reader;
using journal::Writer;

// Segments a mode builds stay below this: several blocks, and fast enough for
// hundreds of runs a second (a damaged segment is scanned byte by byte).
constexpr size_t kMaxSegmentBytes = 3 * journal::kBlockSize;

// Consumes the fuzz input front to back; reads past its end give zeros.
class Input {
 public:
  explicit Input(absl::string_view s) : s_(s) {}
  bool empty() const { return s_.empty(); }
  absl::string_view rest() const { return s_; }
  uint8_t Byte() {
    if (s_.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(s_.front());
    s_.remove_prefix(1);
    return b;
  }
  uint16_t Fixed16() {
    const uint16_t low = Byte();
    return static_cast<uint16_t>(low | (Byte() << 8));
  }
  std::string Take(size_t n) {
    n = std::min(n, s_.size());
    std::string out(s_.substr(0, n));
    s_.remove_prefix(n);
    return out;
  }

 private:
  absl::string_view s_;
};

// `n` pseudo-random bytes, from a place in a fixed random table that `seed`
// picks: record contents that cannot contain a well-formed fragment by
// accident. (Copied, not generated per byte: this runs for every input.)
std::string Pattern(size_t n, uint64_t seed) {
  static const std::string table = [] {
    std::string t(64 * 1024, '\0');
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (char& c : t) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x >> 32);
    }
    return t;
  }();
  std::string s;
  s.reserve(n);
  size_t at = (seed * 7919) % table.size();
  while (s.size() < n) {
    const size_t chunk = std::min(n - s.size(), table.size() - at);
    s.append(table, at, chunk);
    at = 0;
  }
  return s;
}

std::string Frame(const std::vector<std::string>& records, uint64_t file_offset = 0) {
  Writer writer(file_offset);
  std::string out;
  for (const std::string& r : records) writer.AddRecord(r, &out);
  return out;
}

bool Inside(absl::string_view part, absl::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// What one pass of the reader over a segment gave.
struct ReadResult {
  std::vector<std::string> records;
  bool damaged = false;
  uint64_t valid_end = 0;
  uint64_t damage_offset = 0;
  bool valid_after_damage = false;
};

ReadResult ReadAll(absl::string_view bytes) {
  const ExactBuffer buffer(bytes);
  const absl::string_view contents = buffer.view();
  Reader reader(contents);
  ReadResult r;
  std::string scratch;
  absl::string_view record;
  uint64_t last_end = 0;
  while (reader.ReadRecord(&record, &scratch)) {
    FUZZ_CHECK(Inside(record, contents) || Inside(record, scratch),
               "a record lies outside both the segment and the scratch buffer");
    const uint64_t end = reader.valid_end();
    FUZZ_CHECK(end <= contents.size(), "valid_end() is past the segment");
    FUZZ_CHECK(r.records.empty() || end > last_end, "valid_end() did not grow with a record");
    last_end = end;
    r.records.emplace_back(record);
  }
  r.damaged = reader.damaged();
  r.valid_end = reader.valid_end();
  FUZZ_CHECK(r.records.empty() || r.valid_end == last_end, "valid_end() moved without a record");
  FUZZ_CHECK(r.valid_end <= contents.size(), "valid_end() is past the segment");
  if (r.damaged) {
    r.damage_offset = reader.damage_offset();
    FUZZ_CHECK(r.valid_end <= r.damage_offset && r.damage_offset <= contents.size(),
               "damage_offset() is not between valid_end() and the end of the segment");
    FUZZ_CHECK(!reader.damage_reason().empty(), "damage without a reason");
    r.valid_after_damage = reader.ValidFragmentAfterDamage();
  } else {
    FUZZ_CHECK(!reader.ValidFragmentAfterDamage(), "ValidFragmentAfterDamage() without damage");
  }
  FUZZ_CHECK(!reader.ReadRecord(&record, &scratch), "a record after the reader stopped");
  FUZZ_CHECK(reader.damaged() == r.damaged && reader.valid_end() == r.valid_end,
             "the reader's state changed after it stopped");
  return r;
}

std::string Counts(const ReadResult& got, size_t want) {
  return std::to_string(got.records.size()) + " records read, " + std::to_string(want) +
         " expected, damaged " + std::to_string(got.damaged);
}

// The checks every mode makes of a segment `contents` read as `r`.
void CheckCutReframeAppend(absl::string_view contents, const ReadResult& r) {
  const ReadResult cut = ReadAll(contents.substr(0, r.valid_end));
  FUZZ_CHECK(!cut.damaged && cut.records == r.records,
             "the bytes before valid_end() read differently: " + Counts(cut, r.records.size()));

  const ReadResult reframed = ReadAll(Frame(r.records));
  FUZZ_CHECK(!reframed.damaged && reframed.records == r.records,
             "re-framed records read back differently: " + Counts(reframed, r.records.size()));

  std::string appended(contents.substr(0, r.valid_end));
  std::vector<std::string> expected = r.records;
  expected.push_back(Pattern(5000, r.records.size()));
  Writer writer(appended.size());
  writer.AddRecord(expected.back(), &appended);
  const ReadResult after = ReadAll(appended);
  FUZZ_CHECK(!after.damaged && after.records == expected,
             "a record appended after the cut reads back differently: " +
                 Counts(after, expected.size()));
}

void RawMode(absl::string_view contents) {
  CheckCutReframeAppend(contents, ReadAll(contents));
}

void WriterMode(Input in) {
  enum Op { kNone, kCut, kFlip };
  const Op op = static_cast<Op>(in.Byte() % 3);
  const uint16_t where = in.Fixed16();
  const uint8_t mask = std::max<uint8_t>(in.Byte(), 1);
  const uint8_t first_run = in.Byte();
  std::vector<std::string> records;
  size_t total = 0;
  while (!in.empty() && records.size() < 64 && total < kMaxSegmentBytes) {
    // Sizes below 0xc0 in one byte; larger ones, across blocks, in two.
    const uint8_t b = in.Byte();
    const size_t n = std::min(b < 0xc0 ? b : (size_t{b - 0xc0u} << 12) | (size_t{in.Byte()} << 4),
                              kMaxSegmentBytes - total);
    records.push_back(Pattern(n, (records.size() << 8) | in.Byte()));
    total += n;
  }

  std::string contents;
  std::vector<uint64_t> ends;  // where each record's last fragment ends
  const size_t split = first_run % (records.size() + 1);
  Writer first(0);
  for (size_t i = 0; i < split; ++i) {
    first.AddRecord(records[i], &contents);
    ends.push_back(contents.size());
  }
  Writer second(contents.size());
  for (size_t i = split; i < records.size(); ++i) {
    second.AddRecord(records[i], &contents);
    ends.push_back(contents.size());
  }
  // Records wholly before byte `at`.
  auto records_before = [&ends](uint64_t at) {
    return static_cast<size_t>(std::upper_bound(ends.begin(), ends.end(), at) - ends.begin());
  };
  auto prefix = [&records](size_t k) {
    return std::vector<std::string>(records.begin(), records.begin() + k);
  };

  if (op == kNone || contents.empty()) {
    const ReadResult r = ReadAll(contents);
    FUZZ_CHECK(!r.damaged && r.records == records,
               "framed records read back differently: " + Counts(r, records.size()));
    CheckCutReframeAppend(contents, r);
  } else if (op == kCut) {
    const uint64_t cut = uint64_t{where} * contents.size() / 65536;
    const size_t k = records_before(cut);
    contents.resize(cut);
    const ReadResult r = ReadAll(contents);
    FUZZ_CHECK(r.records == prefix(k), "a torn tail lost or added records: " + Counts(r, k));
    if (k > 0) {
      FUZZ_CHECK(r.valid_end == ends[k - 1], "valid_end() is not the end of the last record");
      FUZZ_CHECK(!r.damaged || cut != ends[k - 1], "a cut at a record's end reads as damage");
    }
    FUZZ_CHECK(!r.damaged || !r.valid_after_damage,
               "a torn tail reads as damage followed by valid fragments (it would be refused, "
               "not cut)");
    CheckCutReframeAppend(contents, r);
  } else {
    const uint64_t at = uint64_t{where} * contents.size() / 65536;
    const size_t k = records_before(at);
    contents[at] = static_cast<char>(contents[at] ^ mask);
    const ReadResult r = ReadAll(contents);
    const size_t n = r.records.size();
    FUZZ_CHECK(n <= records.size() && r.records == prefix(n),
               "damage changed a record instead of ending the read");
    FUZZ_CHECK(n == k || (n == records.size() && !r.damaged),
               "damage in one record did not stop the read there: " + Counts(r, k));
    FUZZ_CHECK(!r.damaged || k + 1 >= records.size() || r.valid_after_damage,
               "damage followed by whole records reads as a torn tail (it would be cut away)");
    CheckCutReframeAppend(contents, r);
  }
}

// ---- fragments mode: the one part that knows journal_format.h's layout ----

// Appends one fragment: checksum, length, type, payload.
void AppendFragment(uint8_t type, absl::string_view payload, bool bad_checksum,
                    std::string* out) {
  std::string covered;
  PutFixed16(&covered, static_cast<uint16_t>(payload.size()));
  covered.push_back(static_cast<char>(type));
  covered.append(payload.data(), payload.size());
  PutFixed64(out, Checksum64(covered) ^ (bad_checksum ? 1 : 0));
  out->append(covered);
}

// Zero-fills the rest of the block when no header fits in it; returns how
// many payload bytes fit in the block after the header.
size_t StartFragment(std::string* out) {
  size_t left = journal::kBlockSize - out->size() % journal::kBlockSize;
  if (left < journal::kHeaderSize) {
    out->append(left, '\0');
    left = journal::kBlockSize;
  }
  return left - journal::kHeaderSize;
}

// `records` framed after `prefix` as journal_format.h says, without Writer.
std::string FrameByFormat(absl::string_view prefix, const std::vector<std::string>& records) {
  std::string out(prefix);
  for (absl::string_view r : records) {
    bool begin = true;
    while (true) {
      const size_t n = std::min(StartFragment(&out), r.size());
      const bool end = n == r.size();
      const uint8_t type = begin && end ? journal::kFull
                           : begin      ? journal::kFirst
                           : end        ? journal::kLast
                                        : journal::kMiddle;
      AppendFragment(type, r.substr(0, n), false, &out);
      r.remove_prefix(n);
      begin = false;
      if (end) break;
    }
  }
  return out;
}

struct Layout {
  bool agrees = false;
  std::string prefix;  // whatever Writer puts before a segment's first fragment
};

const Layout& FormatLayout() {
  static const Layout layout = [] {
    const std::vector<std::string> records = {"calibration", Pattern(3 * journal::kBlockSize, 1),
                                              "", Pattern(journal::kBlockSize - 30, 2), "x"};
    Layout l;
    const std::string first = Frame({records[0]});
    std::string fragment;
    AppendFragment(journal::kFull, records[0], false, &fragment);
    if (first.size() >= fragment.size() &&
        first.compare(first.size() - fragment.size(), fragment.size(), fragment) == 0) {
      l.prefix = first.substr(0, first.size() - fragment.size());
      l.agrees = FrameByFormat(l.prefix, records) == Frame(records);
    }
    if (!l.agrees) {
      std::fprintf(stderr,
                   "fuzz_journal_reader: journal::Writer no longer frames records as this "
                   "harness's AppendFragment does (recovery/journal_format.h changed?); the "
                   "fragments mode reads its inputs as raw segments until it is updated\n");
    }
    return l;
  }();
  return layout;
}

struct Fragment {
  uint64_t pos = 0;
  uint64_t end = 0;
  uint8_t type = 0;
  bool valid = false;  // a known type and the right checksum
  std::string payload;
};

// What the format says a reader must make of `fragments` cut to `size` bytes.
struct Expected {
  std::vector<std::string> records;
  uint64_t valid_end = 0;
  bool damaged = false;
  uint64_t damage_offset = 0;
  bool valid_fragment_after = false;
};

Expected Model(const std::vector<Fragment>& fragments, uint64_t size) {
  Expected e;
  bool in_record = false;
  uint64_t record_start = 0;
  std::string partial;
  auto damage = [&](uint64_t offset, size_t later_from) {
    e.damaged = true;
    e.damage_offset = offset;
    for (size_t j = later_from; j < fragments.size(); ++j) {
      if (fragments[j].valid && fragments[j].end <= size) e.valid_fragment_after = true;
    }
    return e;
  };
  for (size_t i = 0; i < fragments.size(); ++i) {
    const Fragment& f = fragments[i];
    if (f.pos >= size) break;  // cut away whole (with any zero fill before it)
    if (f.end > size || !f.valid) return damage(in_record ? record_start : f.pos, i + 1);
    switch (f.type) {
      case journal::kFull:
        if (in_record) return damage(record_start, i);
        e.records.push_back(f.payload);
        e.valid_end = f.end;
        break;
      case journal::kFirst:
        if (in_record) return damage(record_start, i);
        in_record = true;
        record_start = f.pos;
        partial = f.payload;
        break;
      default:  // kMiddle, kLast
        if (!in_record) return damage(f.pos, i);
        partial += f.payload;
        if (f.type == journal::kLast) {
          e.records.push_back(partial);
          e.valid_end = f.end;
          in_record = false;
        }
        break;
    }
  }
  if (in_record) damage(record_start, fragments.size());
  return e;
}

void FragmentsMode(Input in) {
  const Layout& layout = FormatLayout();
  if (!layout.agrees) return RawMode(in.rest());
  const uint8_t cut = in.Byte();
  std::string contents = layout.prefix;
  std::vector<Fragment> fragments;
  while (!in.empty() && fragments.size() < 256 && contents.size() < kMaxSegmentBytes) {
    // ctl bits 0-2: type (mostly valid ones); 3-5 all set: bad checksum;
    // 6: a two-byte length; 7: a generated payload rather than input bytes.
    const uint8_t ctl = in.Byte();
    static constexpr uint8_t kTypes[8] = {journal::kFull,  journal::kFirst, journal::kMiddle,
                                          journal::kLast,  journal::kFull,  journal::kMiddle,
                                          0,               journal::kLast + 1};
    const uint8_t type = kTypes[ctl & 7];
    const bool bad_checksum = (ctl & 0x38) == 0x38;
    size_t len = in.Byte();
    if (ctl & 0x40) len = (len << 8) | in.Byte();
    len = std::min(len, StartFragment(&contents));
    Fragment f;
    if ((ctl & 0x80) == 0) f.payload = in.Take(len);
    f.payload += Pattern(len - f.payload.size(), fragments.size());
    f.pos = contents.size();
    f.type = type;
    f.valid = !bad_checksum && type >= journal::kFull && type <= journal::kLast;
    AppendFragment(type, f.payload, bad_checksum, &contents);
    f.end = contents.size();
    fragments.push_back(std::move(f));
  }
  if (cut & 0x80) {
    const size_t n = std::min<size_t>(cut & 0x7f, contents.size() - layout.prefix.size());
    contents.resize(contents.size() - n);
  }

  const Expected e = Model(fragments, contents.size());
  const ReadResult r = ReadAll(contents);
  FUZZ_CHECK(r.records == e.records, "records differ from the format's: " +
                                         Counts(r, e.records.size()));
  FUZZ_CHECK(r.damaged == e.damaged, "damage differs from the format's: " +
                                         Counts(r, e.records.size()));
  FUZZ_CHECK(!e.damaged || r.damage_offset == e.damage_offset,
             "damage_offset() " + std::to_string(r.damage_offset) + ", the format says " +
                 std::to_string(e.damage_offset));
  FUZZ_CHECK(e.records.empty() || r.valid_end == e.valid_end,
             "valid_end() " + std::to_string(r.valid_end) + ", the format says " +
                 std::to_string(e.valid_end));
  FUZZ_CHECK(!e.valid_fragment_after || r.valid_after_damage,
             "a valid fragment after the damage was not seen");
  CheckCutReframeAppend(contents, r);
}

}  // namespace
}  // namespace cellindex::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cellindex::fuzz;
  Input in(absl::string_view(reinterpret_cast<const char*>(data), size));
  switch (in.Byte() % 3) {
    case 0:
      RawMode(in.rest());
      break;
    case 1:
      WriterMode(in);
      break;
    default:
      FragmentsMode(in);
      break;
  }
  return 0;
}
