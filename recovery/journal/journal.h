// A cell's journal: the durable, ordered log of its writes (format in
// journal_format.h). One writer appends (the cell's group-commit leader); any
// thread may call Sync.
//
// Opening is in two steps, so that a caller can refuse what it finds without
// having changed anything: Open reads and verifies the segments and replays
// the records above the caller's state; StartAppending then starts a new
// segment linked to the last one read.
#ifndef CELLINDEX_RECOVERY_JOURNAL_JOURNAL_H_
#define CELLINDEX_RECOVERY_JOURNAL_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "recovery/journal/journal_format.h"
#include "recovery/journal/journal_writer.h"

namespace rocksdb {
class FileSystem;
}

namespace cellindex {

struct JournalOptions {
  // Where every file of the journal is written. Required.
  rocksdb::FileSystem* fs = nullptr;
  // Directory holding the segment files; created when appending starts.
  std::string dir;
  // The head file, naming the newest segment. It lives outside `dir`, so
  // that losing the whole directory is detected.
  std::string head_path;
  // Identity written into every segment header and checked on open: a
  // segment of another cell or index is damage.
  std::string index_id;
  uint32_t cell_id = 0;
  // A new segment is started once the current one reaches this size. Blocks
  // are reserved 1 MiB ahead of the appends (fallocate, keeping the file's
  // size), so the disk holds up to 1 MiB more per segment than it reports.
  uint64_t segment_bytes = 64 << 20;
  // Fencing between processes that own the cell in turn (host processes
  // coordinated through etcd): the owner epoch, which grows with each new
  // owner (0: one process owns the journal for good, as in one index).
  // With an epoch, StartAppending writes its new segment at once, before
  // the cell serves: that segment's header says where the previous
  // owner's last segment ends, so bytes a late previous owner appends
  // after it are never read. A segment written by a lower epoch than its
  // predecessor's is damage (DataLoss), and a journal whose newest segment
  // has a higher epoch is refused (FailedPrecondition: a later owner has
  // it). A writer without an epoch carries on the newest segment's. A late
  // owner's rotation does not replace a later owner's segment of the same
  // name (FailedPrecondition), and an owner with an epoch creates each
  // segment by link(2), so two owners starting one name at once cannot
  // both succeed. A segment of a new name that a late owner starts after
  // a later owner's is set aside on open (renamed *.fenced, kept, never
  // read: no write in it can have been acknowledged, since its writer's
  // lease had ended before the later owner could claim the cell). Each
  // epoch writes its own head file (HeadPathFor), so a late owner's head
  // never hides the later owner's; open reads the newest segment's.
  uint64_t writer_epoch = 0;
};

// The head file of owner epoch `epoch`: `head_path` itself for epoch 0 (one
// process), `head_path`.E otherwise.
std::string HeadPathFor(const std::string& head_path, uint64_t epoch);

// What Journal::Open found.
struct JournalOpenReport {
  uint64_t segments = 0;       // segment files in the directory
  uint64_t records_read = 0;   // data records read (those above the state replayed)
  uint64_t records_replayed = 0;
  // Every seq up to here is in the journal (or declared missing, see gaps in
  // journal_format.h).
  uint64_t last_seq = 0;
  // The newest segment ends with a seal: the journal was closed cleanly.
  bool sealed = false;
  // Bytes after the newest segment's last whole record: a write torn by a
  // crash. They are not read, and not deleted.
  bool torn_tail = false;
  std::string torn_segment;
  uint64_t torn_offset = 0;
  uint64_t torn_bytes = 0;
  std::string torn_reason;
  // Whether the head proves that no newer segment is missing. False, with
  // the reason, when the head is missing although records exist, is
  // damaged, or names a segment that is not there.
  bool extent_verified = true;
  std::string extent_problem;
  // The highest seq the journal has declared missing (0: none).
  uint64_t gap_end = 0;
  // Newest segments that held no valid header (a crash while one was being
  // started), renamed with a ".incomplete" suffix and no longer read.
  std::vector<std::string> set_aside;
  // Of those, the segments a late owner started after a later owner's
  // (JournalOptions::writer_epoch).
  std::vector<std::string> fenced;
};

class Journal {
 public:
  // Called for every record with seq > `after_seq`, in sequence order.
  using ReplayFn = std::function<absl::Status(uint64_t seq, absl::string_view body)>;

