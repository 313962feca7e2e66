#include "index/index.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "index/cell.h"
#include "index/rocksdb_util.h"
#include "recovery/cell_recovery.h"
#include "recovery/checkpoint.h"
#include "recovery/durable_store.h"
#include "recovery/file_util.h"
#include "recovery/recovery_scheduler.h"

namespace cellindex {
namespace {

constexpr char kCellMapFile[] = "CELLMAP";
constexpr char kLockFile[] = "LOCK";
constexpr char kDefaultHost[] = "local";
// Validation runs after every recovery, behind it.
constexpr int64_t kValidationPriority = int64_t{1} << 40;

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

// What the index knows about one cell of the map, whether or not it serves.
struct Index::Slot {
  mutable absl::Mutex mu;
  std::shared_ptr<Cell> cell ABSL_GUARDED_BY(mu);  // set while serving
  std::string phase ABSL_GUARDED_BY(mu) = "queued";
  absl::Status error ABSL_GUARDED_BY(mu);
  RecoveryReport report ABSL_GUARDED_BY(mu);
  std::string validation ABSL_GUARDED_BY(mu) = "off";
  // Why the last state was taken out of service, for the next report.
  std::vector<std::string> carried_fallbacks ABSL_GUARDED_BY(mu);
  absl::Time recovery_start ABSL_GUARDED_BY(mu);
  uint64_t checkpoints_taken ABSL_GUARDED_BY(mu) = 0;
  uint64_t last_checkpoint_seq ABSL_GUARDED_BY(mu) = 0;
  absl::Time last_checkpoint_time ABSL_GUARDED_BY(mu);
  std::string last_checkpoint_error ABSL_GUARDED_BY(mu);
  // One checkpoint of the cell at a time.
  absl::Mutex checkpoint_mu;
};

Index::Index(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Index>> Index::Open(const Options& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("options.data_dir is empty");
  Options o = options;
  if (o.store_dir.empty()) o.store_dir = o.data_dir + "/store";
  if (o.journal_segment_bytes < 64 * 1024) {
    return absl::InvalidArgumentError("options.journal_segment_bytes must be at least 64 KiB");
  }
  if (o.host_dirs.empty()) o.host_dirs[kDefaultHost] = o.data_dir;
  for (const auto& [host, dir] : o.host_dirs) {
    if (host.empty() || dir.empty()) {
      return absl::InvalidArgumentError("options.host_dirs has an empty host name or directory");
    }
  }
  auto index = std::unique_ptr<Index>(new Index(std::move(o)));
  index->open_start_ = absl::Now();
  if (absl::Status s = index->Init(); !s.ok()) return s;
  index->open_time_ = absl::Now() - index->open_start_;
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
  store_ = NewLocalDirStore(options_.store_dir);

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

  absl::MutexLock map_lock(&map_mu_);
  host_dirs_ = options_.host_dirs;
  const std::string map_path = options_.store_dir + "/" + kCellMapFile;
  absl::StatusOr<CellMap> stored = CellMap::Load(map_path);
  bool save_map = false;
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
                                              " holds cells but no cell map"));
    }
    map_ = *std::move(requested);
    std::vector<std::string> hosts;
    for (const auto& [host, dir] : host_dirs_) hosts.push_back(host);
    map_.PlaceRoundRobin(hosts);
    save_map = true;
  } else {
    return stored.status();
  }
  // Cells whose host is gone move to the host with the fewest cells.
  std::map<std::string, size_t> load;
  for (const auto& [host, dir] : host_dirs_) load[host] = 0;
  for (const CellRange& c : map_.cells()) {
    if (load.count(c.host)) ++load[c.host];
  }
  for (size_t i = 0; i < map_.cells().size(); ++i) {
    if (host_dirs_.count(map_.cells()[i].host)) continue;
    auto least = std::min_element(load.begin(), load.end(),
                                  [](const auto& a, const auto& b) { return a.second < b.second; });
    map_.MoveCell(i, least->first);
    ++least->second;
    save_map = true;
  }
  if (save_map) {
    if (absl::Status s = map_.Save(map_path); !s.ok()) return s;
  }

  resources_ = std::make_unique<CellResources>(MakeCellResources(options_));
  const size_t n = map_.cells().size();
  for (size_t i = 0; i < n; ++i) slots_.push_back(std::make_unique<Slot>());
  const int parallelism = options_.recovery_parallelism > 0
                              ? options_.recovery_parallelism
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  recovery_ = std::make_unique<RecoveryScheduler>(std::min<int>(parallelism, n));
  validation_ = std::make_unique<RecoveryScheduler>(1);
  map_mu_.Unlock();
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  ScheduleRecovery(all, /*force_restore=*/false, UINT64_MAX);
  if (options_.wait_for_recovery) recovery_->WaitIdle();
  map_mu_.Lock();

  if (options_.durability == Durability::kBuffered) {
    sync_thread_ = std::thread([this] { SyncLoop(); });
  }
  if (options_.background_checkpoints) {
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
  }
  return absl::OkStatus();
}

