#include "recovery/journal/journal.h"

#include <algorithm>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "index/base/coding.h"
#include "index/base/file_util.h"
#include "recovery/journal/journal_reader.h"
#include "rocksdb/file_system.h"

namespace cellindex {

struct Journal::Segment {
  // Blocks are reserved this many bytes at a time ahead of the appends.
  static constexpr uint64_t kPreallocateBytes = 1 << 20;

  std::unique_ptr<rocksdb::FSWritableFile> file;
  std::string path;
  uint64_t first = 0;
  uint64_t size = 0;          // bytes appended: the file's size
  uint64_t synced_size = 0;   // bytes known durable
  bool has_data = false;      // holds a data record
  uint64_t preallocated = 0;  // bytes reserved by Preallocate; the appender's alone

  // Reserves the blocks up to at least `end` with fallocate(KEEP_SIZE), so
  // that an append + fdatasync writes into blocks that exist instead of also
  // allocating them (on ext4, ~13% less time per 330-byte append + fdatasync).
  // KEEP_SIZE leaves the file's size that of the bytes written, so readers
  // and the byte counts see no difference. Best effort: where fallocate is
  // unsupported or finds no space, the write that follows reports any real
  // problem.
  void Preallocate(uint64_t end) {
    if (end <= preallocated) return;
    const uint64_t target = (end / kPreallocateBytes + 1) * kPreallocateBytes;
    (void)file->Allocate(preallocated, target - preallocated, rocksdb::IOOptions(), nullptr);
    preallocated = target;
  }
};

namespace {

constexpr absl::string_view kSegmentSuffix = ".log";
constexpr absl::string_view kIncompleteSuffix = ".incomplete";

rocksdb::IOOptions IO() { return rocksdb::IOOptions(); }

bool ParseSegmentName(absl::string_view name, uint64_t* first_seq) {
  if (name.size() != 20 + kSegmentSuffix.size() || name.substr(20) != kSegmentSuffix) {
    return false;
  }
  for (char c : name.substr(0, 20)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(name.substr(0, 20), first_seq) && *first_seq > 0;
}

struct SegmentFile {
  uint64_t first = 0;
  std::string path;
};

// The journal's segments, oldest first; none when the directory is missing.
absl::StatusOr<std::vector<SegmentFile>> ListSegments(rocksdb::FileSystem& fs,
                                                      const std::string& dir) {
  std::vector<SegmentFile> out;
  absl::StatusOr<std::vector<std::string>> names = ListDir(fs, dir);
  if (absl::IsNotFound(names.status())) return out;
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    uint64_t first;
    if (ParseSegmentName(name, &first)) out.push_back({first, dir + "/" + name});
  }
  std::sort(out.begin(), out.end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.first < b.first; });
  return out;
}

absl::Status Damaged(const std::string& path, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("journal segment ", path, ": ", why));
}

// One segment being read: its bytes and its header.
struct ReadSegment {
  SegmentFile file;
  std::string contents;
  journal::SegmentHeader header;
  uint64_t header_end = 0;  // offset just past the header record
};

// Reads `seg`'s bytes and header. DataLoss unless the first record is a
// header of this journal naming the segment's own first seq.
absl::Status ReadHeader(rocksdb::FileSystem& fs, const JournalOptions& o, ReadSegment* seg) {
  absl::StatusOr<std::string> contents = ReadFileToString(fs, seg->file.path);
  if (!contents.ok()) return contents.status();
  seg->contents = *std::move(contents);
  journal::Reader reader(seg->contents);
  absl::string_view record;
  std::string scratch;
  if (!reader.ReadRecord(&record, &scratch)) {
    return Damaged(seg->file.path, absl::StrCat("no valid header (", reader.damage_reason(), ")"));
  }
  absl::StatusOr<journal::RecordView> v = journal::DecodeRecord(record);
  if (!v.ok()) {
    return absl::Status(v.status().code(), absl::StrCat("journal segment ", seg->file.path, ": ",
                                                        v.status().message()));
  }
  if (v->kind != journal::RecordView::Kind::kHeader) {
    return Damaged(seg->file.path,
                   "does not start with a segment header (written by an older cellindex, "
                   "journal format 1, which this version does not read)");
  }
  const journal::SegmentHeader& h = v->header;
  if (h.first_seq != seg->file.first) {
    return Damaged(seg->file.path, absl::StrCat("its header says it starts at seq ", h.first_seq));
  }
  if (h.cell_id != o.cell_id || (!o.index_id.empty() && h.index_id != o.index_id)) {
    return Damaged(seg->file.path, absl::StrCat("it belongs to cell ", h.cell_id, " of index ",
                                                h.index_id, ", not cell ", o.cell_id,
                                                " of index ", o.index_id));
  }
  seg->header = h;
  seg->header_end = reader.valid_end();
  return absl::OkStatus();
}

