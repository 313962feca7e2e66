#include "bench/recovery_bench_rocksdb.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/recovery_bench_data.h"
#include "index/base/file_util.h"
#include "index/cell/cell_resources.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "rocksdb/db.h"
#include "rocksdb/file_system.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/backup_engine.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace cellindex::bench::recovery_bench {
namespace {

// How the baseline keeps every acknowledged write across a host loss.
//
// The backup (and the checkpoint) hold the DB as of their flush; a write
// after them is only in a WAL, and the WAL directory is in the durable store
// (Options::wal_dir). But RocksDB deletes a WAL once a memtable flush has
// moved its writes into an SST, and that SST is on the host: a flush between
// the backup and the loss (a tail bigger than the memtable, as at 4M objects)
// loses the flushed writes. So the WAL archive is on (WAL_ttl_seconds > 0):
// RocksDB moves such a WAL into wal_dir/archive, in the store too, instead of
// deleting it. A restore moves the archived WALs back into wal_dir
// (BackupEngine does it for RestoreOptions::keep_log_files; (a2) does the
// same), and DB::Open replays every WAL numbered at or above the MANIFEST's
// log number -- the backup's -- in order, skipping older ones.
//
// Retention is by backup: once a backup is taken, the archived WALs older
// than it are deleted (PruneWals); the TTL is only a backstop. Not chosen:
// BackupEngineOptions::backup_log_files (copies the WALs at backup time
// only, nothing written after), a backup after every flush, and
// WAL_size_limit_MB (drops the oldest WALs by size, even ones a restore
// still needs).
constexpr uint64_t kWalTtlSeconds = 7 * 24 * 3600;

struct RawDb {
  CellResources resources;
  std::unique_ptr<rocksdb::DB> db;  // destroyed before `resources`
};

rocksdb::Options RawDbOptions(const Flags& f, const Layout& l, const CellResources& r) {
  rocksdb::Options o = MakeCellDbOptions(IndexOptions(f, l), r);
  o.wal_dir = l.wal();  // in the durable store: it survives the host
  o.WAL_ttl_seconds = kWalTtlSeconds;
  return o;
}

// `fs` null: the default file system.
void OpenRaw(const Flags& f, const Layout& l, std::shared_ptr<rocksdb::FileSystem> fs,
             RawDb* raw) {
  raw->resources = MakeCellResources(IndexOptions(f, l), std::move(fs));
  rocksdb::DB* db = nullptr;
  Check(rocksdb::DB::Open(RawDbOptions(f, l, raw->resources), l.rocks_db(), &db), "open rocksdb");
  raw->db.reset(db);
}

// Waits (up to a minute) until RocksDB has no flush or compaction to do.
void WaitQuietRaw(rocksdb::DB* db) {
  const Clock::time_point start = Clock::now();
  while (Since(start) < 60) {
    uint64_t pending = 0, running = 0, flushes = 0;
    db->GetIntProperty("rocksdb.compaction-pending", &pending);
    db->GetIntProperty("rocksdb.num-running-compactions", &running);
    db->GetIntProperty("rocksdb.num-running-flushes", &flushes);
    if (pending == 0 && running == 0 && flushes == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// The number of a WAL file name ("000123.log"); false for other names.
bool WalNumber(const std::string& name, uint64_t* number) {
  if (!absl::EndsWith(name, ".log") || name.size() == 4) return false;
  *number = 0;
  for (size_t i = 0; i + 4 < name.size(); ++i) {
    if (!absl::ascii_isdigit(name[i])) return false;
    *number = *number * 10 + (name[i] - '0');
  }
  return true;
}

std::vector<std::string> List(rocksdb::FileSystem& fs, const std::string& dir) {
  if (!PathExists(fs, dir)) return {};
  absl::StatusOr<std::vector<std::string>> names = ListDir(fs, dir);
  if (!names.ok()) Die("list", names.status());
  return *std::move(names);
}

// Deletes the WALs in `dir` numbered below `number`; returns how many.
uint64_t PruneWals(const std::string& dir, uint64_t number) {
  rocksdb::FileSystem& fs = *rocksdb::FileSystem::Default();
  uint64_t pruned = 0;
  for (const std::string& name : List(fs, dir)) {
    uint64_t n;
    if (!WalNumber(name, &n) || n >= number) continue;
    Check(fs.DeleteFile(dir + "/" + name, rocksdb::IOOptions(), nullptr), "prune wal");
    ++pruned;
  }
  return pruned;
}

// The WALs' bytes directly in `dir`.
uint64_t WalBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const std::string& name : List(*rocksdb::FileSystem::Default(), dir)) {
    uint64_t n;
    if (WalNumber(name, &n)) bytes += TreeBytes(dir + "/" + name);
  }
  return bytes;
}

// What RestoreOptions::keep_log_files does: the archived WALs back into
// wal_dir, where DB::Open finds them. A rename within the store.
void UnarchiveWals(rocksdb::FileSystem& fs, const Layout& l) {
  for (const std::string& name : List(fs, l.wal_archive())) {
    uint64_t n;
    if (!WalNumber(name, &n)) continue;
    Check(fs.RenameFile(l.wal_archive() + "/" + name, l.wal() + "/" + name, rocksdb::IOOptions(),
                        nullptr),
          "unarchive wal");
  }
}

void CopyFile(rocksdb::FileSystem& fs, const std::string& from, const std::string& to,
              bool sync) {
  std::string data;
  Check(rocksdb::ReadFileToString(&fs, from, &data), "read checkpoint file");
  Check(rocksdb::WriteStringToFile(&fs, data, to, sync), "copy checkpoint file");
}

// (a2)'s restore: a new DB directory holding the checkpoint's files. The
// SST files are hard links into the store (a copy if the store is on another
// file system: LinkFile answers NotSupported); the small files (CURRENT,
// MANIFEST, OPTIONS) are copied, since DB::Open replaces CURRENT and writes
// a new MANIFEST and OPTIONS: the store's copies are never written. They are
// not synced: DB::Open syncs the new MANIFEST and CURRENT and the directory,
// which makes the links durable too. The checkpoint's WAL is skipped: the
// store's wal_dir holds the same WAL with the tail in it.
void LinkCheckpoint(rocksdb::FileSystem& fs, const Layout& l, RawRun* r) {
  Check(fs.CreateDirIfMissing(l.rocks_db(), rocksdb::IOOptions(), nullptr), "mkdir");
  for (const std::string& name : List(fs, l.checkpoint())) {
    uint64_t n;
    if (WalNumber(name, &n)) continue;
    const std::string from = l.checkpoint() + "/" + name, to = l.rocks_db() + "/" + name;
    if (absl::EndsWith(name, ".sst") || absl::EndsWith(name, ".blob")) {
      rocksdb::IOStatus s = fs.LinkFile(from, to, rocksdb::IOOptions(), nullptr);
      if (s.ok()) {
        ++r->files_linked;
        continue;
      }
      if (!s.IsNotSupported()) Check(s, "link checkpoint file");
      CopyFile(fs, from, to, /*sync=*/true);
    } else {
      CopyFile(fs, from, to, /*sync=*/false);
    }
    ++r->files_copied;
  }
}

// Every tail write is in the restored DB.
void CheckTail(rocksdb::DB* db, const Flags& f, RawSource source) {
  uint64_t missing = 0;
  std::string value;
  for (uint64_t k = 0; k < f.tail; ++k) {
    const uint64_t i = TailObject(k, f.objects);
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), EncodeKey(KeyOf(i)), &value);
    if (!s.IsNotFound()) Check(s, "get tail key");
    absl::StatusOr<ObjectRecord> rec = DecodeRecord(value);
    missing += !s.ok() || !rec.ok() || rec->size != RecordOf(i, 1).size;
  }
  if (missing > 0) {
    Die(absl::StrCat("check restored rocksdb (", RawSourceName(source), ")"),
        absl::DataLossError(absl::StrCat(missing, " of ", f.tail, " tail writes are missing")));
  }
}

}  // namespace