Index::~Index() {
  {
    absl::MutexLock lock(&bg_mu_);
    stopping_ = true;
  }
  if (sync_thread_.joinable()) sync_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  validation_.reset();  // drops queued work, waits for the running task
  recovery_.reset();
  for (auto& slot : slots_) {
    absl::MutexLock lock(&slot->mu);
    slot->cell.reset();  // syncs the journal, then closes RocksDB
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string Index::CellDbDir(size_t i) const {
  absl::MutexLock lock(&map_mu_);
  auto it = host_dirs_.find(map_.cells()[i].host);
  const std::string& base = it != host_dirs_.end() ? it->second : options_.data_dir;
  return base + "/cells/" + CellDirName(map_.cells()[i].id);
}

int64_t Index::PriorityOf(CellId id) const {
  const auto& p = options_.recovery_priority;
  auto it = std::find(p.begin(), p.end(), id);
  if (it != p.end()) return it - p.begin();
  return static_cast<int64_t>(p.size()) + id;
}

void Index::ScheduleRecovery(const std::vector<size_t>& cells, bool force_restore,
                             uint64_t below_checkpoint) {
  std::vector<std::pair<int64_t, std::function<void()>>> tasks;
  for (size_t i : cells) {
    {
      Slot& slot = *slots_[i];
      absl::MutexLock lock(&slot.mu);
      slot.phase = "queued";
      slot.error = absl::OkStatus();
      slot.recovery_start = absl::Now();
    }
    tasks.emplace_back(PriorityOf(map_.cells()[i].id), [this, i, force_restore, below_checkpoint] {
      RecoverSlot(i, force_restore, below_checkpoint);
    });
  }
  recovery_->ScheduleAll(std::move(tasks));
}

void Index::RecoverSlot(size_t i, bool force_restore, uint64_t below_checkpoint) {
  Slot& slot = *slots_[i];
  CellRange range;
  {
    absl::MutexLock lock(&map_mu_);
    range = map_.cells()[i];
  }
  CellRecoveryOptions ro;
  ro.fetch_parallelism = options_.fetch_parallelism;
  ro.paranoid = options_.paranoid;
  ro.force_restore = force_restore;
  ro.below_checkpoint = below_checkpoint;
  ro.on_phase = [this, &slot, id = range.id](const char* phase) {
    {
      absl::MutexLock lock(&slot.mu);
      slot.phase = phase;
    }
    if (options_.recovery_hook) options_.recovery_hook(id, phase);
  };
  Cell::Paths paths;
  paths.db_dir = CellDbDir(i);
  absl::StatusOr<std::string> journal_dir =
      store_->LocalDir(CellStorePrefix(range.id) + "journal");
  RecoveryReport report;
  absl::StatusOr<std::unique_ptr<Cell>> cell =
      journal_dir.ok() ? RecoverCell(range, {paths.db_dir, *journal_dir}, options_, *resources_,
                                     *store_, ro, &report)
                       : journal_dir.status();
  std::shared_ptr<Cell> serving;
  {
    absl::MutexLock lock(&slot.mu);
    report.time_to_serve = absl::Now() - slot.recovery_start;
    report.fallbacks.insert(report.fallbacks.begin(), slot.carried_fallbacks.begin(),
                            slot.carried_fallbacks.end());
    slot.carried_fallbacks.clear();
    slot.report = report;
    if (cell.ok()) {
      serving = std::shared_ptr<Cell>(*std::move(cell));
      slot.cell = serving;
      slot.phase = "serving";
      slot.validation = options_.paranoid ? "ok" : options_.validate_after_recovery ? "pending"
                                                                                     : "off";
    } else {
      slot.phase = "failed";
      slot.error = cell.status();
    }
  }
  if (serving != nullptr) {
    const int64_t since_open = absl::ToInt64Microseconds(absl::Now() - open_start_);
    int64_t unset = -1;
    first_serving_us_.compare_exchange_strong(unset, since_open);
    if (++serving_count_ == slots_.size()) {
      unset = -1;
      all_serving_us_.compare_exchange_strong(unset, since_open);
    }
    if (!options_.paranoid && options_.validate_after_recovery) {
      // A weak reference: a queued check must not keep a replaced cell open.
      validation_->Schedule(kValidationPriority + range.id,
                            [this, i, weak = std::weak_ptr<Cell>(serving)] {
                              if (std::shared_ptr<Cell> cell = weak.lock()) {
                                ValidateSlot(i, std::move(cell));
                              }
                            });
    }
  }
}

void Index::ValidateSlot(size_t i, std::shared_ptr<Cell> cell) {
  Slot& slot = *slots_[i];
  {
    absl::MutexLock lock(&slot.mu);
    if (slot.cell != cell) return;  // replaced meanwhile
    slot.validation = "running";
  }
  if (options_.recovery_hook) options_.recovery_hook(cell->range().id, "validate");
  const absl::Time start = absl::Now();
  uint64_t checked = 0;
  absl::Status s = cell->Validate(&checked);
  uint64_t below = UINT64_MAX;
  {
    absl::MutexLock lock(&slot.mu);
    slot.report.validate_time = absl::Now() - start;
    slot.report.records_validated = checked;
    slot.validation = s.ok() ? "ok" : "failed";
    if (s.ok()) return;
    slot.carried_fallbacks.push_back(
        absl::StrCat(slot.report.source, " ", slot.report.checkpoint_seq, ": ", s.message()));
    if (slot.report.source == "checkpoint") below = slot.report.checkpoint_seq;
  }
  // The state does not hold: out of service, and back from an older
  // checkpoint (or, for local state, the newest one).
  cell.reset();
  --serving_count_;
  TakeOutOfService(i);
  ScheduleRecovery({i}, /*force_restore=*/true, below);
}

void Index::TakeOutOfService(size_t i) {
  Slot& slot = *slots_[i];
  std::shared_ptr<Cell> old;
  {
    absl::MutexLock lock(&slot.mu);
    old = std::move(slot.cell);
    slot.phase = "queued";
  }
  if (old == nullptr) return;
  // In-flight requests hold references; the last one out closes the cell.
  while (old.use_count() > 1) absl::SleepFor(absl::Milliseconds(1));
  old.reset();
}

absl::StatusOr<std::shared_ptr<Cell>> Index::ServingCell(size_t i) const {
  const Slot& slot = *slots_[i];
  absl::MutexLock lock(&slot.mu);
  if (slot.cell != nullptr) return slot.cell;
  const CellId id = map_.cells()[i].id;
  if (!slot.error.ok()) {
    return absl::Status(slot.error.code(),
                        absl::StrCat("cell ", id, " has failed: ", slot.error.message()));
  }
  return absl::UnavailableError(
      absl::StrCat("cell ", id, " is recovering (phase: ", slot.phase, ")"));
}

void Index::WaitForRecovery() { recovery_->WaitIdle(); }

void Index::SyncLoop() {
  absl::MutexLock lock(&bg_mu_);
  while (!stopping_) {
    bg_mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.buffered_sync_interval);
    if (stopping_) break;
    bg_mu_.Unlock();
    for (size_t i = 0; i < slots_.size(); ++i) {
      absl::StatusOr<std::shared_ptr<Cell>> cell = ServingCell(i);
      if (cell.ok()) (void)(*cell)->SyncJournal();  // a failure fails the cell
    }
    bg_mu_.Lock();
  }
}

void Index::CheckpointLoop() {
  const absl::Duration tick = std::min(absl::Seconds(1), options_.checkpoint_interval);
  absl::MutexLock lock(&bg_mu_);
  while (!stopping_) {
    bg_mu_.AwaitWithTimeout(absl::Condition(&stopping_), tick);
    if (stopping_) break;
    bg_mu_.Unlock();
    for (size_t i = 0; i < slots_.size(); ++i) {
      absl::StatusOr<std::shared_ptr<Cell>> cell = ServingCell(i);
      if (!cell.ok()) continue;
      const uint64_t since = (*cell)->journal_bytes_since_checkpoint();
      absl::Time last;
      {
        absl::MutexLock slot_lock(&slots_[i]->mu);
        last = slots_[i]->last_checkpoint_time;
        if (last == absl::Time()) last = slots_[i]->recovery_start;
      }
      if (since >= options_.checkpoint_journal_bytes ||
          (since > 0 && absl::Now() - last >= options_.checkpoint_interval)) {
        (void)CheckpointSlot(i);  // errors are kept in the slot
      }
    }
    bg_mu_.Lock();
  }
}

absl::StatusOr<CheckpointReport> Index::CheckpointSlot(size_t i) {
  absl::StatusOr<std::shared_ptr<Cell>> cell = ServingCell(i);
  if (!cell.ok()) return cell.status();
  Slot& slot = *slots_[i];
  absl::MutexLock checkpoint_lock(&slot.checkpoint_mu);
  uint64_t epoch;
  {
    absl::MutexLock lock(&map_mu_);
    epoch = map_.epoch();
  }
  absl::StatusOr<CheckpointReport> r =
      TakeCheckpoint(**cell, *store_, epoch, options_.checkpoints_to_keep);
  absl::MutexLock lock(&slot.mu);
  if (!r.ok()) {
    slot.last_checkpoint_error = std::string(r.status().message());
    return r.status();
  }
  slot.last_checkpoint_error.clear();
  slot.last_checkpoint_time = absl::Now();
  slot.last_checkpoint_seq = r->applied_seq;
  if (r->taken) ++slot.checkpoints_taken;
  return r;
}

absl::StatusOr<std::vector<CheckpointReport>> Index::Checkpoint(std::optional<CellId> cell) {
  std::vector<CheckpointReport> out;
  absl::Status first_error;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (cell.has_value() && map_.cells()[i].id != *cell) continue;
    absl::StatusOr<CheckpointReport> r = CheckpointSlot(i);
    if (r.ok()) {
      out.push_back(*r);
    } else if (first_error.ok()) {
      first_error = r.status();
    }
  }
  if (cell.has_value() && out.empty() && first_error.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("no cell ", *cell));
  }
  if (!first_error.ok()) return first_error;
  return out;
}

