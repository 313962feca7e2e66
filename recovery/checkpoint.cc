#include "recovery/checkpoint.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "rocksdb/file_checksum.h"

namespace cellindex {
namespace {

bool Uploaded(rocksdb::FileType type) {
  // The WAL is off (the journal is the log) and the identity is in the
  // manifest; info logs are not state.
  return type == rocksdb::kTableFile || type == rocksdb::kDescriptorFile ||
         type == rocksdb::kCurrentFile || type == rocksdb::kOptionsFile ||
         type == rocksdb::kBlobFile;
}

// Checks an uploaded table file against the crc32c RocksDB recorded when it
// wrote it, fed chunk by chunk as the file is copied.
class RecordedChecksum {
 public:
  explicit RecordedChecksum(const rocksdb::LiveFileStorageInfo& f) : file_(f) {
    if (f.file_type != rocksdb::kTableFile ||
        f.file_checksum_func_name != rocksdb::kStandardDbFileChecksumFuncName) {
      return;
    }
    rocksdb::FileChecksumGenContext ctx;
    ctx.file_name = f.relative_filename;
    ctx.requested_checksum_func_name = f.file_checksum_func_name;
    gen_ = rocksdb::GetFileChecksumGenCrc32cFactory()->CreateFileChecksumGenerator(ctx);
  }
  ChunkFn Feed() {
    if (gen_ == nullptr) return nullptr;
    return [this](absl::string_view chunk) {
      gen_->Update(chunk.data(), chunk.size());
      return true;
    };
  }
  absl::Status Check() {
    if (gen_ == nullptr) return absl::OkStatus();
    gen_->Finalize();
    if (gen_->GetChecksum() == file_.file_checksum) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat(
        "local file ", file_.directory, "/", file_.relative_filename,
        " does not match the checksum RocksDB recorded when it wrote it (damaged since)"));
  }

 private:
  const rocksdb::LiveFileStorageInfo& file_;
  std::unique_ptr<rocksdb::FileChecksumGenerator> gen_;
};

// A listed manifest and what retention makes of it.
struct Listed {
  uint64_t seq = 0;
  absl::StatusOr<CheckpointManifest> manifest = absl::UnknownError("unread");
  bool valid = false;
};

}  // namespace

absl::StatusOr<std::vector<uint64_t>> ListCheckpoints(DurableStore& store, CellId id) {
  absl::StatusOr<std::vector<std::string>> names = store.List(CheckpointManifestPrefix(id));
  if (!names.ok()) return names.status();
  std::vector<uint64_t> seqs;
  for (const std::string& name : *names) {
    uint64_t seq;
    if (ParseCheckpointManifestName(name, &seq)) seqs.push_back(seq);
  }
  std::sort(seqs.rbegin(), seqs.rend());
  return seqs;
}

absl::StatusOr<CheckpointManifest> LoadCheckpoint(DurableStore& store, const std::string& index_id,
                                                  CellId id, uint64_t applied_seq) {
  const std::string name = CheckpointManifestName(id, applied_seq);
  absl::StatusOr<std::string> data = store.Get(name);
  if (absl::IsNotFound(data.status())) {
    return absl::DataLossError(absl::StrCat(name, " is missing"));
  }
  if (!data.ok()) return data.status();
  absl::StatusOr<CheckpointManifest> m = CheckpointManifest::Decode(*data);
  if (!m.ok()) return absl::DataLossError(absl::StrCat(name, ": ", m.status().message()));
  if (m->range.id != id || m->applied_seq != applied_seq ||
      (!index_id.empty() && m->index_id != index_id)) {
    return absl::DataLossError(absl::StrCat(name, ": names cell ", m->range.id, " seq ",
                                            m->applied_seq, " of index ", m->index_id));
  }
  return m;
}