// Whether the newest segment holds nothing at all: no whole record and no
// well-formed fragment anywhere (a crash while it was being started). Seen
// with seed 0, as its header is: if the header itself is damaged, fragments
// after it (seeded with the salt it held) are not seen either, the segment
// is set aside, and the head, which named it, reports it missing.
bool HoldsNothing(absl::string_view contents) {
  journal::Reader reader(contents);
  absl::string_view record;
  std::string scratch;
  if (reader.ReadRecord(&record, &scratch)) return false;
  return !reader.ValidFragmentAfterDamage();
}

}  // namespace

std::string Journal::SegmentName(uint64_t first_seq) {
  return absl::StrFormat("%020u%s", first_seq, kSegmentSuffix);
}

Journal::Journal(JournalOptions options) : options_(std::move(options)) {}

Journal::~Journal() {
  absl::MutexLock lock(&mu_);
  if (current_ == nullptr || !error_.ok()) return;
  // A clean close: seal the segment, so that damage to its last records is
  // never mistaken for a torn write.
  if (current_->has_data) {
    std::string bytes;
    framer_.AddRecord(journal::EncodeSeal(last_seq_), &bytes);
    if (!current_->file->Append(rocksdb::Slice(bytes), IO(), nullptr).ok()) return;
    current_->size += bytes.size();
    unsynced_bytes_ += bytes.size();
  }
  if (unsynced_bytes_ > 0 && !current_->file->Sync(IO(), nullptr).ok()) return;
  (void)current_->file->Close(IO(), nullptr);
  if (!current_->has_data) return;  // nothing a cut could lose
  // Where the journal ends, outside the segment: a cut of it is then seen.
  journal::Head head;
  head.cell_id = options_.cell_id;
  head.newest = current_->first;
  head.closed = true;
  head.closed_end = current_->size;
  head.closed_last_seq = last_seq_;
  (void)AtomicWriteFile(*options_.fs, options_.head_path, journal::EncodeHead(head));
}

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(const JournalOptions& options,
                                                       uint64_t after_seq,
                                                       const ReplayFn& replay,
                                                       JournalOpenReport* report) {
  rocksdb::FileSystem& fs = *options.fs;
  auto journal = std::unique_ptr<Journal>(new Journal(options));
  absl::StatusOr<std::vector<SegmentFile>> listed = ListSegments(fs, options.dir);
  if (!listed.ok()) return listed.status();
  std::vector<SegmentFile> segments = *std::move(listed);
  report->segments = segments.size();

  // A newest segment that holds nothing was being started when the process
  // stopped: set it aside (kept, never read).
  while (!segments.empty()) {
    absl::StatusOr<std::string> contents = ReadFileToString(fs, segments.back().path);
    if (!contents.ok()) return contents.status();
    if (!HoldsNothing(*contents)) break;
    const std::string aside = absl::StrCat(segments.back().path, kIncompleteSuffix);
    if (absl::Status s = RenameDurably(fs, segments.back().path, aside); !s.ok()) return s;
    report->set_aside.push_back(aside);
    segments.pop_back();
  }

  // The first segment to read: the one holding after_seq + 1.
  size_t k = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].first <= after_seq + 1) k = i;
  }
  uint64_t closed_bytes = 0;
  for (size_t i = 0; i < k; ++i) {
    absl::StatusOr<uint64_t> size = FileSize(fs, segments[i].path);
    if (size.ok()) closed_bytes += *size;
  }

  std::vector<ReadSegment> chain(segments.size() - std::min(k, segments.size()));
  for (size_t j = 0; j < chain.size(); ++j) {
    chain[j].file = segments[k + j];
    if (absl::Status s = ReadHeader(fs, options, &chain[j]); !s.ok()) return s;
  }
  // (The first segment read may link to a predecessor that was trimmed, or
  // that is damaged: nothing in it is needed, so it is not checked.)
  uint64_t extent = chain.empty() ? 0 : chain.front().header.prev_last_seq;
  bool any_data = false;
  std::string scratch;
  for (size_t j = 0; j < chain.size(); ++j) {
    ReadSegment& seg = chain[j];
    const journal::SegmentHeader& h = seg.header;
    const bool newest = j + 1 == chain.size();
    const std::string& path = seg.file.path;
    if (j > 0) {
      const ReadSegment& prev = chain[j - 1];
      if (h.prev_first != prev.file.first || h.prev_last_seq != extent) {
        return Damaged(path, absl::StrCat("its header says its predecessor is ", h.prev_first,
                                          " ending at seq ", h.prev_last_seq, "; the journal has ",
                                          prev.file.first, " ending at seq ", extent));
      }
    }
    if (h.first_seq <= extent) {
      return Damaged(path, absl::StrCat("starts at seq ", h.first_seq,
                                        ", inside its predecessor (through seq ", extent, ")"));
    }
    if (h.first_seq > extent + 1 && after_seq + 1 < h.first_seq) {
      return absl::DataLossError(absl::StrCat(
          "journal ", options.dir, " has no records ", std::max(extent, after_seq) + 1, " to ",
          h.first_seq - 1, " (declared missing when segment ", path, " was started)"));
    }
    extent = h.first_seq - 1;

    uint64_t limit = seg.contents.size();
    if (!newest) {
      limit = chain[j + 1].header.prev_end;
      if (limit > seg.contents.size()) {
        return Damaged(path, absl::StrCat("is ", seg.contents.size(), " bytes, shorter than the ",
                                          limit, " its successor says"));
      }
    }
    const absl::string_view bytes = absl::string_view(seg.contents).substr(0, limit);
    journal::Reader reader(bytes);
    absl::string_view record;
    reader.ReadRecord(&record, &scratch);  // the header, read before
    reader.set_seed(h.salt);
    bool sealed = false;
    while (reader.ReadRecord(&record, &scratch)) {
      absl::StatusOr<journal::RecordView> v = journal::DecodeRecord(record);
      if (!v.ok()) return Damaged(path, v.status().message());
      if (sealed) return Damaged(path, "records follow its seal");
      if (v->kind == journal::RecordView::Kind::kHeader) {
        return Damaged(path, "a second segment header inside it");
      }
      if (v->kind == journal::RecordView::Kind::kSeal) {
        if (v->seal_last_seq != extent) {
          return Damaged(path, absl::StrCat("its seal says seq ", v->seal_last_seq,
                                            " but its records end at ", extent));
        }
        sealed = true;
        continue;
      }
      if (v->seq != extent + 1) {
        return Damaged(path, absl::StrCat("record seq ", v->seq, " out of order (previous ",
                                          extent, ")"));
      }
      extent = v->seq;
      any_data = true;
      ++report->records_read;
      if (v->seq <= after_seq) continue;  // already in the cell's state
      if (absl::Status s = replay(v->seq, v->body); !s.ok()) return s;
      ++report->records_replayed;
    }
    if (reader.damaged()) {
      const std::string where = absl::StrCat("damaged at offset ", reader.damage_offset(), " (",
                                             reader.damage_reason(), ")");
      if (!newest) return Damaged(path, absl::StrCat(where, " before its end at ", limit));
      if (reader.ValidFragmentAfterDamage()) {
        return Damaged(path, absl::StrCat(where, "; whole records follow the damage"));
      }
      report->torn_tail = true;
      report->torn_segment = path;
      report->torn_offset = reader.valid_end();
      report->torn_bytes = bytes.size() - reader.valid_end();
      report->torn_reason = reader.damage_reason();
    } else if (!newest && reader.valid_end() != limit) {
      return Damaged(path, absl::StrCat("its records end at byte ", reader.valid_end(),
                                        ", not at ", limit, " as its successor says"));
    }
    report->sealed = newest && sealed;
    if (newest) {
      absl::MutexLock lock(&journal->mu_);
      Newest& n = journal->newest_;
      n.exists = true;
      n.has_data = extent >= h.first_seq;
      n.first = h.first_seq;
      n.valid_end = reader.valid_end();
      n.file_size = seg.contents.size();
      n.header = h;
    } else {
      closed_bytes += seg.contents.size();
    }
  }
  if (!chain.empty() && chain.front().file.first > after_seq + 1) {
    return absl::DataLossError(absl::StrCat("journal ", options.dir, " has no records ",
                                            after_seq + 1, " to ",
                                            chain.front().file.first - 1));
  }
  report->last_seq = extent;
  report->gap_end = chain.empty() ? 0 : chain.back().header.gap_end;

  // The head must name the newest segment (or the one before it, when the
  // newest was started but holds nothing yet).
  absl::StatusOr<std::string> head_bytes = ReadFileToString(fs, options.head_path);
  auto unverified = [&](std::string why) {
    report->extent_verified = false;
    report->extent_problem = std::move(why);
  };
  if (absl::IsNotFound(head_bytes.status())) {
    if (extent > 0 || after_seq > 0 || any_data) {
      unverified(absl::StrCat("the journal head ", options.head_path,
                              " is missing, so a lost newest segment would go unnoticed"));
    }
  } else if (!head_bytes.ok()) {
    return head_bytes.status();
  } else if (absl::StatusOr<journal::Head> head = journal::DecodeHead(*head_bytes); !head.ok()) {
    unverified(std::string(head.status().message()));
  } else if (head->cell_id != options.cell_id) {
    unverified(absl::StrCat("the journal head belongs to cell ", head->cell_id));
  } else if (chain.empty()) {
    unverified(absl::StrCat("the journal head names segment ", head->newest,
                            ", but the journal has no segments"));
  } else {
    const Newest& n = journal->newest_;
    const bool names_newest = head->newest == n.first;
    const bool names_previous = chain.size() >= 2 &&
                                head->newest == chain[chain.size() - 2].file.first && !n.has_data;
    if (!names_newest && !names_previous) {
      unverified(absl::StrCat("the journal head names segment ", head->newest,
                              head->newest > n.first ? ", which is missing"
                                                     : ", but newer segments hold records"));
    } else if (names_newest && head->closed &&
               (n.valid_end != head->closed_end || extent != head->closed_last_seq)) {
      // Closed cleanly, yet the segment does not end where the close left it.
      return Damaged(chain.back().file.path,
                     absl::StrCat("the journal was closed at byte ", head->closed_end, " (seq ",
                                  head->closed_last_seq, "), but the segment's records end at "
                                  "byte ", n.valid_end, " (seq ", extent, ")"));
    }
  }

  absl::MutexLock lock(&journal->mu_);
  journal->last_seq_ = extent;
  journal->synced_seq_ = extent;
  journal->gap_end_ = report->gap_end;
  journal->closed_segment_bytes_ = closed_bytes;
  return journal;
}