absl::StatusOr<std::vector<CellId>> Index::LoseHosts(const std::vector<std::string>& hosts) {
  std::vector<size_t> lost;
  std::vector<std::string> dirs;
  {
    absl::MutexLock lock(&map_mu_);
    std::set<std::string> gone;
    for (const std::string& host : hosts) {
      auto it = host_dirs_.find(host);
      if (it == host_dirs_.end()) {
        return absl::InvalidArgumentError(absl::StrCat("unknown host \"", host, "\""));
      }
      if (gone.insert(host).second) dirs.push_back(it->second);
    }
    if (gone.size() >= host_dirs_.size()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "losing ", gone.size(), " of ", host_dirs_.size(),
          " hosts would leave none for their cells"));
    }
    for (size_t i = 0; i < map_.cells().size(); ++i) {
      if (gone.count(map_.cells()[i].host)) lost.push_back(i);
    }
  }
  // A cell being restored onto a lost host would write into a directory
  // about to vanish: let such recoveries finish first.
  bool in_flight = false;
  for (size_t i : lost) {
    absl::MutexLock lock(&slots_[i]->mu);
    in_flight |= slots_[i]->cell == nullptr && slots_[i]->error.ok();
  }
  if (in_flight) recovery_->WaitIdle();
  for (size_t i : lost) {
    bool was_serving;
    {
      absl::MutexLock lock(&slots_[i]->mu);
      was_serving = slots_[i]->cell != nullptr;
    }
    TakeOutOfService(i);
    if (was_serving) --serving_count_;
  }
  for (const std::string& dir : dirs) {
    if (absl::Status s = RemoveAll(dir); !s.ok()) return s;
  }
  std::vector<CellId> moved;
  {
    absl::MutexLock lock(&map_mu_);
    for (const std::string& host : hosts) host_dirs_.erase(host);
    std::map<std::string, size_t> load;
    for (const auto& [h, d] : host_dirs_) load[h] = 0;
    for (const CellRange& c : map_.cells()) {
      if (load.count(c.host)) ++load[c.host];
    }
    for (size_t i : lost) {
      auto least = std::min_element(load.begin(), load.end(), [](const auto& a, const auto& b) {
        return a.second < b.second;
      });
      map_.MoveCell(i, least->first);
      ++least->second;
      moved.push_back(map_.cells()[i].id);
    }
    if (absl::Status s = map_.Save(options_.store_dir + "/" + kCellMapFile); !s.ok()) return s;
  }
  ScheduleRecovery(lost, /*force_restore=*/true, UINT64_MAX);
  return moved;
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
  absl::StatusOr<std::shared_ptr<Cell>> target = ServingCell(cell);
  if (!target.ok()) return target.status();
  return (*target)->Write(std::move(ops));
}