absl::StatusOr<OwnerFences> LoadOwnerFences(
    DurableStore& store, const std::string& index_id, CellId id,
    const std::function<absl::StatusOr<uint64_t>(uint64_t epoch)>& journal_start) {
  absl::StatusOr<std::vector<std::string>> names = store.List(OwnerFencePrefix(id));
  if (!names.ok()) return names.status();
  OwnerFences fences;
  for (const std::string& name : *names) {
    uint64_t epoch = 0;
    if (!ParseOwnerFenceName(name, &epoch)) continue;
    absl::StatusOr<std::string> data = store.Get(name);
    if (absl::IsNotFound(data.status())) continue;
    if (!data.ok()) return data.status();
    absl::StatusOr<OwnerFence> f = OwnerFence::Decode(*data);
    if (!f.ok()) {
      f = absl::DataLossError(absl::StrCat(name, ": ", f.status().message()));
    } else if (f->cell != id || f->owner_epoch != epoch || f->index_id != index_id) {
      f = absl::DataLossError(absl::StrCat(name, ": names cell ", f->cell, " owner epoch ",
                                           f->owner_epoch, " of index ", f->index_id));
    }
    if (!f.ok() && journal_start) {
      // The damaged fence stays in the store (evidence); the journal says
      // the same seq while it still holds that owner's first segment.
      absl::StatusOr<uint64_t> start = journal_start(epoch);
      if (start.ok()) {
        OwnerFence from_journal;
        from_journal.index_id = index_id;
        from_journal.cell = id;
        from_journal.owner_epoch = epoch;
        from_journal.fence_seq = *start;
        f = std::move(from_journal);
      }
    }
    fences.emplace(epoch, std::move(f));
  }
  return fences;
}

absl::StatusOr<size_t> CountRestorableCheckpoints(DurableStore& store,
                                                  const std::string& index_id, CellId id) {
  absl::StatusOr<std::vector<uint64_t>> seqs = ListCheckpoints(store, id);
  if (!seqs.ok()) return seqs.status();
  absl::StatusOr<OwnerFences> fences = LoadOwnerFences(store, index_id, id);
  if (!fences.ok()) return fences.status();
  size_t good = 0;
  for (uint64_t seq : *seqs) {
    absl::StatusOr<CheckpointManifest> m = LoadCheckpoint(store, index_id, id, seq);
    if (!m.ok() && !absl::IsDataLoss(m.status())) return m.status();
    good += m.ok() && CheckOwnerFence(*fences, *m).ok() && CheckCheckpointFiles(store, *m).ok();
  }
  return good;
}

absl::Status CheckOwnerFence(const OwnerFences& fences, const CheckpointManifest& m) {
  auto next = fences.upper_bound(m.owner_epoch);
  if (next == fences.end()) return absl::OkStatus();  // no later owner
  if (!next->second.ok()) {
    return absl::DataLossError(absl::StrCat(
        "written by owner epoch ", m.owner_epoch, ", but the fence of the next owner (epoch ",
        next->first, ") cannot be read, so nothing proves it holds only acknowledged writes: ",
        next->second.status().message()));
  }
  if (m.applied_seq <= next->second->fence_seq) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "a late owner's checkpoint: written by owner epoch ", m.owner_epoch, " at seq ",
      m.applied_seq, ", but owner epoch ", next->first, " took the cell at seq ",
      next->second->fence_seq, " (kept, never restored from)"));
}

absl::Status PublishOwnerFence(DurableStore& store, const std::string& index_id, CellId id,
                               uint64_t owner_epoch, uint64_t fence_seq) {
  const std::string name = OwnerFenceName(id, owner_epoch);
  if (store.Exists(name)) return absl::OkStatus();
  OwnerFence f;
  f.index_id = index_id;
  f.cell = id;
  f.owner_epoch = owner_epoch;
  f.fence_seq = fence_seq;
  f.created = absl::Now();
  return store.Put(name, f.Encode());
}