absl::Status Journal::StartAppending(uint64_t next_seq) {
  absl::MutexLock lock(&mu_);
  if (current_ != nullptr) return absl::InternalError("journal: already appending");
  if (next_seq <= last_seq_) {
    return absl::InternalError(
        absl::StrCat("journal: cannot start at seq ", next_seq, ", it holds seq ", last_seq_));
  }
  if (absl::Status s = CreateDirs(*options_.fs, options_.dir); !s.ok()) return s;
  Link link;
  link.gap_end = gap_end_;
  if (newest_.exists && !newest_.has_data && newest_.first == next_seq) {
    // The newest segment holds only its header: start it again, linked to
    // what it was linked to.
    link.prev_first = newest_.header.prev_first;
    link.prev_end = newest_.header.prev_end;
    link.prev_last_seq = newest_.header.prev_last_seq;
  } else if (newest_.exists) {
    link.prev_first = newest_.first;
    link.prev_end = newest_.valid_end;
    link.prev_last_seq = last_seq_;
    closed_segment_bytes_ += newest_.file_size;
  }
  if (next_seq > link.prev_last_seq + 1) link.gap_end = std::max(link.gap_end, next_seq - 1);
  absl::Status s = StartSegment(next_seq, link);
  if (!s.ok()) error_ = s;
  last_seq_ = next_seq - 1;
  synced_seq_ = last_seq_;
  gap_end_ = link.gap_end;
  return s;
}

