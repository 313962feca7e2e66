#include "index/index.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "index/cell.h"
#include "index/rocksdb_util.h"
#include "recovery/file_util.h"

namespace cellindex {
namespace {

constexpr char kCellMapFile[] = "CELLMAP";
constexpr char kLockFile[] = "LOCK";

std::string CellDirName(CellId id) { return absl::StrFormat("%05u", id); }

absl::Status ValidatePrecondition(const Precondition& p) {
  if (p.if_none_match && p.if_version_match.has_value()) {
    return absl::InvalidArgumentError(
        "invalid precondition: if-none-match and if-version-match are exclusive");
  }
  return absl::OkStatus();
}

// Validates `op` and turns it into a CellOp.
absl::StatusOr<CellOp> ToCellOp(const WriteOp& op, absl::Time now) {
  if (absl::Status s = ValidateObjectKey(op.key); !s.ok()) return s;
  if (absl::Status s = ValidatePrecondition(op.precondition); !s.ok()) return s;
  CellOp c;
  c.kind = op.kind;
  c.encoded_key = EncodeKey(op.key);
  c.precondition = op.precondition;
  if (op.kind == WriteOp::Kind::kPut) {
    if (absl::Status s = ValidateObjectRecord(op.record); !s.ok()) return s;
    c.record = op.record;
    if (c.record.modified == absl::InfinitePast()) c.record.modified = now;
    if (c.record.created == absl::InfinitePast()) c.record.created = c.record.modified;
  }
  return c;
}

}  // namespace

Index::Index(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Index>> Index::Open(const Options& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("options.data_dir is empty");
  Options o = options;
  if (o.store_dir.empty()) o.store_dir = o.data_dir + "/store";
  if (o.journal_segment_bytes < 64 * 1024) {
    return absl::InvalidArgumentError("options.journal_segment_bytes must be at least 64 KiB");
  }
  const absl::Time start = absl::Now();
  auto index = std::unique_ptr<Index>(new Index(std::move(o)));
  if (absl::Status s = index->Init(); !s.ok()) return s;
  index->open_time_ = absl::Now() - start;
  return index;
}

absl::Status Index::Init() {
  if (absl::Status s = CreateDirs(options_.data_dir); !s.ok()) return s;
  if (absl::Status s = CreateDirs(options_.store_dir); !s.ok()) return s;

  const std::string lock_path = options_.store_dir + "/" + kLockFile;
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return ErrnoStatus("open", lock_path, errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", options_.store_dir, " is in use by another index"));
  }

  // The layout the options ask for, if any.
  const bool has_layout = !options_.cell_boundaries.empty() || options_.num_cells > 0;
  absl::StatusOr<CellMap> requested = absl::InternalError("unset");
  if (!options_.cell_boundaries.empty()) {
    requested = CellMap::FromBoundaries(options_.cell_boundaries);
  } else if (options_.num_cells > 1) {
    if (options_.boundary_sample.empty()) {
      return absl::InvalidArgumentError(
          "options.num_cells > 1 needs options.boundary_sample (or give cell_boundaries)");
    }
    std::vector<std::string> sample;
    sample.reserve(options_.boundary_sample.size());
    for (const ObjectKey& k : options_.boundary_sample) sample.push_back(EncodeKey(k));
    requested = CellMap::FromSample(std::move(sample), options_.num_cells);
  } else {
    requested = CellMap::FromBoundaries({});
  }
  if (!requested.ok()) return requested.status();

  const std::string map_path = options_.store_dir + "/" + kCellMapFile;
  absl::StatusOr<CellMap> stored = CellMap::Load(map_path);
  if (stored.ok()) {
    if (has_layout && stored->Boundaries() != requested->Boundaries()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cell map mismatch: the index in ", options_.store_dir, " has ", stored->cells().size(),
          " cells and the options ask for ", requested->cells().size(),
          " cells or other boundaries; the layout cannot change on reopen"));
    }
    map_ = *std::move(stored);
  } else if (absl::IsNotFound(stored.status())) {
    if (options_.error_if_missing) {
      return absl::NotFoundError(absl::StrCat("no index in ", options_.store_dir));
    }
    if (PathExists(options_.store_dir + "/cells")) {
      return absl::DataLossError(absl::StrCat("store ", options_.store_dir,
                                              " holds cell journals but no cell map"));
    }
    map_ = *std::move(requested);
    if (absl::Status s = map_.Save(map_path); !s.ok()) return s;
  } else {
    return stored.status();
  }

