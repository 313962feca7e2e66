#include "index/cell/cell_resources.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocksdb/file_checksum.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"

namespace cellindex {

CellResources MakeCellResources(const Options& options,
                                std::shared_ptr<rocksdb::FileSystem> fs) {
  CellResources r;
  if (fs == nullptr || fs == rocksdb::FileSystem::Default()) {
    r.fs = rocksdb::FileSystem::Default();
    r.env = rocksdb::Env::Default();
  } else {
    r.fs = std::move(fs);
    r.env_owner = rocksdb::NewCompositeEnv(r.fs);
    r.env = r.env_owner.get();
  }
  r.env->SetBackgroundThreads(std::max(1, options.flush_threads), rocksdb::Env::Priority::HIGH);
  r.env->SetBackgroundThreads(std::max(1, options.compaction_threads),
                              rocksdb::Env::Priority::LOW);
  r.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  r.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options.write_buffer_bytes);
  return r;
}

rocksdb::Options MakeCellDbOptions(const Options& options, const CellResources& resources) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.env = resources.env;
  // RocksDB records each file's crc32c when it writes it: Validate checks
  // every file against it, and a checkpoint checks each file it uploads, so
  // a local file damaged after it was written is never published.
  o.file_checksum_gen_factory = rocksdb::GetFileChecksumGenCrc32cFactory();
  // A background error (a flush that could not write) stops the cell's
  // writes; the index then reopens the cell from what is durable, rather
  // than RocksDB retrying on its own, once a second, behind its back.
  o.max_bgerror_resume_count = 0;
  o.write_buffer_manager = resources.write_buffer_manager;
  o.write_buffer_size = options.cell_write_buffer_bytes;
  o.max_background_jobs = std::max(2, options.flush_threads + options.compaction_threads);
  o.max_open_files = 512;
  // At open, RocksDB loads the table files' handles on this many threads,
  // started afresh for each column family of each open (by default 16: 30
  // threads created per cell). A cell holds a few files, and the index opens
  // and restores cells in parallel already: one thread, the opener's.
  o.max_file_opening_threads = 1;
  o.keep_log_file_num = 2;
  // The cell's journal is the log: RocksDB's WAL is off on every write, and a
  // clean close must flush the memtables.
  o.avoid_flush_during_shutdown = false;
  // With no WAL, only an atomic flush keeps the column families of what
  // RocksDB persisted at one journal position: the state key (default
  // family) must never say a batch is in when its reverse entries are not.
  o.atomic_flush = true;
  // Every put first reads its key (preconditions, versions, the old record's
  // reverse entries to delete), and most puts are of new keys: a whole-key
  // bloom filter in the memtable answers those misses without searching the
  // skiplist. 2% of the write buffer is about 16 bits per entry at the ~100
  // bytes a cell's entries average (records and reverse-location keys).
  o.memtable_whole_key_filtering = true;
  o.memtable_prefix_bloom_size_ratio = 0.02;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = resources.block_cache;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  t.format_version = 5;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

rocksdb::ColumnFamilyOptions MakeLocationsOptions(const rocksdb::Options& cell_options,
                                                  const CellResources& resources) {
  rocksdb::ColumnFamilyOptions o(cell_options);
  o.memtable_whole_key_filtering = false;
  o.memtable_prefix_bloom_size_ratio = 0;
  o.compression = rocksdb::kZSTD;
  o.bottommost_compression = rocksdb::kZSTD;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = resources.block_cache;
  t.block_size = 16 << 10;
  t.block_restart_interval = 32;
  t.format_version = 5;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

rocksdb::Status OpenCellDb(const Options& options, const CellResources& resources,
                           const std::string& dir, std::unique_ptr<rocksdb::DB>* db,
                           std::unique_ptr<rocksdb::ColumnFamilyHandle>* locations) {
  rocksdb::Options o = MakeCellDbOptions(options, resources);
  // A state that exists without the locations family was written by an
  // older cellindex (format 1): refused before anything is written to it,
  // so that it stays as it was, readable by the version that wrote it.
  std::vector<std::string> names;
  if (rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(o), dir, &names).ok() &&
      std::find(names.begin(), names.end(), kLocationsColumnFamily) == names.end()) {
    return rocksdb::Status::NotSupported(
        "the state is in format 1 (its reverse index beside the records), written by an older "
        "cellindex; this one reads format 2: rebuild the index with it");
  }
  o.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(o)},
      {kLocationsColumnFamily, MakeLocationsOptions(o, resources)}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(o), dir, families, &handles, &raw);
  if (!s.ok()) return s;
  db->reset(raw);
  // The DB keeps its own handle of the default family (DefaultColumnFamily()).
  delete handles[0];
  locations->reset(handles[1]);
  return s;
}

}  // namespace cellindex