absl::Status Journal::StartSegment(uint64_t first_seq, const Link& link) {
  rocksdb::FileSystem& fs = *options_.fs;
  auto seg = std::make_shared<Segment>();
  seg->path = options_.dir + "/" + SegmentName(first_seq);
  seg->first = first_seq;
  if (rocksdb::IOStatus s = fs.NewWritableFile(seg->path, PlainFileOptions(), &seg->file, nullptr);
      !s.ok()) {
    return FromIO(s, absl::StrCat("create ", seg->path));
  }
  journal::SegmentHeader h;
  h.index_id = options_.index_id;
  h.cell_id = options_.cell_id;
  h.first_seq = first_seq;
  h.prev_first = link.prev_first;
  h.prev_end = link.prev_end;
  h.prev_last_seq = link.prev_last_seq;
  h.gap_end = link.gap_end;
  h.created = absl::Now();
  absl::BitGen gen;
  h.salt = absl::Uniform<uint64_t>(gen);
  std::string bytes;
  journal::Writer(0, 0).AddRecord(journal::EncodeSegmentHeader(h), &bytes);
  seg->Preallocate(bytes.size());
  rocksdb::IOStatus ws = seg->file->Append(rocksdb::Slice(bytes), IO(), nullptr);
  if (ws.ok()) ws = seg->file->Sync(IO(), nullptr);
  if (!ws.ok()) return FromIO(ws, absl::StrCat("write ", seg->path));
  seg->size = seg->synced_size = bytes.size();
  if (absl::Status s = SyncDir(fs, options_.dir); !s.ok()) return s;
  // Only now may the head name it: a head never names a segment that a
  // crash could leave without its header.
  journal::Head head;
  head.cell_id = options_.cell_id;
  head.newest = first_seq;
  if (absl::Status s = AtomicWriteFile(fs, options_.head_path, journal::EncodeHead(head));
      !s.ok()) {
    return s;
  }
  if (current_ != nullptr) {
    closed_segment_bytes_ += current_->size;
    (void)current_->file->Close(IO(), nullptr);
  }
  current_ = std::move(seg);
  framer_ = journal::Writer(bytes.size(), h.salt);
  unsynced_bytes_ = 0;
  return absl::OkStatus();
}