  // Reads the journal in `options.dir`, verifying that its segments form one
  // chain (each header names where its predecessor ended), and hands every
  // record above `after_seq` to `replay`. Bytes after the last whole record
  // of the newest segment are a torn tail: reported, never read. DataLoss
  // when a segment is damaged before its end, damage is followed by a whole
  // record, a segment is shorter than its successor says, belongs to another
  // cell or index, or records above `after_seq` are missing. What the head
  // cannot prove is reported in `report` (extent_verified), not refused: the
  // caller decides. Changes nothing except setting aside an empty newest
  // segment. The journal takes no appends until StartAppending.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const JournalOptions& options,
                                                       uint64_t after_seq, const ReplayFn& replay,
                                                       JournalOpenReport* report);
  // Seals the current segment (when it holds records) and syncs it.
  ~Journal();

  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Readies the journal for appends from `next_seq` (at least last_seq() +
  // 1; more declares the seqs between missing). The new segment, linked to
  // the newest segment read and named in the head, is written by the first
  // append, before its records: a cell that opens and serves reads writes
  // nothing to its journal (four fsyncs fewer on every restore), and a
  // crash before the first append leaves the journal as Open found it.
  // With options.writer_epoch, the segment is written now (see there).
  absl::Status StartAppending(uint64_t next_seq);
  // Where owner epoch `epoch` took over the journal in `options.dir`: one
  // less than the first seq of its first segment, the one after a segment
  // of a lower epoch. NotFound when the journal no longer shows it (its
  // segments trimmed, or the epoch never wrote). Reads headers only; every
  // segment's file is read whole, so this is for rare uses (a damaged
  // owner fence).
  static absl::StatusOr<uint64_t> EpochStart(const JournalOptions& options, uint64_t epoch);
  // Starts the journal in `options.dir`, which must hold no segment, at
  // `first_seq`: its first segment, declaring the seqs before it missing
  // (a split's child, whose state holds them), and the head naming it, so
  // that the journal's end is proven from the start. FailedPrecondition
  // when the directory holds segments already.
  static absl::Status Create(const JournalOptions& options, uint64_t first_seq);

  struct Entry {
    uint64_t seq;
    absl::string_view body;
  };
  // Appends `entries` (consecutive seqs continuing last_seq()) with one write,
  // then fdatasyncs when `sync`. After a failed write or sync the journal
  // takes no more appends, and it does not trust any byte after the last
  // successful sync: it starts a new segment that ends the chain there (if
  // it still can), and the cell must reopen it.
  absl::Status Append(const std::vector<Entry>& entries, bool sync);
  // Makes everything appended so far durable. Thread-safe. A failure is
  // handled as in Append.
  absl::Status Sync();

  // Closes the current segment (if it holds records) and starts a new one,
  // so that a checkpoint's trim can later delete all it covers. Called by
  // the single appender's side (no Append runs concurrently).
  absl::Status Rotate();
  // Deletes the segments all of whose records are at or below `seq` (a
  // checkpoint holds them). The newest segment is never deleted.
  absl::Status TrimThrough(uint64_t seq);

  uint64_t last_seq() const;
  // The last seq known to be durable (fdatasync'ed).
  uint64_t synced_seq() const;
  // The highest seq the journal has declared missing (0: none).
  uint64_t gap_end() const;
  // The owner epoch its new segments carry: options.writer_epoch, or (0)
  // the newest segment's, which it carries on.
  uint64_t epoch() const;
  // Bytes in all segments.
  uint64_t total_bytes() const;
  // Bytes appended since this journal was opened.
  uint64_t appended_bytes() const;

  // Segment file name for a first sequence number.
  static std::string SegmentName(uint64_t first_seq);

 private:
  struct Segment;
  // Where the chain ends before a new segment.
  struct Link {
    uint64_t prev_first = 0;
    uint64_t prev_end = 0;
    uint64_t prev_last_seq = 0;
    uint64_t gap_end = 0;
  };
  explicit Journal(JournalOptions options);
  absl::Status StartSegment(uint64_t first_seq, const Link& link)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Syncs the current segment and starts the next one after last_seq_.
  absl::Status RotateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the segment StartAppending readied, if it has not been yet.
  absl::Status StartPendingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records `s` as the journal's error and ends the chain at the last
  // synced byte.
  void FailLocked(const absl::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JournalOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<Segment> current_ ABSL_GUARDED_BY(mu_);
  // Set by StartAppending until the first append writes that segment.
  struct Pending {
    uint64_t first = 0;
    Link link;
  };
  std::optional<Pending> pending_ ABSL_GUARDED_BY(mu_);
  journal::Writer framer_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t synced_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t gap_end_ ABSL_GUARDED_BY(mu_) = 0;
  // The owner epoch its segments carry (see JournalOptions::writer_epoch).
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // The newest segment Open read, before StartAppending: how to link to it.
  struct Newest {
    bool exists = false;
    bool has_data = false;
    uint64_t first = 0;
    uint64_t valid_end = 0;
    uint64_t file_size = 0;
    journal::SegmentHeader header;
  } newest_ ABSL_GUARDED_BY(mu_);
  uint64_t closed_segment_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t appended_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t unsynced_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_JOURNAL_JOURNAL_H_
