#include "index/index.h"

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "index/cell.h"
#include "index/internal_options.h"
#include "index/rocksdb_util.h"
#include "recovery/cell_map_file.h"
#include "recovery/cell_recovery.h"
#include "recovery/checkpoint.h"
#include "recovery/durable_store.h"
#include "recovery/file_util.h"
#include "recovery/recovery_scheduler.h"
#include "rocksdb/file_system.h"

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

// `path` without "." and ".." components and repeated or trailing slashes,
// made absolute against the working directory.
std::string NormalPath(rocksdb::FileSystem& fs, const std::string& path) {
  std::string abs = path;
  if (!fs.GetAbsolutePath(path, rocksdb::IOOptions(), &abs, nullptr).ok()) abs = path;
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(abs, '/', absl::SkipEmpty())) {
    if (p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.emplace_back(p);
  }
  return "/" + absl::StrJoin(parts, "/");
}

// Whether `inner` is `outer` or lies below it (both normalised).
bool Within(const std::string& inner, const std::string& outer) {
  return inner == outer || absl::StartsWith(inner, outer == "/" ? outer : outer + "/");
}

}  // namespace

// What the index knows about one cell of the map, whether or not it serves.
struct Index::Slot {
  mutable absl::Mutex mu;
  std::shared_ptr<Cell> cell ABSL_GUARDED_BY(mu);  // set while serving
  std::string phase ABSL_GUARDED_BY(mu) = "queued";
  absl::Status error ABSL_GUARDED_BY(mu);
  RecoveryReport report ABSL_GUARDED_BY(mu);
  ValidationState validation ABSL_GUARDED_BY(mu) = ValidationState::kOff;
  // A recovery is queued or running; only its owner may start another.
  bool recovery_owned ABSL_GUARDED_BY(mu) = false;
  // The cell taken out of service for that recovery, closed by it once the
  // requests that still hold it are done.
  std::shared_ptr<Cell> retiring ABSL_GUARDED_BY(mu);
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

Index::Index(Options options, InternalOptions internal)
    : options_(std::move(options)),
      internal_(std::make_unique<InternalOptions>(std::move(internal))) {}

absl::StatusOr<std::unique_ptr<Index>> Index::Open(const Options& options) {
  return OpenIndex(options, InternalOptions());
}

absl::StatusOr<std::unique_ptr<Index>> OpenIndex(const Options& options,
                                                 const InternalOptions& internal) {
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
  InternalOptions in = internal;
  if (in.file_system == nullptr) in.file_system = rocksdb::FileSystem::Default();
  auto index = std::unique_ptr<Index>(new Index(std::move(o), std::move(in)));
  index->open_start_ = absl::Now();
  if (absl::Status s = index->Init(); !s.ok()) return s;
  index->open_time_ = absl::Now() - index->open_start_;
  return index;
}

absl::Status Index::CheckDirectories() {
  rocksdb::FileSystem& fs = *internal_->file_system;
  std::vector<std::pair<std::string, std::string>> dirs = {{"data_dir", options_.data_dir},
                                                           {"store_dir", options_.store_dir}};
  for (const auto& [host, dir] : options_.host_dirs) dirs.emplace_back("host " + host, dir);
  for (const auto& [what, dir] : dirs) {
    absl::StatusOr<bool> is_dir = IsDirectory(fs, dir);
    if (is_dir.ok() && !*is_dir) {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", dir, " is not a directory"));
    }
  }
  // Losing a host deletes its directory: it must hold neither the store nor
  // another host. (A single host may hold the store: it can never be lost.)
  if (options_.host_dirs.size() < 2) return absl::OkStatus();
  const std::string store = NormalPath(fs, options_.store_dir);
  std::vector<std::pair<std::string, std::string>> hosts;
  for (const auto& [host, dir] : options_.host_dirs) hosts.emplace_back(host, NormalPath(fs, dir));
  for (size_t a = 0; a < hosts.size(); ++a) {
    if (Within(store, hosts[a].second) || Within(hosts[a].second, store)) {
      return absl::InvalidArgumentError(absl::StrCat("host ", hosts[a].first, "'s directory ",
                                                     hosts[a].second, " and the store ", store,
                                                     " overlap; losing the host would lose the store"));
    }
    for (size_t b = 0; b < hosts.size(); ++b) {
      if (a != b && Within(hosts[b].second, hosts[a].second)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "host ", hosts[b].first, "'s directory ", hosts[b].second, " lies in host ",
            hosts[a].first, "'s ", hosts[a].second));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Index::Init() {
  rocksdb::FileSystem& fs = *internal_->file_system;
  if (absl::Status s = CheckDirectories(); !s.ok()) return s;
  if (absl::Status s = CreateDirs(fs, options_.data_dir); !s.ok()) return s;
  if (absl::Status s = CreateDirs(fs, options_.store_dir); !s.ok()) return s;

  const std::string lock_path = options_.store_dir + "/" + kLockFile;
  if (rocksdb::IOStatus s = fs.LockFile(lock_path, rocksdb::IOOptions(), &lock_, nullptr);
      !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store ", options_.store_dir, " is in use by another index (", s.ToString(), ")"));
  }
  resources_ = std::make_unique<CellResources>(MakeCellResources(options_, internal_->file_system));
  store_ = NewLocalDirStore(&fs, options_.store_dir);

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
  absl::StatusOr<CellMap> stored = LoadCellMap(fs, map_path);
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
    // Cells without a map are damage, whether or not the caller meant to
    // create an index.
    if (PathExists(fs, options_.store_dir + "/cells")) {
      return absl::DataLossError(absl::StrCat("store ", options_.store_dir,
                                              " holds cells but no cell map"));
    }
    if (options_.error_if_missing) {
      return absl::NotFoundError(absl::StrCat("no index in ", options_.store_dir));
    }
    map_ = *std::move(requested);
    map_.set_index_id(NewIndexId());
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
    if (absl::Status s = SaveCellMap(fs, map_path, map_); !s.ok()) return s;
  }

  const size_t n = map_.cells().size();
  for (size_t i = 0; i < n; ++i) {
    slots_.push_back(std::make_unique<Slot>());
    absl::MutexLock lock(&slots_[i]->mu);
    slots_[i]->recovery_owned = true;  // the first recovery, scheduled below
  }
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
  if (internal_->shutdown_hook) internal_->shutdown_hook();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  // Validations can schedule recoveries, and recoveries validations. Stop
  // validating (a running check finishes), let every recovery queued or
  // running finish (a cell found damaged is restored before the index
  // closes), then stop recovering; each stopped scheduler drops what is
  // scheduled on it later.
  if (validation_ != nullptr) validation_->Stop();
  if (recovery_ != nullptr) {
    recovery_->WaitIdle();
    recovery_->Stop();
  }
  for (auto& slot : slots_) {
    absl::MutexLock lock(&slot->mu);
    if (internal_->close_without_flush && slot->cell != nullptr) slot->cell->CloseWithoutFlush();
    slot->cell.reset();  // seals and syncs the journal, then closes RocksDB
    slot->retiring.reset();
  }
  validation_.reset();
  recovery_.reset();
  if (lock_ != nullptr) {
    (void)internal_->file_system->UnlockFile(lock_, rocksdb::IOOptions(), nullptr);
  }
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

bool Index::ClaimRecovery(size_t i, const Cell* expected) {
  Slot& slot = *slots_[i];
  absl::MutexLock lock(&slot.mu);
  if (slot.recovery_owned) return false;
  if (expected != nullptr && slot.cell.get() != expected) return false;
  slot.recovery_owned = true;
  if (slot.cell != nullptr) --serving_count_;
  slot.retiring = std::move(slot.cell);
  slot.phase = "queued";
  return true;
}

namespace {

// Waits until nothing else holds `cell` (requests in flight), then closes it.
void Drain(std::shared_ptr<Cell> cell) {
  if (cell == nullptr) return;
  while (cell.use_count() > 1) absl::SleepFor(absl::Milliseconds(1));
  cell.reset();
}

}  // namespace

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
  {
    std::shared_ptr<Cell> retiring;
    {
      absl::MutexLock lock(&slot.mu);
      retiring = std::move(slot.retiring);
    }
    Drain(std::move(retiring));  // its RocksDB and journal closed before reopening them
  }
  CellIdentity identity;
  uint64_t epoch;
  {
    absl::MutexLock lock(&map_mu_);
    identity.index_id = map_.index_id();
    identity.range = map_.cells()[i];
    epoch = map_.epoch();
  }
  const CellId id = identity.range.id;
  if (internal_->recovery_hook) internal_->recovery_hook(id, "start");
  CellRecoveryOptions ro;
  ro.fetch_parallelism = options_.fetch_parallelism;
  ro.paranoid = options_.paranoid;
  ro.force_restore = force_restore;
  ro.below_checkpoint = below_checkpoint;
  ro.epoch = epoch;
  ro.checkpoints_to_keep = options_.checkpoints_to_keep;
  ro.on_phase = [this, &slot, id](const char* phase) {
    {
      absl::MutexLock lock(&slot.mu);
      slot.phase = phase;
    }
    if (internal_->recovery_hook) internal_->recovery_hook(id, phase);
  };
  ro.on_failure = [this, i](const Cell* cell, const absl::Status& why) {
    OnCellFailed(i, cell, why);
  };
  Cell::Paths paths;
  paths.db_dir = CellDbDir(i);
  absl::StatusOr<std::string> journal_dir = store_->LocalDir(JournalDirName(id));
  absl::StatusOr<std::string> journal_head = store_->LocalDir(JournalHeadName(id));
  RecoveryReport report;
  absl::StatusOr<std::unique_ptr<Cell>> cell = absl::InternalError("unset");
  if (!journal_dir.ok()) {
    cell = journal_dir.status();
  } else if (!journal_head.ok()) {
    cell = journal_head.status();
  } else {
    paths.journal_dir = *journal_dir;
    paths.journal_head = *journal_head;
    cell = RecoverCell(identity, paths, options_, *resources_, *store_, ro, &report);
  }
  // Before the ownership is given up below, so no other recovery of the
  // cell can have started yet.
  if (internal_->recovery_hook) internal_->recovery_hook(id, "done");
  std::shared_ptr<Cell> serving;
  {
    absl::MutexLock lock(&slot.mu);
    report.time_to_serve = absl::Now() - slot.recovery_start;
    report.fallbacks.insert(report.fallbacks.begin(), slot.carried_fallbacks.begin(),
                            slot.carried_fallbacks.end());
    slot.carried_fallbacks.clear();
    slot.report = report;
    slot.recovery_owned = false;
    if (cell.ok()) {
      serving = std::shared_ptr<Cell>(*std::move(cell));
      slot.cell = serving;
      slot.phase = "serving";
      slot.validation = options_.paranoid                  ? ValidationState::kOk
                        : options_.validate_after_recovery ? ValidationState::kPending
                                                           : ValidationState::kOff;
      ++serving_count_;
    } else {
      slot.phase = "failed";
      slot.error = cell.status();
    }
  }
  if (serving != nullptr) {
    const int64_t since_open = absl::ToInt64Microseconds(absl::Now() - open_start_);
    int64_t unset = -1;
    first_serving_us_.compare_exchange_strong(unset, since_open);
    if (serving_count_.load() == slots_.size()) {
      unset = -1;
      all_serving_us_.compare_exchange_strong(unset, since_open);
    }
    if (!options_.paranoid && options_.validate_after_recovery) {
      // A weak reference: a queued check must not keep a replaced cell open.
      validation_->Schedule(kValidationPriority + id,
                            [this, i, weak = std::weak_ptr<Cell>(serving)] {
                              if (std::shared_ptr<Cell> cell = weak.lock()) ValidateSlot(i, cell);
                            });
    }
  }
}

absl::Status Index::EnsureValidated(size_t i, const std::shared_ptr<Cell>& cell) {
  Slot& slot = *slots_[i];
  {
    absl::MutexLock lock(&slot.mu);
    // Another thread runs it: wait for its verdict (or for the cell to go).
    auto settled = [&slot, &cell]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(slot.mu) {
      return slot.validation != ValidationState::kRunning || slot.cell != cell;
    };
    slot.mu.Await(absl::Condition(&settled));
    if (slot.cell != cell) {
      return absl::UnavailableError(
          absl::StrCat("cell ", cell->range().id, " was taken out of service"));
    }
    switch (slot.validation) {
      case ValidationState::kOk:
      case ValidationState::kOff:
        return absl::OkStatus();
      case ValidationState::kFailed:
        return absl::FailedPreconditionError(absl::StrCat(
            "cell ", cell->range().id, " failed validation and is being restored"));
      case ValidationState::kRunning:
      case ValidationState::kPending:
        break;
    }
    slot.validation = ValidationState::kRunning;
  }
  if (internal_->recovery_hook) internal_->recovery_hook(cell->range().id, "validate");
  const absl::Time start = absl::Now();
  uint64_t checked = 0;
  absl::Status s = cell->Validate(&checked);
  uint64_t below = UINT64_MAX;
  {
    absl::MutexLock lock(&slot.mu);
    slot.report.validate_time = absl::Now() - start;
    slot.report.records_validated = checked;
    slot.validation = s.ok() ? ValidationState::kOk : ValidationState::kFailed;
    if (s.ok()) return s;
    if (slot.cell != cell) return s;
    slot.carried_fallbacks.push_back(
        absl::StrCat(slot.report.source, " ", slot.report.checkpoint_seq, ": ", s.message()));
    if (slot.report.source == "checkpoint") below = slot.report.checkpoint_seq;
  }
  // The state does not hold: out of service, and back from an older
  // checkpoint (or, for local state, the newest one), unless a recovery of
  // the cell is already under way.
  if (ClaimRecovery(i, cell.get())) ScheduleRecovery({i}, /*force_restore=*/true, below);
  return absl::FailedPreconditionError(
      absl::StrCat("cell ", cell->range().id, " failed validation and is being restored: ",
                   s.message()));
}

void Index::ValidateSlot(size_t i, const std::shared_ptr<Cell>& cell) {
  {
    absl::MutexLock lock(&slots_[i]->mu);
    if (slots_[i]->cell != cell || slots_[i]->validation != ValidationState::kPending) return;
  }
  (void)EnsureValidated(i, cell);
}

void Index::OnCellFailed(size_t i, const Cell* cell, const absl::Status& why) {
  // Called on a request's thread: the restart runs on the scheduler.
  const bool damage = absl::IsDataLoss(why);
  recovery_->Schedule(PriorityOf(map_.cells()[i].id), [this, i, cell, why, damage] {
    {
      absl::MutexLock lock(&slots_[i]->mu);
      if (slots_[i]->cell.get() != cell) return;
      slots_[i]->carried_fallbacks.push_back(
          absl::StrCat(damage ? "damaged while serving: " : "failed while serving: ",
                       why.message()));
    }
    if (!ClaimRecovery(i, cell)) return;
    {
      absl::MutexLock lock(&slots_[i]->mu);
      slots_[i]->recovery_start = absl::Now();
      slots_[i]->error = absl::OkStatus();
    }
    // Damage: the local state is moved aside and the cell restored from the
    // store. Anything else (a journal that failed to sync): reopened, so
    // the journal is read back from what is durable.
    RecoverSlot(i, /*force_restore=*/damage, UINT64_MAX);
  });
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
        // Errors are kept in the slot; a cell still validating is skipped.
        (void)CheckpointSlot(i, /*wait_for_validation=*/false);
      }
    }
    ++checkpoint_loop_passes_;
    bg_mu_.Lock();
  }
}