void Journal::FailLocked(const absl::Status& s) {
  if (!error_.ok()) return;
  error_ = s;
  if (current_ == nullptr) return;
  // After a failed write or sync, the bytes after the last successful sync
  // may be in the page cache and not on disk (and a later fsync may not say
  // so). End the chain at the last synced byte, in a new segment, so that a
  // reopen never reads them. If even that fails, the reopen reads the
  // segment as it finds it.
  Link link;
  link.prev_first = current_->first;
  link.prev_end = current_->synced_size;
  link.prev_last_seq = synced_seq_;
  link.gap_end = gap_end_;
  if (StartSegment(synced_seq_ + 1, link).ok()) last_seq_ = synced_seq_;
}

absl::Status Journal::Append(const std::vector<Entry>& entries, bool sync) {
  if (entries.empty()) return absl::OkStatus();
  std::shared_ptr<Segment> seg;
  uint64_t offset;
  std::string bytes;
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) return error_;
    if (current_ == nullptr) return absl::InternalError("journal: not started");
    if (entries.front().seq != last_seq_ + 1) {
      return absl::InternalError(absl::StrCat("journal append of seq ", entries.front().seq,
                                              " does not follow ", last_seq_));
    }
    if (current_->size >= options_.segment_bytes && current_->has_data) {
      if (unsynced_bytes_ > 0) {
        if (rocksdb::IOStatus s = current_->file->Sync(IO(), nullptr); !s.ok()) {
          absl::Status st = FromIO(s, absl::StrCat("fdatasync ", current_->path));
          FailLocked(st);
          return st;
        }
        current_->synced_size = current_->size;
        synced_seq_ = last_seq_;
      }
      Link link{current_->first, current_->size, last_seq_, gap_end_};
      if (absl::Status s = StartSegment(entries.front().seq, link); !s.ok()) {
        FailLocked(s);
        return s;
      }
    }
    std::string payload;
    for (const Entry& e : entries) {
      payload.clear();
      PutFixed64(&payload, e.seq);
      payload.append(e.body.data(), e.body.size());
      framer_.AddRecord(payload, &bytes);
    }
    seg = current_;
    offset = seg->size;
  }
  // Only this (single) appender writes the segment, so the write and sync run
  // without the lock; Sync() may fdatasync the same file concurrently.
  seg->Preallocate(offset + bytes.size());
  absl::Status s =
      FromIO(seg->file->Append(rocksdb::Slice(bytes), IO(), nullptr), absl::StrCat("write ", seg->path));
  if (s.ok() && sync) {
    s = FromIO(seg->file->Sync(IO(), nullptr), absl::StrCat("fdatasync ", seg->path));
  }
  absl::MutexLock lock(&mu_);
  if (!s.ok()) {
    FailLocked(s);
    return s;
  }
  seg->size += bytes.size();
  seg->has_data = true;
  appended_bytes_ += bytes.size();
  last_seq_ = entries.back().seq;
  if (sync) {
    seg->synced_size = seg->size;
    synced_seq_ = last_seq_;
  } else {
    unsynced_bytes_ += bytes.size();
  }
  return absl::OkStatus();
}