const char* RawSourceName(RawSource source) {
  return source == RawSource::kBackup ? "backup" : "checkpoint";
}

RawBuild BuildRaw(const Flags& f, const Layout& l) {
  RawBuild b;
  RawDb raw;
  MakeDirs(l.durable());
  MakeDirs(l.root + "/rocks");
  OpenRaw(f, l, nullptr, &raw);
  rocksdb::WriteOptions wo;  // WAL on, not synced per write: a normal user's bulk load
  std::atomic<uint64_t> record_bytes{0};
  Clock::time_point t = Clock::now();
  Parallel(f.load_threads, f.objects, [&](int, uint64_t begin, uint64_t end) {
    rocksdb::WriteBatch batch;
    uint64_t bytes = 0;
    for (uint64_t i = begin; i < end; ++i) {
      const std::string value = EncodeRecord(RecordOf(i, 0));
      bytes += value.size();
      Check(batch.Put(EncodeKey(KeyOf(i)), value), "batch");
      if (batch.Count() >= kLoadBatch || i + 1 == end) {
        Check(raw.db->Write(wo, &batch), "rocksdb load");
        batch.Clear();
      }
    }
    record_bytes += bytes;
  });
  b.record_bytes = record_bytes;
  Check(raw.db->Flush(rocksdb::FlushOptions()), "flush");
  WaitQuietRaw(raw.db.get());
  b.load_s = Since(t);

  t = Clock::now();
  rocksdb::BackupEngineOptions bo(l.backup());
  bo.max_background_operations = f.backup_threads;
  bo.backup_log_files = false;  // the WAL is kept in the durable store itself
  rocksdb::BackupEngine* engine = nullptr;
  Check(rocksdb::BackupEngine::Open(bo, rocksdb::Env::Default(), &engine), "open backup engine");
  rocksdb::CreateBackupOptions cbo;
  cbo.flush_before_backup = true;
  Check(engine->CreateNewBackup(cbo, raw.db.get()), "backup");
  rocksdb::BackupInfo info;
  Check(engine->GetLatestBackupInfo(&info), "backup info");
  b.backup_bytes = info.size;
  delete engine;
  b.backup_s = Since(t);

  // (a2)'s checkpoint, of the same state: nothing is written in between,
  // so its flush finds an empty memtable. Its SST files are hard links to
  // the DB's here (the same file system); they stay when the DB directory
  // goes.
  t = Clock::now();
  rocksdb::Checkpoint* checkpoint = nullptr;
  Check(rocksdb::Checkpoint::Create(raw.db.get(), &checkpoint), "checkpoint");
  Check(checkpoint->CreateCheckpoint(l.checkpoint(), /*log_size_for_flush=*/0), "checkpoint");
  delete checkpoint;
  b.checkpoint_s = Since(t);
  b.checkpoint_bytes = TreeBytes(l.checkpoint());

  // The WALs below the DB's oldest live one hold nothing the backup lacks.
  if (!raw.db->GetIntProperty(rocksdb::DB::Properties::kMinLogNumberToKeep,
                              &b.backup_log_number)) {
    Die("build rocksdb", absl::InternalError("no min-log-number-to-keep"));
  }
  b.wals_pruned = PruneWals(l.wal_archive(), b.backup_log_number);

  t = Clock::now();
  Parallel(f.load_threads, f.tail, [&](int, uint64_t begin, uint64_t end) {
    for (uint64_t k = begin; k < end; ++k) {
      const uint64_t i = TailObject(k, f.objects);
      Check(raw.db->Put(wo, EncodeKey(KeyOf(i)), EncodeRecord(RecordOf(i, 1))), "rocksdb tail");
    }
  });
  Check(raw.db->FlushWAL(/*sync=*/true), "sync wal");
  b.tail_s = Since(t);
  raw.db->GetIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &b.sst_bytes);
  raw.db.reset();  // WAL on: closing does not flush, the tail stays in the WAL
  // Archived while the backup was being taken, after the first prune.
  b.wals_pruned += PruneWals(l.wal_archive(), b.backup_log_number);
  b.live_wal_bytes = WalBytes(l.wal());
  b.archived_wal_bytes = WalBytes(l.wal_archive());
  b.wal_bytes = b.live_wal_bytes + b.archived_wal_bytes;
  b.db_bytes = TreeBytes(l.rocks_db());
  if (b.wal_bytes == 0) Die("build rocksdb", absl::InternalError("the tail is not in the WAL"));
  // The WALs as they were at the loss; every repetition restores from this copy.
  CloneTree(l.wal(), l.wal_kept(), LinkNothing);
  return b;
}

