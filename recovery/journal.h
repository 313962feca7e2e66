// A cell's journal: the durable, ordered log of its writes (format in
// journal_format.h). One writer appends (the cell's group-commit leader); any
// thread may call Sync.
#ifndef CELLINDEX_RECOVERY_JOURNAL_H_
#define CELLINDEX_RECOVERY_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "recovery/journal_writer.h"

namespace cellindex {

struct JournalOptions {
  // Directory holding the segment files; created if missing.
  std::string dir;
  // A new segment is started once the current one reaches this size. Blocks
  // are reserved 1 MiB ahead of the appends (fallocate, keeping the file's
  // size), so the disk holds up to 1 MiB more per segment than it reports.
  uint64_t segment_bytes = 64 << 20;
};

// What Journal::Open found, for Stats and tests.
struct JournalOpenReport {
  uint64_t segments = 0;
  uint64_t records_read = 0;
  uint64_t records_replayed = 0;
  uint64_t last_seq = 0;
  // A torn tail cut from the newest segment, if any.
  bool cut_tail = false;
  std::string cut_segment;
  uint64_t cut_offset = 0;
  uint64_t cut_bytes = 0;
  std::string cut_reason;
};

class Journal {
 public:
  // Called for every record with seq > `after_seq`, in sequence order.
  using ReplayFn = std::function<absl::Status(uint64_t seq, absl::string_view body)>;

  // Opens the journal in `options.dir`: reads every segment, hands records
  // above `after_seq` to `replay`, cuts a torn tail from the newest segment and
  // starts a fresh segment for appends. Returns DataLoss when the records
  // above `after_seq` do not continue from it without a gap, or when damage is
  // followed by valid records (a hole, not a torn tail).
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const JournalOptions& options,
                                                       uint64_t after_seq, const ReplayFn& replay,
                                                       JournalOpenReport* report);
  ~Journal();

  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  struct Entry {
    uint64_t seq;
    absl::string_view body;
  };
  // Appends `entries` (consecutive seqs continuing last_seq()) with one write,
  // then fdatasyncs when `sync`. After an error the journal refuses further
  // appends: the file may hold a torn record that only a reopen cuts.
  absl::Status Append(const std::vector<Entry>& entries, bool sync);
  // Makes everything appended so far durable. Thread-safe.
  absl::Status Sync();

  // Closes the current segment (if it holds anything) and starts a new one,
  // so that a checkpoint's trim can later delete all it covers. Called by
  // the single appender's side (no Append runs concurrently).
  absl::Status Rotate();
  // Deletes the segments all of whose records are at or below `seq` (a
  // checkpoint holds them). The newest segment is never deleted.
  absl::Status TrimThrough(uint64_t seq);

  uint64_t last_seq() const;
  // Bytes in all segments.
  uint64_t total_bytes() const;
  // Bytes appended since this journal was opened.
  uint64_t appended_bytes() const;

  // Segment file name for a first sequence number.
  static std::string SegmentName(uint64_t first_seq);

 private:
  struct Segment;
  explicit Journal(JournalOptions options);
  absl::Status StartSegment(uint64_t first_seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JournalOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<Segment> current_ ABSL_GUARDED_BY(mu_);
  journal::Writer framer_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t closed_segment_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t appended_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t unsynced_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_JOURNAL_H_
