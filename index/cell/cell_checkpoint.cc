// What a checkpoint of a cell captures: one consistent set of its RocksDB
// files, the sessions that wrote them, and where the journal may be trimmed.
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "index/base/rocks_status.h"
#include "index/cell/cell.h"
#include "rocksdb/sst_file_reader.h"
#include "rocksdb/table_properties.h"

namespace cellindex {

absl::StatusOr<Cell::LiveFiles> Cell::CaptureLiveFiles() {
  LiveFiles live;
  rocksdb::Status ds = db_->DisableFileDeletions();
  if (!ds.ok()) return FromRocks(ds, absl::StrCat("cell ", range_.id, ": disable deletions"));
  absl::Status s = RunExclusive([&]() -> absl::Status {
    live.applied_seq = next_seq_ - 1;
    live.key_count = count_;
    rocksdb::FlushOptions fo;
    fo.wait = true;
    fo.allow_write_stall = true;
    // Both column families, atomically (the options set atomic_flush).
    if (absl::Status f =
            FromRocks(db_->Flush(fo, {db_->DefaultColumnFamily(), locations_.get()}), "flush");
        !f.ok()) {
      return f;
    }
    rocksdb::LiveFilesStorageInfoOptions lo;
    lo.wal_size_for_flush = std::numeric_limits<uint64_t>::max();  // flushed just now
    if (absl::Status l = FromRocks(db_->GetLiveFilesStorageInfo(lo, &live.files),
                                   "list live files");
        !l.ok()) {
      return l;
    }
    // A fresh segment from here on: once this checkpoint is the oldest kept,
    // everything before it can be trimmed.
    return journal_->Rotate();
  });
  if (s.ok()) s = FromRocks(db_->GetDbIdentity(live.db_identity), "db identity");
  if (s.ok()) s = FromRocks(db_->GetDbSessionId(live.db_session_id), "db session id");
  if (s.ok()) s = FindTableSessions(&live);
  if (!s.ok()) {
    ReleaseLiveFiles();
    return absl::Status(s.code(), absl::StrCat("cell ", range_.id, ": ", s.message()));
  }
  return live;
}

absl::Status Cell::FindTableSessions(LiveFiles* live) {
  // The current version's table properties (cached by RocksDB); a listed
  // file that a compaction has meanwhile replaced is read directly (file
  // deletions are off, so it is still there).
  // GetLiveFilesStorageInfo leaves the checksums RocksDB recorded for each
  // file empty; the metadata has them.
  std::vector<rocksdb::LiveFileMetaData> meta;
  db_->GetLiveFilesMetaData(&meta);
  std::map<std::string, const rocksdb::LiveFileMetaData*> meta_by_name;
  for (const rocksdb::LiveFileMetaData& m : meta) meta_by_name[m.relative_filename] = &m;
  for (rocksdb::LiveFileStorageInfo& f : live->files) {
    auto it = meta_by_name.find(f.relative_filename);
    if (it == meta_by_name.end() || !f.file_checksum_func_name.empty()) continue;
    f.file_checksum = it->second->file_checksum;
    f.file_checksum_func_name = it->second->file_checksum_func_name;
  }
  rocksdb::TablePropertiesCollection props;
  if (absl::Status s = FromRocks(db_->GetPropertiesOfAllTables(&props), "table properties");
      !s.ok()) {
    return s;
  }
  std::map<std::string, std::string> by_name;
  for (const auto& [path, p] : props) {
    by_name[path.substr(path.find_last_of('/') + 1)] = p->db_session_id;
  }
  for (const rocksdb::LiveFileStorageInfo& f : live->files) {
    if (f.file_type != rocksdb::kTableFile) continue;
    auto it = by_name.find(f.relative_filename);
    if (it != by_name.end()) {
      live->table_sessions[f.relative_filename] = it->second;
      continue;
    }
    rocksdb::Options o;
    o.env = db_->GetEnv();
    rocksdb::SstFileReader reader(o);
    const std::string path = f.directory + "/" + f.relative_filename;
    if (absl::Status s = FromRocks(reader.Open(path), absl::StrCat("open ", path)); !s.ok()) {
      return s;
    }
    live->table_sessions[f.relative_filename] = reader.GetTableProperties()->db_session_id;
  }
  return absl::OkStatus();
}

void Cell::ReleaseLiveFiles() { (void)db_->EnableFileDeletions(/*force=*/false); }

absl::Status Cell::TrimJournal(uint64_t seq) { return journal_->TrimThrough(seq); }

uint64_t Cell::journal_bytes_since_checkpoint() const {
  const uint64_t appended = journal_ ? journal_->appended_bytes() : 0;
  const uint64_t mark = checkpoint_mark_.load();
  return mark == 0 ? appended + replayed_bytes_ : appended - (mark - 1);
}

void Cell::NoteCheckpoint() {
  // Stored plus one, so that zero means "no checkpoint since open".
  checkpoint_mark_ = (journal_ ? journal_->appended_bytes() : 0) + 1;
}

}  // namespace cellindex