absl::Status CheckCheckpointFiles(DurableStore& store, const CheckpointManifest& m) {
  for (const CheckpointFile& f : m.files) {
    absl::StatusOr<uint64_t> size = store.Size(f.store_name);
    if (absl::IsNotFound(size.status())) {
      return absl::DataLossError(absl::StrCat("file ", f.store_name, " is missing"));
    }
    if (!size.ok()) return size.status();
    if (*size != f.digest.size) {
      return absl::DataLossError(absl::StrCat("file ", f.store_name, " is ", *size,
                                              " bytes, its manifest says ", f.digest.size));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointReport> TakeCheckpoint(Cell& cell, DurableStore& store, uint64_t epoch,
                                                int keep,
                                                const std::function<bool()>& still_owner) {
  auto fenced = [&](absl::string_view what) -> absl::Status {
    if (!still_owner || still_owner()) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat("cell ", cell.range().id, ": ", what,
                                               " skipped: this host may no longer own it"));
  };
  keep = std::max(keep, 2);
  const CellId id = cell.range().id;
  const std::string& index_id = cell.index_id();
  CheckpointReport report;
  report.cell = id;
  const absl::Time start = absl::Now();
  absl::StatusOr<Cell::LiveFiles> live = cell.CaptureLiveFiles();
  if (!live.ok()) return live.status();
  report.capture_time = absl::Now() - start;
  report.applied_seq = live->applied_seq;
  report.key_count = live->key_count;

  struct Release {
    Cell& cell;
    ~Release() { cell.ReleaseLiveFiles(); }
  } release{cell};

  // Every existing checkpoint, read and checked once: they decide what this
  // one can reuse, and retention below.
  absl::StatusOr<std::vector<uint64_t>> seqs = ListCheckpoints(store, id);
  if (!seqs.ok()) return seqs.status();
  absl::StatusOr<OwnerFences> fences = LoadOwnerFences(store, index_id, id);
  if (!fences.ok()) return fences.status();
  const uint64_t owner_epoch = cell.journal_epoch();
  // A later owner has the cell (a fence of a later epoch exists, read or
  // not): this one must not publish or delete.
  auto later_owner = [&]() -> absl::Status {
    absl::StatusOr<std::vector<std::string>> names = store.List(OwnerFencePrefix(id));
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      uint64_t later = 0;
      if (!ParseOwnerFenceName(name, &later) || later <= owner_epoch) continue;
      return absl::UnavailableError(absl::StrCat("cell ", id, ": owner epoch ", later,
                                                 " has taken it from this owner (epoch ",
                                                 owner_epoch, "): no checkpoint published"));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = later_owner(); !s.ok()) return s;
  std::vector<Listed> listed;
  for (uint64_t seq : *seqs) {
    Listed l;
    l.seq = seq;
    l.manifest = LoadCheckpoint(store, index_id, id, seq);
    if (l.manifest.ok()) {
      l.valid = CheckOwnerFence(*fences, *l.manifest).ok() &&
                CheckCheckpointFiles(store, *l.manifest).ok();
    }
    if (!l.manifest.ok() && !absl::IsDataLoss(l.manifest.status())) return l.manifest.status();
    listed.push_back(std::move(l));
  }
  auto existing = std::find_if(listed.begin(), listed.end(),
                               [&](const Listed& l) { return l.seq == live->applied_seq; });
  if (existing != listed.end() && existing->valid) {
    cell.NoteCheckpoint();
    return report;  // a checkpoint of this very state exists
  }
  // Files the valid checkpoints hold, with their digests.
  absl::flat_hash_map<std::string, FileDigest> known;
  for (const Listed& l : listed) {
    if (!l.valid) continue;
    for (const CheckpointFile& f : l.manifest->files) known[f.store_name] = f.digest;
  }

  const absl::Time copy_start = absl::Now();
  CheckpointManifest m;
  m.index_id = index_id;
  m.range = cell.range();
  m.epoch = epoch;
  m.owner_epoch = owner_epoch;
  m.applied_seq = live->applied_seq;
  m.key_count = live->key_count;
  m.created = absl::Now();
  m.db_identity = live->db_identity;
  const std::string file_prefix = CheckpointFilePrefix(id);
  for (const rocksdb::LiveFileStorageInfo& f : live->files) {
    if (!Uploaded(f.file_type)) continue;
    CheckpointFile cf;
    cf.db_name = f.relative_filename;
    const std::string path = f.directory + "/" + f.relative_filename;
    if (f.file_type == rocksdb::kTableFile || f.file_type == rocksdb::kBlobFile) {
      auto session = live->table_sessions.find(f.relative_filename);
      const std::string& writer = session != live->table_sessions.end() && !session->second.empty()
                                      ? session->second
                                      : live->db_identity;
      cf.store_name = absl::StrCat(file_prefix, writer, "-", f.relative_filename);
      auto it = known.find(cf.store_name);
      if (it != known.end() && it->second.size == f.size) {
        cf.digest = it->second;  // immutable and already in the store
      } else {
        RecordedChecksum recorded(f);
        absl::Status s = store.PutFile(cf.store_name, path, f.size, &cf.digest, recorded.Feed());
        if (s.ok()) s = recorded.Check();
        if (!s.ok()) {
          if (absl::IsDataLoss(s)) (void)store.Delete(cf.store_name);
          return s;
        }
        ++report.files_copied;
        report.bytes_copied += cf.digest.size;
      }
    } else {
      cf.store_name = absl::StrFormat("%s%020u-%s-%s", file_prefix, live->applied_seq,
                                      live->db_session_id, f.relative_filename);
      absl::Status s;
      if (!f.replacement_contents.empty()) {
        cf.digest = DigestOf(f.replacement_contents);
        s = store.Put(cf.store_name, f.replacement_contents);
      } else {
        s = store.PutFile(cf.store_name, path, f.trim_to_size ? f.size : UINT64_MAX, &cf.digest,
                          nullptr);
      }
      if (!s.ok()) return s;
      ++report.files_copied;
      report.bytes_copied += cf.digest.size;
    }
    report.total_bytes += cf.digest.size;
    m.files.push_back(std::move(cf));
  }
  report.files = m.files.size();
  report.copy_time = absl::Now() - copy_start;

  const absl::Time publish_start = absl::Now();
  // Before anything is published or deleted: the lease still holds (the
  // host's view) and no later owner has written its fence (read again: one
  // may have taken the cell while the files were copied). An owner frozen
  // right after this check can still act: its manifest cannot replace
  // another (PutNew), restores refuse it (CheckOwnerFence), and it deletes
  // only what no manifest in the store names when it looks.
  auto still_mine = [&](absl::string_view what) -> absl::Status {
    if (absl::Status s = fenced(what); !s.ok()) return s;
    return later_owner();
  };
  const std::string manifest_name = CheckpointManifestName(id, m.applied_seq);
  const bool late = existing != listed.end() && existing->manifest.ok() &&
                    !CheckOwnerFence(*fences, *existing->manifest).ok();
  if (existing != listed.end() && existing->manifest.ok() && !late) {
    // A manifest of this seq that decodes but whose files are incomplete:
    // evidence, not replaced.
    return absl::FailedPreconditionError(absl::StrCat(
        manifest_name, " exists but its files are incomplete; it is kept as evidence, not replaced"));
  }
  if (absl::Status s = still_mine("publishing the checkpoint"); !s.ok()) return s;
  if (existing != listed.end()) {
    // A late owner's or one that does not decode: moved aside (a late
    // owner's keeps its files) before the new one takes its name.
    absl::StatusOr<std::string> bad = store.Get(manifest_name);
    if (!bad.ok() && !absl::IsNotFound(bad.status())) return bad.status();
    if (bad.ok()) {
      const std::string aside = late ? LateManifestName(id, m.applied_seq,
                                                        existing->manifest->owner_epoch)
                                     : DamagedManifestName(id, m.applied_seq);
      absl::Status s = late ? store.PutNew(aside, *bad) : store.Put(aside, *bad);
      if (!s.ok() && !absl::IsAlreadyExists(s)) return s;  // (the same owner's state: kept)
      if (absl::Status d = store.Delete(manifest_name); !d.ok()) return d;
    }
    listed.erase(existing);
  }
  if (absl::Status s = store.PutNew(manifest_name, m.Encode()); !s.ok()) {
    if (!absl::IsAlreadyExists(s)) return s;
    return absl::FailedPreconditionError(absl::StrCat(
        manifest_name, " was published by another owner meanwhile; it is not replaced"));
  }
  report.taken = true;
  cell.NoteCheckpoint();

  if (absl::Status s = still_mine("removing old checkpoints"); !s.ok()) return s;
  // Retention: the newest `keep` valid checkpoints; damaged manifests do
  // not count.
  Listed self;
  self.seq = m.applied_seq;
  self.manifest = m;
  self.valid = true;
  listed.push_back(std::move(self));
  std::sort(listed.begin(), listed.end(),
            [](const Listed& a, const Listed& b) { return a.seq > b.seq; });
  int valid_kept = 0;
  uint64_t oldest_kept = m.applied_seq;
  for (const Listed& l : listed) {
    const std::string name = CheckpointManifestName(id, l.seq);
    if (l.valid && valid_kept < keep) {
      ++valid_kept;
      oldest_kept = l.seq;
    } else if (l.valid) {
      if (absl::Status s = store.Delete(name); !s.ok()) return s;
      ++report.checkpoints_deleted;
    } else if (l.manifest.ok()) {
      ++report.checkpoints_damaged;  // decodes: kept, with what is left of its files
    } else {
      absl::StatusOr<std::string> bad = store.Get(name);
      if (!bad.ok()) return bad.status();
      if (absl::Status s = store.Put(DamagedManifestName(id, l.seq), *bad); !s.ok()) return s;
      if (absl::Status s = store.Delete(name); !s.ok()) return s;
      ++report.checkpoints_damaged;
    }
  }
  if (absl::Status s = still_mine("removing unreferenced files"); !s.ok()) return s;
  // The files every manifest in the store names now (kept, incomplete, and
  // late owners' moved aside), read after the list of files, so a file
  // uploaded after that list is not deleted. (What stays open: an owner
  // frozen after still_mine can wake between another checkpoint's upload
  // and its manifest's publication, and delete files that manifest names;
  // that manifest then fails CheckCheckpointFiles and restores fall back.)
  absl::StatusOr<std::vector<std::string>> files = store.List(file_prefix);
  if (!files.ok()) return files.status();
  absl::flat_hash_set<std::string> referenced;
  for (const std::string& prefix : {CheckpointManifestPrefix(id), LateManifestPrefix(id)}) {
    absl::StatusOr<std::vector<std::string>> names = store.List(prefix);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      absl::StatusOr<std::string> data = store.Get(name);
      if (absl::IsNotFound(data.status())) continue;
      if (!data.ok()) return data.status();
      absl::StatusOr<CheckpointManifest> named = CheckpointManifest::Decode(*data);
      if (!named.ok()) continue;
      for (const CheckpointFile& f : named->files) referenced.insert(f.store_name);
    }
  }
  for (const std::string& name : *files) {
    if (referenced.contains(name)) continue;
    if (absl::Status s = store.Delete(name); !s.ok()) return s;
    ++report.files_deleted;
  }
  // The journal below the oldest kept checkpoint is no longer needed.
  if (absl::Status s = still_mine("trimming the journal"); !s.ok()) return s;
  if (absl::Status s = cell.TrimJournal(oldest_kept); !s.ok()) return s;
  report.publish_time = absl::Now() - publish_start;
  return report;
}

}  // namespace cellindex
