#include "recovery/cell_recovery.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/strings/match.h"
#include "index/base/file_util.h"
#include "index/cell/cell_split.h"
#include "recovery/checkpoint.h"
#include "recovery/checkpoint_copier.h"
#include "recovery/journal/journal.h"
#include "recovery/store/layout.h"
#include "recovery/store/store_backed_fs.h"

namespace cellindex {
namespace {

// Moves damaged local state aside (kept for an operator, never read again).
absl::Status MoveAside(rocksdb::FileSystem& fs, const std::string& dir) {
  if (!PathExists(fs, dir)) return absl::OkStatus();
  const std::string aside = CellDamagedDir(dir, absl::ToUnixMicros(absl::Now()));
  return RenameDurably(fs, dir, aside);
}

// Whether the checkpoint file `db_name` is one an in-place restore leaves in
// the store: the table files, which hold the data. The small files (MANIFEST,
// CURRENT, OPTIONS) are fetched: RocksDB reads them whole at open.
bool StaysInStore(const std::string& db_name) {
  return absl::EndsWith(db_name, ".sst") || absl::EndsWith(db_name, ".blob");
}

// Prepares `dir` for opening the state of `m`. By copy: fetches every file,
// `parallelism` at a time, hashing as it copies, then compares each digest
// with the manifest. In place: the same for the small files only; the table
// files must be in the store at their size, and their list is written for
// the cell to read them there. A file missing from the store, or one that
// does not match, is DataLoss (the checkpoint is damaged). Every file is
// written straight into `dir` and synced, and `dir` once: the caller renames
// it into place.
absl::Status StageCheckpoint(rocksdb::FileSystem& fs, DurableStore& store,
                             const CheckpointManifest& m, const std::string& dir, bool in_place,
                             const CellRecoveryOptions& recovery, CellRecoveryReport* report) {
  if (recovery.on_phase) recovery.on_phase(CellPhase::kFetch);
  const absl::Time start = absl::Now();
  if (absl::Status s = RemoveAll(fs, dir); !s.ok()) return s;
  // Not synced: nothing in `dir` counts until the rename that publishes it,
  // after `dir` itself is synced (once, at the end).
  if (absl::Status s = CreateDirs(fs, ParentDir(dir)); !s.ok()) return s;
  if (absl::Status s = FromIO(fs.CreateDirIfMissing(dir, rocksdb::IOOptions(), nullptr),
                              absl::StrCat("mkdir ", dir));
      !s.ok()) {
    return s;
  }
  std::vector<const CheckpointFile*> fetch;
  std::vector<CheckpointFile> in_store;
  for (const CheckpointFile& f : m.files) {
    if (in_place && StaysInStore(f.db_name)) {
      in_store.push_back(f);
    } else {
      fetch.push_back(&f);
    }
  }
  std::vector<FileDigest> got(fetch.size());
  std::vector<absl::Status> status(fetch.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < fetch.size(); i = next++) {
      status[i] = store.GetFile(fetch[i]->store_name, dir + "/" + fetch[i]->db_name, &got[i],
                                nullptr);
    }
  };
  const size_t threads = std::min<size_t>(std::max(1, recovery.fetch_parallelism),
                                          std::max<size_t>(1, fetch.size()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  report->fetch_time += absl::Now() - start;
  for (size_t i = 0; i < fetch.size(); ++i) {
    if (absl::IsNotFound(status[i])) {
      return absl::DataLossError(
          absl::StrCat("file ", fetch[i]->store_name, " is missing from the store"));
    }
    if (!status[i].ok()) {
      return absl::Status(status[i].code(), absl::StrCat("fetch ", fetch[i]->store_name, ": ",
                                                         status[i].message()));
    }
    ++report->files_fetched;
    report->bytes_fetched += got[i].size;
  }

  if (recovery.on_phase) recovery.on_phase(CellPhase::kVerify);
  const absl::Time verify_start = absl::Now();
  for (size_t i = 0; i < fetch.size(); ++i) {
    if (got[i] != fetch[i]->digest) {
      return absl::DataLossError(absl::StrCat(
          "file ", fetch[i]->store_name, " does not match its manifest (size ", got[i].size,
          " vs ", fetch[i]->digest.size, ", xxh3-128 ", got[i].ToHex(), " vs ",
          fetch[i]->digest.ToHex(), ")"));
    }
  }
  absl::Status s;
  if (in_place) {
    // The table files are read where they lie: each must be there, whole
    // in size (its bytes are checked by RocksDB's block checksums on every
    // read, and against the manifest's digest when the copy lands it).
    s = CheckCheckpointFiles(store, m);
    if (s.ok()) s = WriteSyncedFile(fs, dir + "/" + kRemoteFilesName, EncodeRemoteFiles(in_store));
    report->in_place = true;
    report->files_in_store = in_store.size();
    report->bytes_in_store = 0;
    for (const CheckpointFile& f : in_store) report->bytes_in_store += f.digest.size;
  }
  // RocksDB reads its identity from this file. (Store names of SST files do
  // not depend on it: they name the session that wrote each file.)
  if (s.ok()) s = WriteSyncedFile(fs, dir + "/IDENTITY", m.db_identity);
  if (s.ok()) s = SyncDir(fs, dir);
  report->verify_time += absl::Now() - verify_start;
  return s;
}

// What the cell in `db_dir` opens with: the index's resources, or, while some
// of its files still lie in the store, its own file system over them and the
// copier that brings them to the host.
absl::StatusOr<CellResources> ResourcesFor(const std::string& db_dir,
                                           const CellResources& resources, DurableStore& store,
                                           const CellRecoveryOptions& recovery,
                                           CellOpenHooks* hooks) {
  if (!StoreBackedFs::HasList(*resources.fs, db_dir)) return resources;
  absl::StatusOr<std::shared_ptr<StoreBackedFs>> fs =
      StoreBackedFs::Open(resources.fs, &store, db_dir);
  if (!fs.ok()) return fs.status();
  CellResources r = resources;
  r.fs = *fs;
  r.env_owner = rocksdb::NewCompositeEnv(r.fs);
  r.env = r.env_owner.get();
  hooks->companion = std::make_shared<CheckpointCopier>(*fs, recovery.copy_limiter,
                                                        recovery.wait_for_recoveries);
  return r;
}

absl::StatusOr<std::unique_ptr<Cell>> OpenAndCheck(const CellIdentity& identity,
                                                   const Cell::Paths& paths,
                                                   const Options& options,
                                                   const CellResources& index_resources,
                                                   DurableStore& store,
                                                   const CellRecoveryOptions& recovery,
                                                   uint64_t must_reach, CellOpenHooks hooks,
                                                   CellRecoveryReport* report) {
  hooks.on_phase = recovery.on_phase;
  hooks.on_failure = recovery.on_failure;
  hooks.must_reach = must_reach;
  hooks.writer_epoch = recovery.owner_epoch;
  absl::StatusOr<CellResources> resources =
      ResourcesFor(paths.db_dir, index_resources, store, recovery, &hooks);
  if (!resources.ok()) return resources.status();
  absl::StatusOr<std::unique_ptr<Cell>> cell =
      Cell::Open(identity, paths, options, *resources, hooks);
  if (!cell.ok()) return cell.status();
  CellStats st = (*cell)->Stats();
  report->open_time += st.open_time;
  report->replay_time += st.replay_time;
  report->records_replayed += st.records_replayed;
  const JournalOpenReport& j = (*cell)->journal_report();
  report->journal_last_seq = j.last_seq;
  report->journal_sealed = j.sealed;
  report->journal_torn_bytes = j.torn_bytes;
  report->journal_torn_tail =
      j.torn_tail ? absl::StrCat(j.torn_bytes, " bytes after offset ", j.torn_offset, " of ",
                                 j.torn_segment, " ignored (", j.torn_reason,
                                 "): a write torn by a crash, not acknowledged in sync durability "
                                 "unless the disk lost synced data")
                  : std::string();
  report->journal_gap_end = (*cell)->journal_gap_end();
  if (recovery.paranoid) {
    if (recovery.on_phase) recovery.on_phase(CellPhase::kValidate);
    const absl::Time start = absl::Now();
    absl::Status v = (*cell)->Validate(&report->records_validated);
    report->validate_time += absl::Now() - start;
    if (!v.ok()) return v;
  }
  // An owner with an epoch says where it took the cell before it serves: a
  // checkpoint an earlier owner publishes late, past this seq, is never
  // restored from (CheckOwnerFence).
  if (recovery.owner_epoch > 0) {
    if (absl::Status s = PublishOwnerFence(store, identity.index_id, identity.range.id,
                                           recovery.owner_epoch, (*cell)->opened_seq());
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("writing the owner fence: ", s.message()));
    }
  }
  return cell;
}

// Restores retired cell `parent` into `dir` (host-local scratch) as it was
// when it was retired: from its checkpoint and its journal, which ends there
// (a parent takes no write after its split or merge). Returns who it was.
absl::StatusOr<CellIdentity> RestoreParent(const std::string& index_id, const CellParent& parent,
                                           const std::string& dir, const Options& options,
                                           const CellResources& resources, DurableStore& store,
                                           const CellRecoveryOptions& recovery,
                                           CellRecoveryReport* report) {
  rocksdb::FileSystem& fs = *resources.fs;
  const std::string what = absl::StrCat("parent cell ", parent.id);
  // Who the parent was: its range is in its checkpoints' manifests (the map
  // keeps only live cells).
  absl::StatusOr<std::vector<uint64_t>> seqs = ListCheckpoints(store, parent.id);
  if (!seqs.ok()) return seqs.status();
  std::optional<CellRange> range;
  for (uint64_t seq : *seqs) {
    absl::StatusOr<CheckpointManifest> m = LoadCheckpoint(store, index_id, parent.id, seq);
    if (m.ok()) {
      range = m->range;
      break;
    }
    if (!absl::IsDataLoss(m.status())) return m.status();
  }
  if (!range) {
    return absl::DataLossError(absl::StrCat(what, " has no readable checkpoint to restore from"));
  }
  CellIdentity identity;
  identity.index_id = index_id;
  identity.range = *range;
  Cell::Paths paths;
  paths.db_dir = dir;
  absl::StatusOr<std::string> journal_dir = store.LocalDir(JournalDirName(parent.id));
  if (!journal_dir.ok()) return journal_dir.status();
  absl::StatusOr<std::string> journal_head = store.LocalDir(JournalHeadName(parent.id));
  if (!journal_head.ok()) return journal_head.status();
  paths.journal_dir = *journal_dir;
  paths.journal_head = *journal_head;
  if (absl::Status s = RemoveAll(fs, dir); !s.ok()) return s;
  CellRecoveryOptions pro;
  pro.fetch_parallelism = recovery.fetch_parallelism;
  pro.restore_mode = RestoreMode::kCopy;  // read once, then made into the child and dropped
  pro.force_restore = true;
  pro.epoch = recovery.epoch;
  pro.checkpoints_to_keep = recovery.checkpoints_to_keep;
  CellRecoveryReport parent_report;
  uint64_t reached = 0;
  {
    absl::StatusOr<std::unique_ptr<Cell>> p =
        RecoverCell(identity, paths, options, resources, store, pro, &parent_report);
    if (!p.ok()) {
      return absl::Status(p.status().code(), absl::StrCat(what, ": ", p.status().message()));
    }
    reached = (*p)->Stats().applied_seq;
  }  // closed with a flush: the directory holds the state at `reached`
  report->files_fetched += parent_report.files_fetched;
  report->bytes_fetched += parent_report.bytes_fetched;
  report->fetch_time += parent_report.fetch_time;
  report->checkpoint_seq = parent_report.checkpoint_seq;
  if (reached != parent.seq) {
    (void)RemoveAll(fs, dir);
    return absl::DataLossError(absl::StrCat(what, " came back at seq ", reached,
                                            ", but it was retired at seq ", parent.seq));
  }
  return identity;
}

// A split's or merge's child that has no checkpoint of its own (it is made
// one as it first opens, so only a host lost right after the split or merge
// gets here): its parents' states at that moment, restored beside the
// child's directory, then made into the child as the split or merge did
// (MakeChildState, MakeMergedState). The child's own journal is replayed
// after, as for a local state.
absl::Status RestoreFromParents(const CellIdentity& identity, const Cell::Paths& paths,
                                const Options& options, const CellResources& resources,
                                DurableStore& store, const CellRecoveryOptions& recovery,
                                CellRecoveryReport* report) {
  rocksdb::FileSystem& fs = *resources.fs;
  const std::vector<CellParent>& parents = identity.range.lineage.parents;
  std::vector<CellIdentity> restored;
  std::vector<std::string> dirs;
  auto drop = [&](const absl::Status& s) {
    for (const std::string& d : dirs) (void)RemoveAll(fs, d);
    return s;
  };
  for (size_t k = 0; k < parents.size(); ++k) {
    dirs.push_back(CellParentScratchDir(paths.db_dir, k));
    absl::StatusOr<CellIdentity> p = RestoreParent(identity.index_id, parents[k], dirs.back(),
                                                   options, resources, store, recovery, report);
    if (!p.ok()) return drop(p.status());
    restored.push_back(*p);
  }
  absl::StatusOr<ChildStateReport> child = absl::InternalError("unset");
  if (identity.range.lineage.origin == CellOrigin::kSplit && restored.size() == 1) {
    child = MakeChildState(options, resources, dirs[0], restored[0], paths.db_dir, identity);
  } else if (identity.range.lineage.origin == CellOrigin::kMerge && restored.size() == 2) {
    child = MakeMergedState(options, resources, dirs[0], restored[0], dirs[1], restored[1],
                            paths.db_dir, identity);
  } else {
    child = absl::DataLossError("the cell's lineage names the wrong number of parents");
  }
  return drop(child.status());
}

}  // namespace

absl::StatusOr<std::unique_ptr<Cell>> RecoverCell(const CellIdentity& identity,
                                                  const Cell::Paths& paths,
                                                  const Options& options,
                                                  const CellResources& resources,
                                                  DurableStore& store,
                                                  const CellRecoveryOptions& recovery,
                                                  CellRecoveryReport* report) {
  rocksdb::FileSystem& fs = *resources.fs;
  const CellRange& range = identity.range;
  const std::string what = absl::StrCat("cell ", range.id);
  absl::StatusOr<std::vector<uint64_t>> seqs = ListCheckpoints(store, range.id);
  if (!seqs.ok()) return seqs.status();
  // A fence that does not read is taken from the journal, if it still
  // shows where that owner began.
  absl::StatusOr<OwnerFences> fences = LoadOwnerFences(
      store, identity.index_id, range.id, [&](uint64_t epoch) -> absl::StatusOr<uint64_t> {
        JournalOptions jo;
        jo.fs = &fs;
        jo.dir = paths.journal_dir;
        jo.head_path = paths.journal_head;
        jo.index_id = identity.index_id;
        jo.cell_id = range.id;
        return Journal::EpochStart(jo, epoch);
      });
  if (!fences.ok()) return fences.status();
  // Every checkpoint name is a state the cell once had: whatever we recover
  // from must reach at least the newest of them, even one that is damaged,
  // except a late owner's (its state was never the cell's).
  // (The manifests read here are not read again below.)
  std::map<uint64_t, absl::StatusOr<CheckpointManifest>> read;
  uint64_t newest = 0;
  for (uint64_t seq : *seqs) {
    absl::StatusOr<CheckpointManifest>& m =
        read.emplace(seq, LoadCheckpoint(store, identity.index_id, range.id, seq)).first->second;
    if (!m.ok() && !absl::IsDataLoss(m.status())) return m.status();
    if (m.ok() && !CheckOwnerFence(*fences, *m).ok()) continue;
    newest = seq;
    break;
  }
  // A journal that declared records missing (they are in the state, not in
  // the journal) needs a checkpoint at or above them before the cell takes
  // writes, or the next host loss would find nothing to restore them from.
  auto protect = [&](absl::StatusOr<std::unique_ptr<Cell>> cell)
      -> absl::StatusOr<std::unique_ptr<Cell>> {
    if (!cell.ok()) return cell;
    const uint64_t gap = (*cell)->journal_gap_end();
    if (gap <= newest) return cell;
    // A split's or merge's child reopened from its local state: its parents'
    // checkpoints and journals, kept until it has good checkpoints of its
    // own, cover what its journal lacks (the split or merge checkpoints it
    // right after it serves, so the parents' writes are held only briefly).
    if (report->source == RecoverySource::kLocal && range.lineage.origin != CellOrigin::kNone) {
      uint64_t covered = 0;
      for (const CellParent& p : range.lineage.parents) covered = std::max(covered, p.seq);
      if (gap <= covered) return cell;
    }
    absl::StatusOr<CheckpointReport> r =
        TakeCheckpoint(**cell, store, recovery.epoch, recovery.checkpoints_to_keep);
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("the journal lacks records through seq ", gap,
                                       " and a checkpoint to cover them failed: ",
                                       r.status().message()));
    }
    report->reprotected = absl::StrCat("the journal lacks records through seq ", gap,
                                       " that the state holds; checkpoint at seq ",
                                       r->applied_seq, " taken before serving");
    return cell;
  };

  // 1. Local restart: the host kept the state.
  if (!recovery.force_restore && PathExists(fs, paths.db_dir + "/CURRENT")) {
    report->source = RecoverySource::kLocal;
    absl::StatusOr<std::unique_ptr<Cell>> cell = protect(
        OpenAndCheck(identity, paths, options, resources, store, recovery, newest, {}, report));
    if (cell.ok() || !absl::IsDataLoss(cell.status())) return cell;
    report->fallbacks.push_back(absl::StrCat("local state: ", cell.status().message()));
    if (absl::Status s = MoveAside(fs, paths.db_dir); !s.ok()) return s;
  } else if (absl::Status s = MoveAside(fs, paths.db_dir); !s.ok()) {
    return s;  // partial state (no CURRENT) or a forced restore
  }

  // 2. The newest checkpoint that verifies, then older ones.
  const std::string staging = CellRestoreDir(paths.db_dir);
  for (uint64_t seq : *seqs) {
    if (seq >= recovery.below_checkpoint) continue;
    report->source = RecoverySource::kCheckpoint;
    report->checkpoint_seq = seq;
    auto reject = [&](const absl::Status& why) {
      report->fallbacks.push_back(absl::StrCat("checkpoint ", seq, ": ", why.message()));
    };
    auto known = read.find(seq);
    absl::StatusOr<CheckpointManifest> m = known != read.end()
                                               ? std::move(known->second)
                                               : LoadCheckpoint(store, identity.index_id,
                                                                range.id, seq);
    if (!m.ok()) {
      if (!absl::IsDataLoss(m.status())) return m.status();
      reject(m.status());
      continue;
    }
    if (m->range.lo != range.lo || m->range.hi != range.hi ||
        m->range.hi_unbounded != range.hi_unbounded) {
      reject(absl::DataLossError(absl::StrCat("its range ", m->range.Describe(),
                                              " is not the cell's ", range.Describe())));
      continue;
    }
    if (absl::Status s = CheckOwnerFence(*fences, *m); !s.ok()) {
      reject(s);
      continue;
    }
    const bool in_place = recovery.restore_mode == RestoreMode::kInPlace;
    if (absl::Status s = StageCheckpoint(fs, store, *m, staging, in_place, recovery, report);
        !s.ok()) {
      if (!absl::IsDataLoss(s)) return s;
      reject(s);
      continue;
    }
    if (absl::Status s = CreateDirs(fs, ParentDir(paths.db_dir)); !s.ok()) return s;
    if (absl::Status s = RenameDurably(fs, staging, paths.db_dir); !s.ok()) return s;
    CellOpenHooks hooks;
    hooks.checkpoint_seq = m->applied_seq;
    hooks.checkpoint_keys = m->key_count;
    absl::StatusOr<std::unique_ptr<Cell>> cell = protect(
        OpenAndCheck(identity, paths, options, resources, store, recovery, newest, hooks, report));
    if (cell.ok() || !absl::IsDataLoss(cell.status())) return cell;
    reject(cell.status());
    if (absl::Status s = MoveAside(fs, paths.db_dir); !s.ok()) return s;
  }
  (void)RemoveAll(fs, staging);

  // 3. No checkpoint. A split's or merge's child: from its parents. Any
  // other cell: the whole journal, if it still starts at seq 1.
  if (range.lineage.origin != CellOrigin::kNone) {
    report->source = RecoverySource::kParent;
    absl::Status s =
        RestoreFromParents(identity, paths, options, resources, store, recovery, report);
    absl::StatusOr<std::unique_ptr<Cell>> cell = absl::InternalError("unset");
    if (!s.ok()) {
      cell = s;
    } else {
      cell = protect(OpenAndCheck(identity, paths, options, resources, store, recovery, newest, {},
                                  report));
    }
    if (cell.ok() || !absl::IsDataLoss(cell.status())) return cell;
    report->fallbacks.push_back(absl::StrCat("from the parents: ", cell.status().message()));
    if (s.ok()) (void)MoveAside(fs, paths.db_dir);
    std::string reasons;
    for (const std::string& f : report->fallbacks) absl::StrAppend(&reasons, "; ", f);
    return absl::DataLossError(absl::StrCat(what, ": no valid state to recover from", reasons));
  }
  report->source = RecoverySource::kJournal;
  report->checkpoint_seq = 0;
  absl::StatusOr<std::unique_ptr<Cell>> cell = protect(
      OpenAndCheck(identity, paths, options, resources, store, recovery, newest, {}, report));
  if (cell.ok() || !absl::IsDataLoss(cell.status())) return cell;
  report->fallbacks.push_back(absl::StrCat("journal replay: ", cell.status().message()));
  (void)MoveAside(fs, paths.db_dir);
  std::string reasons;
  for (const std::string& f : report->fallbacks) absl::StrAppend(&reasons, "; ", f);
  return absl::DataLossError(absl::StrCat(what, ": no valid state to recover from", reasons));
}