absl::StatusOr<CheckpointReport> Index::CheckpointSlot(size_t i, bool wait_for_validation) {
  absl::StatusOr<std::shared_ptr<Cell>> cell = ServingCell(i);
  if (!cell.ok()) return cell.status();
  Slot& slot = *slots_[i];
  // Never checkpoint a state that has not passed validation: damage would
  // become the newest checkpoint.
  if (wait_for_validation) {
    if (absl::Status v = EnsureValidated(i, *cell); !v.ok()) return v;
  } else {
    absl::MutexLock lock(&slot.mu);
    if (slot.validation != ValidationState::kOk && slot.validation != ValidationState::kOff) {
      return absl::FailedPreconditionError(absl::StrCat("cell ", (*cell)->range().id,
                                                        " is not validated yet (",
                                                        ValidationStateName(slot.validation), ")"));
    }
  }
  absl::MutexLock checkpoint_lock(&slot.checkpoint_mu);
  uint64_t epoch;
  {
    absl::MutexLock lock(&map_mu_);
    epoch = map_.epoch();
  }
  absl::StatusOr<CheckpointReport> r =
      TakeCheckpoint(**cell, *store_, epoch, options_.checkpoints_to_keep);
  // DataLoss here is local damage (a file that no longer matches what
  // RocksDB wrote): the cell is restored from the store.
  if (absl::IsDataLoss(r.status())) (*cell)->ReportDamage(r.status());
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
  bool found = false;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (cell.has_value() && map_.cells()[i].id != *cell) continue;
    found = true;
    absl::StatusOr<CheckpointReport> r = CheckpointSlot(i, /*wait_for_validation=*/true);
    if (r.ok()) {
      out.push_back(*r);
    } else if (first_error.ok()) {
      first_error = r.status();
    }
  }
  if (cell.has_value() && !found) {
    return absl::InvalidArgumentError(absl::StrCat("no cell ", *cell));
  }
  if (!first_error.ok()) return first_error;
  return out;
}