absl::Status Journal::Sync() {
  std::shared_ptr<Segment> seg;
  uint64_t size, seq;
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) return error_;
    if (unsynced_bytes_ == 0 || current_ == nullptr) return absl::OkStatus();
    seg = current_;
    size = seg->size;
    seq = last_seq_;
    unsynced_bytes_ = 0;
  }
  rocksdb::IOStatus io = seg->file->Sync(IO(), nullptr);
  absl::MutexLock lock(&mu_);
  if (!io.ok()) {
    absl::Status s = FromIO(io, absl::StrCat("fdatasync ", seg->path));
    FailLocked(s);
    return s;
  }
  if (seg == current_ && size > seg->synced_size) {
    seg->synced_size = size;
    synced_seq_ = std::max(synced_seq_, seq);
  }
  return absl::OkStatus();
}

absl::Status Journal::Rotate() {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  if (current_ == nullptr) return absl::InternalError("journal: not started");
  if (!current_->has_data) return absl::OkStatus();
  if (unsynced_bytes_ > 0) {
    if (rocksdb::IOStatus s = current_->file->Sync(IO(), nullptr); !s.ok()) {
      absl::Status st = FromIO(s, absl::StrCat("fdatasync ", current_->path));
      FailLocked(st);
      return st;
    }
    current_->synced_size = current_->size;
    synced_seq_ = last_seq_;
  }
  Link link{current_->first, current_->size, last_seq_, gap_end_};
  absl::Status s = StartSegment(last_seq_ + 1, link);
  if (!s.ok()) FailLocked(s);
  return s;
}

absl::Status Journal::TrimThrough(uint64_t seq) {
  rocksdb::FileSystem& fs = *options_.fs;
  absl::StatusOr<std::vector<SegmentFile>> segments = ListSegments(fs, options_.dir);
  if (!segments.ok()) return segments.status();
  absl::MutexLock lock(&mu_);
  bool removed = false;
  // Segment i holds seqs [first_i, first_{i+1}); it can go when
  // first_{i+1} - 1 <= seq. The last listed segment is the current one.
  for (size_t i = 0; i + 1 < segments->size(); ++i) {
    const SegmentFile& seg = (*segments)[i];
    if ((*segments)[i + 1].first > seq + 1) break;
    if (current_ != nullptr && seg.first >= current_->first) break;
    absl::StatusOr<uint64_t> size = FileSize(fs, seg.path);
    if (absl::Status s = FromIO(fs.DeleteFile(seg.path, IO(), nullptr),
                                absl::StrCat("delete ", seg.path));
        !s.ok()) {
      return s;
    }
    closed_segment_bytes_ -= std::min(closed_segment_bytes_, size.ok() ? *size : 0);
    removed = true;
  }
  return removed ? SyncDir(fs, options_.dir) : absl::OkStatus();
}

uint64_t Journal::last_seq() const {
  absl::MutexLock lock(&mu_);
  return last_seq_;
}

uint64_t Journal::synced_seq() const {
  absl::MutexLock lock(&mu_);
  return synced_seq_;
}

uint64_t Journal::gap_end() const {
  absl::MutexLock lock(&mu_);
  return gap_end_;
}

uint64_t Journal::total_bytes() const {
  absl::MutexLock lock(&mu_);
  return closed_segment_bytes_ + (current_ ? current_->size : 0);
}

uint64_t Journal::appended_bytes() const {
  absl::MutexLock lock(&mu_);
  return appended_bytes_;
}

}  // namespace cellindex