RawRun RunRaw(const Flags& f, const Layout& l, const RawBuild& build, RawSource source) {
  RemoveTree(l.rocks_db());
  RemoveTree(l.wal());
  CloneTree(l.wal_kept(), l.wal(), LinkNothing);
  DropFromPageCache(l.durable());

  RawRun r;
  RawDb raw;
  auto counting = std::make_shared<CountingFileSystem>();
  raw.resources = MakeCellResources(IndexOptions(f, l), counting);
  rocksdb::FileSystem& fs = *raw.resources.fs;
  const double cpu0 = CpuSeconds();
  const Clock::time_point t0 = Clock::now();
  if (source == RawSource::kBackup) {
    rocksdb::BackupEngineOptions bo(l.backup());
    bo.max_background_operations = f.backup_threads;
    bo.backup_log_files = false;
    bo.backup_env = raw.resources.env;
    rocksdb::BackupEngineReadOnly* engine = nullptr;
    Check(rocksdb::BackupEngineReadOnly::Open(bo, raw.resources.env, &engine),
          "open backup engine");
    Check(engine->RestoreDBFromLatestBackup(rocksdb::RestoreOptions(/*keep_log_files=*/true),
                                            l.rocks_db(), l.wal()),
          "restore");
    delete engine;
    r.bytes = build.backup_bytes + build.wal_bytes;
  } else {
    LinkCheckpoint(fs, l, &r);
    UnarchiveWals(fs, l);
    r.bytes = build.checkpoint_bytes + build.wal_bytes;
  }
  r.restore_s = Since(t0);
  Clock::time_point t = Clock::now();
  rocksdb::DB* db = nullptr;
  Check(rocksdb::DB::Open(RawDbOptions(f, l, raw.resources), l.rocks_db(), &db), "open restored");
  raw.db.reset(db);
  r.open_s = Since(t);
  r.open_ready_s = Since(t0);
  t = Clock::now();
  Check(raw.db->VerifyChecksum(), "verify checksum");
  r.verify_s = Since(t);
  r.full_s = r.first_s = Since(t0);
  r.cpu_s = CpuSeconds() - cpu0;
  r.fs = counting->Total();

  CheckTail(raw.db.get(), f, source);
  return r;
}

}  // namespace cellindex::bench::recovery_bench
