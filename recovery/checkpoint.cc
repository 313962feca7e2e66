#include "recovery/checkpoint.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace cellindex {
namespace {

FileDigest DigestOf(absl::string_view data) {
  XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  FileDigest d;
  d.size = data.size();
  d.hash_low = h.low64;
  d.hash_high = h.high64;
  return d;
}

bool Uploaded(rocksdb::FileType type) {
  // The WAL is off (the journal is the log) and the identity is in the
  // manifest; info logs are not state.
  return type == rocksdb::kTableFile || type == rocksdb::kDescriptorFile ||
         type == rocksdb::kCurrentFile || type == rocksdb::kOptionsFile ||
         type == rocksdb::kBlobFile;
}

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

absl::StatusOr<CheckpointManifest> LoadCheckpoint(DurableStore& store, CellId id,
                                                  uint64_t applied_seq) {
  const std::string name = CheckpointManifestName(id, applied_seq);
  absl::StatusOr<std::string> data = store.Get(name);
  if (!data.ok()) return data.status();
  absl::StatusOr<CheckpointManifest> m = CheckpointManifest::Decode(*data);
  if (!m.ok()) return absl::DataLossError(absl::StrCat(name, ": ", m.status().message()));
  if (m->range.id != id || m->applied_seq != applied_seq) {
    return absl::DataLossError(absl::StrCat(name, ": names cell ", m->range.id, " seq ",
                                            m->applied_seq));
  }
  return m;
}

absl::StatusOr<CheckpointReport> TakeCheckpoint(Cell& cell, DurableStore& store, uint64_t epoch,
                                                int keep) {
  keep = std::max(keep, 2);
  const CellId id = cell.range().id;
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

  absl::StatusOr<std::vector<uint64_t>> existing = ListCheckpoints(store, id);
  if (!existing.ok()) return existing.status();
  // Digests of files the newest checkpoint already holds.
  absl::flat_hash_map<std::string, FileDigest> known;
  if (!existing->empty()) {
    absl::StatusOr<CheckpointManifest> prev = LoadCheckpoint(store, id, existing->front());
    if (prev.ok()) {
      if (prev->applied_seq == live->applied_seq) {
        cell.NoteCheckpoint();
        return report;  // the newest checkpoint already holds this state
      }
      for (const CheckpointFile& f : prev->files) known[f.store_name] = f.digest;
    }
  }

  const absl::Time copy_start = absl::Now();
  CheckpointManifest m;
  m.range = cell.range();
  m.epoch = epoch;
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
      cf.store_name = absl::StrCat(file_prefix, live->db_identity, "-", f.relative_filename);
      auto it = known.find(cf.store_name);
      if (it != known.end() && it->second.size == f.size && store.Exists(cf.store_name)) {
        cf.digest = it->second;  // immutable and already in the store
      } else {
        if (absl::Status s = store.PutFile(cf.store_name, path, f.size, &cf.digest); !s.ok()) {
          return s;
        }
        ++report.files_copied;
        report.bytes_copied += cf.digest.size;
      }
    } else {
      cf.store_name = absl::StrFormat("%s%020u-%s", file_prefix, live->applied_seq,
                                      f.relative_filename);
      absl::Status s;
      if (!f.replacement_contents.empty()) {
        cf.digest = DigestOf(f.replacement_contents);
        s = store.Put(cf.store_name, f.replacement_contents);
      } else {
        s = store.PutFile(cf.store_name, path, f.trim_to_size ? f.size : UINT64_MAX, &cf.digest);
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
  if (absl::Status s = store.Put(CheckpointManifestName(id, m.applied_seq), m.Encode()); !s.ok()) {
    return s;
  }
  report.taken = true;
  cell.NoteCheckpoint();

  // Retention: the newest `keep` checkpoints, and the files they reference.
  std::vector<uint64_t> seqs = *existing;
  seqs.push_back(m.applied_seq);
  std::sort(seqs.rbegin(), seqs.rend());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  std::vector<uint64_t> kept(seqs.begin(), seqs.begin() + std::min<size_t>(keep, seqs.size()));
  for (size_t i = kept.size(); i < seqs.size(); ++i) {
    if (absl::Status s = store.Delete(CheckpointManifestName(id, seqs[i])); !s.ok()) return s;
    ++report.checkpoints_deleted;
  }
  absl::flat_hash_set<std::string> referenced;
  bool all_readable = true;
  for (uint64_t seq : kept) {
    absl::StatusOr<CheckpointManifest> k =
        seq == m.applied_seq ? absl::StatusOr<CheckpointManifest>(m) : LoadCheckpoint(store, id, seq);
    if (!k.ok()) {
      all_readable = false;  // unknown references: delete nothing
      break;
    }
    for (const CheckpointFile& f : k->files) referenced.insert(f.store_name);
  }
  if (all_readable) {
    absl::StatusOr<std::vector<std::string>> files = store.List(file_prefix);
    if (!files.ok()) return files.status();
    for (const std::string& name : *files) {
      if (referenced.contains(name)) continue;
      if (absl::Status s = store.Delete(name); !s.ok()) return s;
      ++report.files_deleted;
    }
  }
  // The journal below the oldest kept checkpoint is no longer needed.
  if (absl::Status s = cell.TrimJournal(kept.back()); !s.ok()) return s;
  report.publish_time = absl::Now() - publish_start;
  return report;
}

}  // namespace cellindex
