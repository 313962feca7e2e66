#include "bench/recovery_bench_rocksdb.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/bench_util.h"
#include "bench/recovery_bench_data.h"
#include "index/cell/cell_resources.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/backup_engine.h"
#include "rocksdb/write_batch.h"

namespace cellindex::bench::recovery_bench {
namespace {

struct RawDb {
  CellResources resources;
  std::unique_ptr<rocksdb::DB> db;  // destroyed before `resources`
};

rocksdb::Options RawDbOptions(const Flags& f, const Layout& l, const CellResources& r) {
  rocksdb::Options o = MakeCellDbOptions(IndexOptions(f, l), r);
  o.wal_dir = l.wal();  // in the durable store: it survives the host
  return o;
}

void OpenRaw(const Flags& f, const Layout& l, RawDb* raw) {
  raw->resources = MakeCellResources(IndexOptions(f, l));
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

}  // namespace

RawBuild BuildRaw(const Flags& f, const Layout& l) {
  RawBuild b;
  RawDb raw;
  MakeDirs(l.durable());
  MakeDirs(l.root + "/rocks");
  OpenRaw(f, l, &raw);
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

  t = Clock::now();
  Parallel(f.load_threads, f.tail, [&](int, uint64_t begin, uint64_t end) {
    for (uint64_t k = begin; k < end; ++k) {
      const uint64_t i = TailObject(k, f.objects);
      Check(raw.db->Put(wo, EncodeKey(KeyOf(i)), EncodeRecord(RecordOf(i, 1))), "rocksdb tail");
    }
  });
  Check(raw.db->FlushWAL(/*sync=*/true), "sync wal");
  b.tail_s = Since(t);
  raw.db.reset();  // WAL on: closing does not flush, the tail stays in the WAL
  b.wal_bytes = TreeBytes(l.wal());
  b.db_bytes = TreeBytes(l.rocks_db());
  if (b.wal_bytes == 0) Die("build rocksdb", absl::InternalError("the tail is not in the WAL"));
  // The WAL as it was at the loss; every repetition restores from this copy.
  CloneTree(l.wal(), l.wal_kept(), LinkNothing);
  return b;
}

RawRun RunRaw(const Flags& f, const Layout& l, const RawBuild& build) {
  RemoveTree(l.rocks_db());
  RemoveTree(l.wal());
  CloneTree(l.wal_kept(), l.wal(), LinkNothing);
  DropFromPageCache(l.durable());

  RawRun r;
  RawDb raw;
  raw.resources = MakeCellResources(IndexOptions(f, l));
  const Clock::time_point t0 = Clock::now();
  rocksdb::BackupEngineOptions bo(l.backup());
  bo.max_background_operations = f.backup_threads;
  bo.backup_log_files = false;
  rocksdb::BackupEngineReadOnly* engine = nullptr;
  Check(rocksdb::BackupEngineReadOnly::Open(bo, rocksdb::Env::Default(), &engine),
        "open backup engine");
  Check(engine->RestoreDBFromLatestBackup(rocksdb::RestoreOptions(/*keep_log_files=*/true),
                                          l.rocks_db(), l.wal()),
        "restore");
  delete engine;
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
  r.bytes = build.backup_bytes + build.wal_bytes;

  // The restored DB holds the tail (its WAL was replayed).
  const uint64_t i = TailObject(0, f.objects);
  std::string value;
  Check(raw.db->Get(rocksdb::ReadOptions(), EncodeKey(KeyOf(i)), &value), "get tail key");
  absl::StatusOr<ObjectRecord> rec = DecodeRecord(value);
  if (!rec.ok() || rec->size != RecordOf(i, 1).size) {
    Die("check restored rocksdb", absl::DataLossError("the tail write is missing"));
  }
  return r;
}

}  // namespace cellindex::bench::recovery_bench