absl::StatusOr<ObjectRecord> Index::Get(const ObjectKey& key) {
  if (absl::Status s = ValidateObjectKey(key); !s.ok()) return s;
  const std::string encoded = EncodeKey(key);
  absl::StatusOr<std::shared_ptr<Cell>> cell = ServingCell(map_.Route(encoded));
  if (!cell.ok()) return cell.status();
  return (*cell)->Get(encoded);
}

absl::StatusOr<ListResult> Index::List(absl::string_view bucket, const ListOptions& options) {
  return ListObjects(map_, [this](size_t i) { return ServingCell(i); }, bucket, options);
}

absl::StatusOr<LocateResult> Index::Locate(const LocateOptions& options) {
  return LocateObjects(map_, [this](size_t i) { return ServingCell(i); }, options);
}

IndexStats Index::Stats() const {
  IndexStats s;
  {
    absl::MutexLock lock(&map_mu_);
    s.epoch = map_.epoch();
  }
  s.open_time = open_time_;
  const int64_t first = first_serving_us_.load(), all = all_serving_us_.load();
  if (first >= 0) s.time_to_first_cell = absl::Microseconds(first);
  if (all >= 0) s.time_to_all_cells = absl::Microseconds(all);
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& slot = *slots_[i];
    std::shared_ptr<Cell> cell;
    CellStats c;
    {
      absl::MutexLock lock(&slot.mu);
      cell = slot.cell;
      if (cell == nullptr) {
        c.state = slot.phase;
        if (!slot.error.ok()) c.error = std::string(slot.error.message());
      }
      c.recovery = slot.report;
      c.validation = slot.validation;
      c.checkpoints_taken = slot.checkpoints_taken;
      c.last_checkpoint_seq = slot.last_checkpoint_seq;
    }
    if (cell != nullptr) {
      CellStats live = cell->Stats();
      live.journal_bytes_since_checkpoint = cell->journal_bytes_since_checkpoint();
      live.recovery = std::move(c.recovery);
      live.validation = std::move(c.validation);
      live.checkpoints_taken = c.checkpoints_taken;
      live.last_checkpoint_seq = c.last_checkpoint_seq;
      c = std::move(live);
    }
    {
      absl::MutexLock lock(&map_mu_);
      c.id = map_.cells()[i].id;
      c.range = map_.cells()[i].Describe();
      c.host = map_.cells()[i].host;
    }
    s.cells.push_back(std::move(c));
  }
  return s;
}

}  // namespace cellindex