absl::Status StartChildJournal(const CellIdentity& child, uint64_t parent_seq,
                               const Options& options, const CellResources& resources,
                               DurableStore& store) {
  const CellId id = child.range.id;
  absl::StatusOr<std::vector<std::string>> left = store.List(CellStorePrefix(id));
  if (!left.ok()) return left.status();
  // What an earlier attempt that never committed leaves is a journal at
  // most: a child that served (an owner fence) or was checkpointed is
  // another split's, committed with the same id (a split planned on a map
  // that has moved on), and is never touched.
  for (const std::string& name : *left) {
    for (const std::string& kept : {CheckpointManifestPrefix(id), LateManifestPrefix(id),
                                    OwnerFencePrefix(id)}) {
      if (name.rfind(kept, 0) == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "cell ", id, " exists in the store already (", name,
            "): the map this split or merge was planned on is not the newest"));
      }
    }
  }
  for (const std::string& name : *left) {
    if (absl::Status s = store.Delete(name); !s.ok()) return s;
  }
  absl::StatusOr<std::string> dir = store.LocalDir(JournalDirName(id));
  if (!dir.ok()) return dir.status();
  absl::StatusOr<std::string> head = store.LocalDir(JournalHeadName(id));
  if (!head.ok()) return head.status();
  JournalOptions jo;
  jo.fs = resources.fs.get();
  jo.dir = *dir;
  jo.head_path = *head;
  jo.index_id = child.index_id;
  jo.cell_id = id;
  jo.segment_bytes = options.journal_segment_bytes;
  return Journal::Create(jo, parent_seq + 1);
}

}  // namespace cellindex