absl::StatusOr<std::vector<CellId>> Index::LoseHosts(const std::vector<std::string>& hosts) {
  rocksdb::FileSystem& fs = *internal_->file_system;
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
    const std::string store = NormalPath(fs, options_.store_dir);
    for (const std::string& dir : dirs) {
      if (Within(store, NormalPath(fs, dir))) {
        return absl::FailedPreconditionError(
            absl::StrCat("the store ", store, " lies in host directory ", dir));
      }
    }
    for (size_t i = 0; i < map_.cells().size(); ++i) {
      if (gone.count(map_.cells()[i].host)) lost.push_back(i);
    }
  }
  // Own each lost cell's next recovery: wait for one under way (it may be
  // writing into the directory about to vanish), then take the cell out.
  for (size_t i : lost) {
    Slot& slot = *slots_[i];
    std::shared_ptr<Cell> old;
    {
      absl::MutexLock lock(&slot.mu);
      slot.mu.Await(absl::Condition(
          +[](Slot* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->recovery_owned; }, &slot));
      slot.recovery_owned = true;
      if (slot.cell != nullptr) --serving_count_;
      old = std::move(slot.cell);
      slot.phase = "queued";
    }
    Drain(std::move(old));  // closed before its directory goes
  }
  for (const std::string& dir : dirs) {
    if (absl::Status s = RemoveAll(fs, dir); !s.ok()) return s;
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
    if (absl::Status s = SaveCellMap(fs, options_.store_dir + "/" + kCellMapFile, map_); !s.ok()) {
      return s;
    }
  }
  ScheduleRecovery(lost, /*force_restore=*/true, UINT64_MAX);
  return moved;
}

CellId Index::CellFor(const ObjectKey& key) const {
  return map_.cells()[map_.Route(EncodeKey(key))].id;
}

CellMap Index::cell_map() const {
  absl::MutexLock lock(&map_mu_);
  return map_;
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
  s.checkpoint_loop_passes = checkpoint_loop_passes_.load();
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
      c.validation = ValidationStateName(slot.validation);
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
