// Opening a journal: reading its segments, verifying that they form one
// chain and that the head proves its end, and replaying what the caller's
// state lacks. Nothing here appends.
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "index/base/file_util.h"
#include "recovery/journal/journal.h"
#include "recovery/journal/journal_reader.h"
#include "recovery/journal/journal_segments.h"
#include "rocksdb/file_system.h"

namespace cellindex {
namespace {

using journal::ListSegments;
using journal::SegmentFile;

constexpr absl::string_view kIncompleteSuffix = ".incomplete";
constexpr absl::string_view kFencedSuffix = ".fenced";

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
  // A segment of an earlier owner after a later owner's was started by the
  // earlier one after it had lost the cell (fencing): its writer's lease
  // had ended (so it acknowledged nothing in it) before the later owner
  // could claim the cell and start its own. It is set aside, kept, never
  // read; the later owner's chain links past it.
  {
    uint64_t newest_epoch = 0;
    std::vector<ReadSegment> kept;
    for (ReadSegment& seg : chain) {
      if (seg.header.writer_epoch < newest_epoch) {
        const std::string aside = absl::StrCat(seg.file.path, kFencedSuffix);
        if (absl::Status s = RenameDurably(fs, seg.file.path, aside); !s.ok()) return s;
        report->set_aside.push_back(aside);
        report->fenced.push_back(aside);
        continue;
      }
      newest_epoch = seg.header.writer_epoch;
      kept.push_back(std::move(seg));
    }
    chain = std::move(kept);
  }
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
  // Each owner epoch writes its own head: the newest segment's epoch's is
  // read, or its predecessor's when the newest (of a new owner) holds
  // nothing yet and its owner's head was not written before a crash.
  const uint64_t head_epoch = chain.empty() ? 0 : chain.back().header.writer_epoch;
  absl::StatusOr<std::string> head_bytes =
      ReadFileToString(fs, HeadPathFor(options.head_path, head_epoch));
  if (absl::IsNotFound(head_bytes.status()) && chain.size() >= 2 &&
      chain[chain.size() - 2].header.writer_epoch != head_epoch) {
    head_bytes = ReadFileToString(
        fs, HeadPathFor(options.head_path, chain[chain.size() - 2].header.writer_epoch));
  }
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

absl::StatusOr<uint64_t> Journal::EpochStart(const JournalOptions& options, uint64_t epoch) {
  rocksdb::FileSystem& fs = *options.fs;
  absl::StatusOr<std::vector<SegmentFile>> files = ListSegments(fs, options.dir);
  if (!files.ok()) return files.status();
  std::optional<uint64_t> before;  // the epoch of the segment before, when its header read
  for (const SegmentFile& f : *files) {
    ReadSegment seg;
    seg.file = f;
    if (!ReadHeader(fs, options, &seg).ok()) {
      before.reset();
      continue;
    }
    const uint64_t e = seg.header.writer_epoch;
    if (e == epoch && before.has_value() && *before < epoch) return f.first - 1;
    before = e;
  }
  return absl::NotFoundError(absl::StrCat("no segment of the journal in ", options.dir,
                                          " shows where owner epoch ", epoch, " began"));
}

}  // namespace cellindex