  resources_ = std::make_unique<CellResources>(MakeCellResources(options_));
  const size_t n = map_.cells().size();
  cells_.resize(n);
  std::vector<absl::Status> results(n);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < n; i = next++) {
      const CellRange& range = map_.cells()[i];
      Cell::Paths paths;
      paths.db_dir = options_.data_dir + "/cells/" + CellDirName(range.id);
      paths.journal_dir = options_.store_dir + "/cells/" + CellDirName(range.id) + "/journal";
      absl::StatusOr<std::unique_ptr<Cell>> cell = Cell::Open(range, paths, options_, *resources_);
      if (cell.ok()) {
        cells_[i] = *std::move(cell);
      } else {
        results[i] = cell.status();
      }
    }
  };
  size_t threads = options_.open_parallelism > 0
                       ? static_cast<size_t>(options_.open_parallelism)
                       : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, n);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }

  if (options_.durability == Durability::kBuffered) sync_thread_ = std::thread([this] { SyncLoop(); });
  return absl::OkStatus();
}

Index::~Index() {
  if (sync_thread_.joinable()) {
    {
      absl::MutexLock lock(&sync_mu_);
      stopping_ = true;
    }
    sync_thread_.join();
  }
  cells_.clear();  // each cell syncs its journal, then closes RocksDB
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void Index::SyncLoop() {
  absl::MutexLock lock(&sync_mu_);
  while (!stopping_) {
    sync_mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.buffered_sync_interval);
    if (stopping_) break;
    sync_mu_.Unlock();
    for (const auto& cell : cells_) (void)cell->SyncJournal();  // a failure fails the cell
    sync_mu_.Lock();
  }
}

CellId Index::CellFor(const ObjectKey& key) const {
  return map_.cells()[map_.Route(EncodeKey(key))].id;
}

absl::StatusOr<uint64_t> Index::Put(const ObjectKey& key, const ObjectRecord& record,
                                    const Precondition& precondition) {
  WriteBatch batch;
  batch.Put(key, record, precondition);
  absl::StatusOr<std::vector<uint64_t>> v = Write(batch);
  if (!v.ok()) return v.status();
  return v->front();
}

absl::Status Index::Delete(const ObjectKey& key, const Precondition& precondition) {
  WriteBatch batch;
  batch.Delete(key, precondition);
  return Write(batch).status();
}

absl::StatusOr<std::vector<uint64_t>> Index::Write(const WriteBatch& batch) {
  if (batch.empty()) return std::vector<uint64_t>();
  const absl::Time now = absl::Now();
  std::vector<CellOp> ops;
  ops.reserve(batch.size());
  size_t cell = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    absl::StatusOr<CellOp> op = ToCellOp(batch.ops()[i], now);
    if (!op.ok()) return op.status();
    const size_t c = map_.Route(op->encoded_key);
    if (i == 0) {
      cell = c;
    } else if (c != cell) {
      const ObjectKey& a = batch.ops()[0].key;
      const ObjectKey& b = batch.ops()[i].key;
      return absl::InvalidArgumentError(absl::StrCat(
          "batch spans cells ", map_.cells()[cell].id, " and ", map_.cells()[c].id, " (", a.bucket,
          "/", absl::CHexEscape(a.key), " and ", b.bucket, "/", absl::CHexEscape(b.key),
          "); a batch must stay within one cell"));
    }
    ops.push_back(*std::move(op));
  }
  return cells_[cell]->Write(std::move(ops));
}

absl::StatusOr<ObjectRecord> Index::Get(const ObjectKey& key) {
  if (absl::Status s = ValidateObjectKey(key); !s.ok()) return s;
  const std::string encoded = EncodeKey(key);
  return cells_[map_.Route(encoded)]->Get(encoded);
}

IndexStats Index::Stats() const {
  IndexStats s;
  s.epoch = map_.epoch();
  s.open_time = open_time_;
  for (const auto& cell : cells_) s.cells.push_back(cell->Stats());
  return s;
}

}  // namespace cellindex
