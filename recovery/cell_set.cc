#include "recovery/cell_set.h"

#include <algorithm>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "index/model/write_batch.h"
#include "recovery/cell_recovery.h"
#include "recovery/checkpoint.h"
#include "recovery/store/layout.h"

namespace cellindex {
namespace {

// Validation runs after every recovery, behind it.
constexpr int64_t kValidationPriority = int64_t{1} << 40;

// Waits until nothing else holds `cell` (requests in flight), then closes it.
void Drain(std::shared_ptr<Cell> cell) {
  if (cell == nullptr) return;
  while (cell.use_count() > 1) absl::SleepFor(absl::Milliseconds(1));
  cell.reset();
}

}  // namespace

const char* RecoveryEventName(RecoveryEvent event) {
  switch (event) {
    case RecoveryEvent::kStart:
      return "start";
    case RecoveryEvent::kFetch:
      return "fetch";
    case RecoveryEvent::kVerify:
      return "verify";
    case RecoveryEvent::kOpen:
      return "open";
    case RecoveryEvent::kReplay:
      return "replay";
    case RecoveryEvent::kValidate:
      return "validate";
    case RecoveryEvent::kDone:
      return "done";
  }
  return "unknown";
}

// What the set knows about one cell, whether or not it serves.
struct CellSet::Slot {
  mutable absl::Mutex mu;
  std::shared_ptr<Cell> cell ABSL_GUARDED_BY(mu);  // set while serving
  CellPhase phase ABSL_GUARDED_BY(mu) = CellPhase::kQueued;
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
  absl::Time serving_since ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  // A move (Move) holds the cell: requests wait for it instead of failing.
  bool held ABSL_GUARDED_BY(mu) = false;
  absl::Duration hold_timeout ABSL_GUARDED_BY(mu);
  uint64_t checkpoints_taken ABSL_GUARDED_BY(mu) = 0;
  uint64_t last_checkpoint_seq ABSL_GUARDED_BY(mu) = 0;
  absl::Time last_checkpoint_time ABSL_GUARDED_BY(mu);
  std::string last_checkpoint_error ABSL_GUARDED_BY(mu);
  // Replaced by the cells a split or merge made of it: never serves again.
  bool retired ABSL_GUARDED_BY(mu) = false;
  // Deps::adopt_only: not adopted (yet), so not served here.
  bool away ABSL_GUARDED_BY(mu) = false;
  // One checkpoint of the cell at a time.
  absl::Mutex checkpoint_mu;
};

CellSet::CellSet(const std::vector<CellId>& ids, Deps deps, absl::Time open_start)
    : deps_(std::move(deps)), open_start_(open_start) {
  const size_t n = ids.size();
  {
    absl::MutexLock lock(&slots_mu_);
    for (CellId id : ids) slots_[id] = std::make_unique<Slot>();
  }
  for (CellId id : ids) {
    Slot& slot = SlotOf(id);
    absl::MutexLock slot_lock(&slot.mu);
    slot.away = deps_.adopt_only;
  }
  live_count_ = n;
  const Options& o = *deps_.options;
  const int parallelism =
      o.recovery_parallelism > 0
          ? o.recovery_parallelism
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  recovery_ = std::make_unique<RecoveryScheduler>(
      std::min<int>(parallelism, std::max<size_t>(n, 1)), "ci-recovery");
  validation_ = std::make_unique<RecoveryScheduler>(1, "ci-validation");
  if (o.restore_copy_bytes_per_sec > 0) {
    copy_limiter_.reset(
        rocksdb::NewGenericRateLimiter(static_cast<int64_t>(o.restore_copy_bytes_per_sec)));
  }
}

CellSet::~CellSet() {
  Stop();
  CloseAll(/*flush=*/true);
}

void CellSet::Stop() {
  validation_->Stop();
  recovery_->WaitIdle();
  recovery_->Stop();
}

CellSet::Slot* CellSet::FindSlot(CellId id) const {
  absl::ReaderMutexLock lock(&slots_mu_);
  auto it = slots_.find(id);
  return it == slots_.end() ? nullptr : it->second.get();
}

CellSet::Slot& CellSet::SlotOf(CellId id) const {
  Slot* slot = FindSlot(id);
  if (slot == nullptr) {
    fprintf(stderr, "cellindex: internal error: no slot for cell %u\n", id);
    abort();
  }
  return *slot;
}

std::vector<CellId> CellSet::Ids() const {
  std::vector<CellId> ids;
  {
    absl::ReaderMutexLock lock(&slots_mu_);
    for (const auto& [id, slot] : slots_) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::remove_if(ids.begin(), ids.end(), [this](CellId id) { return Retired(id); }),
            ids.end());
  return ids;
}

bool CellSet::Retired(CellId id) const {
  Slot* slot = FindSlot(id);
  if (slot == nullptr) return false;
  absl::MutexLock lock(&slot->mu);
  return slot->retired;
}

void CellSet::AddSlots(const std::vector<CellId>& ids, bool held, absl::Duration hold_timeout) {
  for (CellId id : ids) {
    // A slot is never destroyed (a request may hold a reference): one left
    // retired by a replacement that failed to commit is taken up again.
    // (Never a slot's lock under slots_mu_: slots_mu_ is taken under them.)
    Slot* slot = nullptr;
    {
      absl::MutexLock lock(&slots_mu_);
      std::unique_ptr<Slot>& owned = slots_[id];
      if (owned == nullptr) owned = std::make_unique<Slot>();
      slot = owned.get();
    }
    absl::MutexLock slot_lock(&slot->mu);
    slot->retired = false;
    slot->phase = CellPhase::kQueued;
    slot->error = absl::OkStatus();
    slot->report = RecoveryReport();
    slot->validation = ValidationState::kOff;
    slot->carried_fallbacks.clear();
    slot->serving_since = absl::InfinitePast();
    slot->checkpoints_taken = 0;
    slot->last_checkpoint_seq = 0;
    slot->last_checkpoint_time = absl::Time();
    slot->last_checkpoint_error.clear();
    slot->recovery_start = absl::Now();
    slot->recovery_owned = true;
    slot->held = held;
    slot->hold_timeout = hold_timeout;
    ++live_count_;
  }
}

void CellSet::Retire(const std::vector<CellId>& ids) {
  for (CellId id : ids) {
    Slot& slot = SlotOf(id);
    absl::MutexLock lock(&slot.mu);
    slot.retired = true;
    slot.held = false;
    slot.recovery_owned = false;
    --live_count_;
  }
}

void CellSet::CloseAll(bool flush) {
  std::vector<Slot*> all;
  {
    absl::ReaderMutexLock lock(&slots_mu_);
    for (auto& [id, slot] : slots_) all.push_back(slot.get());
  }
  for (Slot* slot : all) {
    absl::MutexLock lock(&slot->mu);
    if (!flush && slot->cell != nullptr) slot->cell->CloseWithoutFlush();
    slot->cell.reset();  // seals and syncs the journal, then closes RocksDB
    slot->retiring.reset();
  }
}

void CellSet::Event(CellId id, RecoveryEvent event) const {
  if (deps_.on_event) deps_.on_event(id, event);
}

int64_t CellSet::PriorityOf(CellId id) const {
  const auto& p = deps_.options->recovery_priority;
  auto it = std::find(p.begin(), p.end(), id);
  if (it != p.end()) return it - p.begin();
  return static_cast<int64_t>(p.size()) + id;
}

void CellSet::RecoverAll(bool force_restore) {
  const std::vector<CellId> all = Ids();
  for (CellId i : all) {
    absl::MutexLock lock(&SlotOf(i).mu);
    SlotOf(i).recovery_owned = true;  // the first recovery
  }
  ScheduleRecovery(all, force_restore, UINT64_MAX, /*after_damage=*/false);
}

absl::Status CellSet::Adopt(CellId id) {
  Slot* slot = FindSlot(id);
  if (slot == nullptr) return absl::NotFoundError(absl::StrCat("no cell ", id));
  {
    absl::MutexLock lock(&slot->mu);
    if (slot->retired) return absl::NotFoundError(absl::StrCat("cell ", id, " was retired"));
    if (!slot->away) return absl::OkStatus();
    slot->away = false;
    slot->recovery_owned = true;
  }
  ScheduleRecovery({id}, /*force_restore=*/true, UINT64_MAX, /*after_damage=*/false);
  return absl::OkStatus();
}

void CellSet::Release(CellId id) {
  Slot* slot = FindSlot(id);
  if (slot == nullptr) return;
  {
    absl::MutexLock lock(&slot->mu);
    if (slot->away || slot->retired) return;
  }
  TakeOver({id});
  absl::MutexLock lock(&slot->mu);
  slot->away = true;
  slot->recovery_owned = false;
  slot->error = absl::OkStatus();
  slot->serving_since = absl::InfinitePast();
}

void CellSet::FollowMap(const std::vector<CellId>& added, const std::vector<CellId>& removed) {
  std::vector<CellId> retire;
  for (CellId id : removed) {
    Slot* slot = FindSlot(id);
    if (slot == nullptr || Retired(id)) continue;
    Release(id);
    retire.push_back(id);
  }
  Retire(retire);
  std::vector<CellId> fresh;
  for (CellId id : added) {
    if (FindSlot(id) == nullptr || Retired(id)) fresh.push_back(id);
  }
  AddSlots(fresh, /*held=*/false, absl::ZeroDuration());
  for (CellId id : fresh) {
    Slot& slot = SlotOf(id);
    absl::MutexLock lock(&slot.mu);
    slot.away = true;
    slot.recovery_owned = false;
  }
}

void CellSet::WaitForRecovery() { recovery_->WaitIdle(); }

bool CellSet::ClaimRecovery(CellId i, const Cell* expected) {
  Slot& slot = SlotOf(i);
  absl::MutexLock lock(&slot.mu);
  if (slot.recovery_owned) return false;
  if (expected != nullptr && slot.cell.get() != expected) return false;
  slot.recovery_owned = true;
  if (slot.cell != nullptr) --serving_count_;
  slot.retiring = std::move(slot.cell);
  slot.phase = CellPhase::kQueued;
  return true;
}

void CellSet::TakeOver(const std::vector<CellId>& cells) {
  std::vector<std::shared_ptr<Cell>> old;
  for (CellId i : cells) {
    Slot& slot = SlotOf(i);
    absl::MutexLock lock(&slot.mu);
    slot.mu.Await(absl::Condition(
        +[](Slot* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->recovery_owned; }, &slot));
    slot.recovery_owned = true;
    if (slot.cell != nullptr) --serving_count_;
    // Its state is about to be deleted: no flush at close (its journal,
    // shipped as it closes, holds every write).
    if (slot.cell != nullptr) slot.cell->CloseWithoutFlush();
    // Nor a validation of it to wait for: it is stopped at its next look.
    if (slot.cell != nullptr) slot.cell->StopValidation();
    old.push_back(std::move(slot.cell));
    slot.phase = CellPhase::kQueued;
  }
  // They wait for their requests (and checkpoint or validation) in flight
  // together, so that the loss waits for the slowest, not for their sum.
  for (;;) {
    bool held = false;
    for (const std::shared_ptr<Cell>& cell : old) held |= cell != nullptr && cell.use_count() > 1;
    if (!held) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  for (std::shared_ptr<Cell>& cell : old) Drain(std::move(cell));
}

void CellSet::ScheduleRecovery(const std::vector<CellId>& cells, bool force_restore,
                               uint64_t below_checkpoint, bool after_damage) {
  std::vector<std::pair<int64_t, std::function<void()>>> tasks;
  for (CellId i : cells) {
    CellId id;
    {
      Slot& slot = SlotOf(i);
      absl::MutexLock lock(&slot.mu);
      slot.phase = CellPhase::kQueued;
      slot.error = absl::OkStatus();
      slot.recovery_start = absl::Now();
    }
    id = deps_.place(i).identity.range.id;
    tasks.emplace_back(PriorityOf(id), [this, i, force_restore, below_checkpoint, after_damage] {
      RecoverSlot(i, force_restore, below_checkpoint, after_damage);
    });
  }
  recovery_->ScheduleAll(std::move(tasks));
}

void CellSet::RecoverSlot(CellId i, bool force_restore, uint64_t below_checkpoint,
                          bool after_damage) {
  Slot& slot = SlotOf(i);
  {
    std::shared_ptr<Cell> retiring;
    {
      absl::MutexLock lock(&slot.mu);
      retiring = std::move(slot.retiring);
    }
    Drain(std::move(retiring));  // its RocksDB and journal closed before reopening them
  }
  const Place place = deps_.place(i);
  const CellId id = place.identity.range.id;
  Event(id, RecoveryEvent::kStart);
  const Options& options = *deps_.options;
  CellRecoveryOptions ro;
  ro.fetch_parallelism = options.fetch_parallelism;
  ro.restore_mode = after_damage ? RestoreMode::kCopy : options.restore_mode;
  ro.copy_limiter = copy_limiter_;
  // The scheduler outlives every cell (they close in ~CellSet, before it).
  ro.wait_for_recoveries = [this](absl::Duration d) { return recovery_->WaitIdleFor(d); };
  ro.paranoid = options.paranoid;
  ro.force_restore = force_restore;
  ro.below_checkpoint = below_checkpoint;
  ro.epoch = place.epoch;
  ro.owner_epoch = place.owner_epoch;
  ro.checkpoints_to_keep = options.checkpoints_to_keep;
  ro.on_phase = [this, &slot, id](CellPhase phase) {
    {
      absl::MutexLock lock(&slot.mu);
      slot.phase = phase;
    }
    switch (phase) {
      case CellPhase::kFetch:
        return Event(id, RecoveryEvent::kFetch);
      case CellPhase::kVerify:
        return Event(id, RecoveryEvent::kVerify);
      case CellPhase::kOpen:
        return Event(id, RecoveryEvent::kOpen);
      case CellPhase::kReplay:
        return Event(id, RecoveryEvent::kReplay);
      case CellPhase::kValidate:
        return Event(id, RecoveryEvent::kValidate);
      default:
        return;
    }
  };
  ro.on_failure = [this, i](const Cell* cell, const absl::Status& why) {
    OnCellFailed(i, cell, why);
  };
  Cell::Paths paths;
  paths.db_dir = place.db_dir;
  absl::StatusOr<std::string> journal_dir = deps_.store->LocalDir(JournalDirName(id));
  absl::StatusOr<std::string> journal_head = deps_.store->LocalDir(JournalHeadName(id));
  RecoveryReport report;
  absl::StatusOr<std::unique_ptr<Cell>> cell = absl::InternalError("unset");
  if (!journal_dir.ok()) {
    cell = journal_dir.status();
  } else if (!journal_head.ok()) {
    cell = journal_head.status();
  } else {
    paths.journal_dir = *journal_dir;
    paths.journal_head = *journal_head;
    cell = RecoverCell(place.identity, paths, options, *deps_.resources, *deps_.store, ro,
                       &report);
  }
  // Before the ownership is given up below, so no other recovery of the
  // cell can have started yet.
  Event(id, RecoveryEvent::kDone);
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
      slot.phase = CellPhase::kServing;
      slot.serving_since = absl::Now();
      slot.validation = options.paranoid                  ? ValidationState::kOk
                        : options.validate_after_recovery ? ValidationState::kPending
                                                          : ValidationState::kOff;
      ++serving_count_;
    } else {
      slot.phase = CellPhase::kFailed;
      slot.error = cell.status();
    }
  }
  if (deps_.on_settled) deps_.on_settled();
  if (serving == nullptr) return;
  const int64_t since_open = absl::ToInt64Microseconds(absl::Now() - open_start_);
  int64_t unset = -1;
  first_serving_us_.compare_exchange_strong(unset, since_open);
  if (serving_count_.load() == live_count_.load()) {
    unset = -1;
    all_serving_us_.compare_exchange_strong(unset, since_open);
  }
  if (!options.paranoid && options.validate_after_recovery) {
    // No reference: a queued check must not keep a replaced cell open.
    // Nor may it take a new reference to a cell taken out of service (a
    // move or split closes it once the references are gone): the cell is
    // taken from the slot, under its lock, only while it still serves.
    validation_->Schedule(kValidationPriority + id, [this, i, raw = serving.get()] {
      std::shared_ptr<Cell> cell;
      {
        Slot& slot = SlotOf(i);
        absl::MutexLock lock(&slot.mu);
        if (slot.cell.get() == raw) cell = slot.cell;
      }
      if (cell != nullptr) ValidateSlot(i, cell);
    });
  }
}

absl::Status CellSet::EnsureValidated(CellId i, const std::shared_ptr<Cell>& cell) {
  Slot& slot = SlotOf(i);
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
  Event(cell->range().id, RecoveryEvent::kValidate);
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
    if (slot.cell != cell) return s;  // taken meanwhile: its recovery owes nothing to this
    slot.carried_fallbacks.push_back(absl::StrCat(RecoverySourceName(slot.report.source), " ",
                                                  slot.report.checkpoint_seq, ": ",
                                                  s.message()));
    if (slot.report.source == RecoverySource::kCheckpoint) below = slot.report.checkpoint_seq;
  }
  // The state does not hold: out of service, and back from an older
  // checkpoint (or, for local state, the newest one), unless a recovery of
  // the cell is already under way.
  if (ClaimRecovery(i, cell.get())) ScheduleRecovery({i}, /*force_restore=*/true, below, /*after_damage=*/true);
  return absl::FailedPreconditionError(
      absl::StrCat("cell ", cell->range().id, " failed validation and is being restored: ",
                   s.message()));
}

void CellSet::ValidateSlot(CellId i, const std::shared_ptr<Cell>& cell) {
  {
    absl::MutexLock lock(&SlotOf(i).mu);
    if (SlotOf(i).cell != cell || SlotOf(i).validation != ValidationState::kPending) return;
  }
  (void)EnsureValidated(i, cell);
}

void CellSet::OnCellFailed(CellId i, const Cell* cell, const absl::Status& why) {
  // Called on a request's thread: the restart runs on the scheduler.
  const bool damage = absl::IsDataLoss(why);
  recovery_->Schedule(PriorityOf(cell->range().id), [this, i, cell, why, damage] {
    {
      absl::MutexLock lock(&SlotOf(i).mu);
      if (SlotOf(i).cell.get() != cell) return;
      SlotOf(i).carried_fallbacks.push_back(absl::StrCat(
          damage ? "damaged while serving: " : "failed while serving: ", why.message()));
    }
    if (!ClaimRecovery(i, cell)) return;
    {
      absl::MutexLock lock(&SlotOf(i).mu);
      SlotOf(i).recovery_start = absl::Now();
      SlotOf(i).error = absl::OkStatus();
    }
    // Damage: the local state is moved aside and the cell restored from the
    // store. Anything else (a journal that failed to sync): reopened, so
    // the journal is read back from what is durable.
    RecoverSlot(i, /*force_restore=*/damage, UINT64_MAX, /*after_damage=*/damage);
  });
}

absl::StatusOr<std::shared_ptr<Cell>> CellSet::Serving(CellId i, bool wait_if_held) const {
  const Slot* found = FindSlot(i);
  if (found == nullptr) {
    return absl::UnavailableError(absl::StrCat("cell ", i, " is not (yet) in the cell map"));
  }
  const Slot& slot = *found;
  absl::Status error;
  CellPhase phase;
  {
    absl::MutexLock lock(&slot.mu);
    if (slot.cell == nullptr && slot.held && wait_if_held) {
      // A move: wait for the cell on its new host.
      auto back = [&slot]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(slot.mu) {
        return slot.cell != nullptr || !slot.held;
      };
      slot.mu.AwaitWithTimeout(absl::Condition(&back), slot.hold_timeout);
    }
    if (slot.cell != nullptr) return slot.cell;
    if (slot.retired) {
      return absl::UnavailableError(
          absl::StrCat("cell ", i, " was split or merged: the cell map has changed"));
    }
    if (slot.away) {
      return MarkNotServedHere(
          absl::UnavailableError(absl::StrCat("cell ", i, " is not served by this host")));
    }
    error = slot.error;
    phase = slot.phase;
  }
  const CellId id = i;
  if (!error.ok()) {
    return absl::Status(error.code(), absl::StrCat("cell ", id, " has failed: ", error.message()));
  }
  return absl::UnavailableError(
      absl::StrCat("cell ", id, " is recovering (phase: ", CellPhaseName(phase), ")"));
}

absl::StatusOr<absl::Duration> CellSet::Move(CellId i,
                                              const std::function<absl::Status()>& switch_place,
                                              absl::Duration hold_timeout,
                                              absl::Mutex* switch_lock) {
  // The checkpoint the target opens from: what it replays is only what is
  // written from now until the hold.
  if (absl::StatusOr<CheckpointReport> c = Checkpoint(i, /*wait_for_validation=*/true); !c.ok()) {
    return c.status();
  }
  Slot& slot = SlotOf(i);
  // Taken before the cell is owned (recovery_owned): one who holds it may
  // wait for this cell's recovery (TakeOver), never the other way round.
  std::optional<absl::MutexLock> switching;
  if (switch_lock != nullptr) switching.emplace(switch_lock);
  std::shared_ptr<Cell> old;
  absl::Time hold_start;
  {
    absl::MutexLock lock(&slot.mu);
    slot.mu.Await(absl::Condition(
        +[](Slot* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->recovery_owned; }, &slot));
    if (slot.cell == nullptr) {
      return absl::UnavailableError(absl::StrCat("cell ", deps_.place(i).identity.range.id,
                                                 " stopped serving before its move"));
    }
    hold_start = absl::Now();
    slot.held = true;
    slot.hold_timeout = hold_timeout;
    slot.recovery_owned = true;
    --serving_count_;
    old = std::move(slot.cell);
    slot.phase = CellPhase::kQueued;
  }
  // Its journal is in the store, so closing it ships the tail; its local
  // state stays behind, so no flush.
  old->CloseWithoutFlush();
  Drain(std::move(old));
  absl::Status switched = switch_place();
  // Restored on the target from the checkpoint (or, if the switch failed,
  // reopened where it was from its local state).
  ScheduleRecovery({i}, /*force_restore=*/switched.ok(), UINT64_MAX, /*after_damage=*/false);
  switching.reset();
  absl::Status result;
  absl::Duration window;
  {
    absl::MutexLock lock(&slot.mu);
    slot.mu.Await(absl::Condition(
        +[](Slot* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->recovery_owned; }, &slot));
    window = absl::Now() - hold_start;
    slot.held = false;
    if (slot.cell == nullptr) {
      result = slot.error.ok() ? absl::UnavailableError("the moved cell does not serve")
                               : slot.error;
    }
  }
  if (!switched.ok()) return switched;
  if (!result.ok()) return result;
  return window;
}

absl::StatusOr<CellSet::ReplaceTimes> CellSet::Replace(
    const std::vector<CellId>& parents, const std::vector<CellId>& children,
    const std::function<absl::Status(const std::vector<uint64_t>& parent_seqs)>& commit,
    absl::Duration hold_timeout) {
  const absl::Time hold_start = absl::Now();
  std::vector<std::shared_ptr<Cell>> held;
  auto unhold = [&] {  // before anything is closed: the parents serve again
    for (size_t k = 0; k < held.size(); ++k) {
      Slot& slot = SlotOf(parents[k]);
      absl::MutexLock lock(&slot.mu);
      slot.cell = std::move(held[k]);
      slot.phase = CellPhase::kServing;
      slot.held = false;
      slot.recovery_owned = false;
      ++serving_count_;
    }
  };
  for (CellId p : parents) {
    Slot& slot = SlotOf(p);
    bool serves = true;
    {
      absl::MutexLock lock(&slot.mu);
      slot.mu.Await(absl::Condition(
          +[](Slot* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->recovery_owned; }, &slot));
      serves = slot.cell != nullptr && !slot.retired;
      if (serves) {
        slot.held = true;
        slot.hold_timeout = hold_timeout;
        slot.recovery_owned = true;
        --serving_count_;
        held.push_back(std::move(slot.cell));
        slot.phase = CellPhase::kQueued;
      }
    }
    if (!serves) {
      unhold();
      return absl::UnavailableError(absl::StrCat("cell ", p, " does not serve"));
    }
  }
  // Closed with a flush once the requests that hold them are done: the
  // local state then holds every write, up to the seq handed to `commit`.
  for (std::shared_ptr<Cell>& cell : held) {
    while (cell.use_count() > 1) absl::SleepFor(absl::Milliseconds(1));
  }
  // A parent that failed meanwhile (a journal write or sync, damage) closes
  // without its memtable: its state is not what it acknowledged. It goes
  // back to the recovery its failure asked for, and nothing is replaced.
  for (size_t k = 0; k < held.size(); ++k) {
    absl::Status failed = held[k]->CheckServing();
    if (failed.ok()) continue;
    // Every parent is owned here: the failed one is recovered as its failure
    // asked (restored after damage, else reopened to replay its journal),
    // the others serve again.
    for (size_t j = 0; j < held.size(); ++j) {
      Slot& slot = SlotOf(parents[j]);
      absl::Status s = held[j]->CheckServing();
      if (s.ok()) {
        absl::MutexLock lock(&slot.mu);
        slot.cell = std::move(held[j]);
        slot.phase = CellPhase::kServing;
        slot.held = false;
        slot.recovery_owned = false;
        ++serving_count_;
        continue;
      }
      const bool damage = absl::IsDataLoss(s);
      {
        absl::MutexLock lock(&slot.mu);
        slot.carried_fallbacks.push_back(absl::StrCat(
            damage ? "damaged while serving: " : "failed while serving: ", s.message()));
        slot.held = false;
      }
      held[j].reset();
      ScheduleRecovery({parents[j]}, /*force_restore=*/damage, UINT64_MAX, /*after_damage=*/damage);
    }
    return absl::UnavailableError(absl::StrCat("cell ", parents[k],
                                               " failed before it could be replaced: ",
                                               failed.message()));
  }
  std::vector<uint64_t> seqs;
  for (std::shared_ptr<Cell>& cell : held) {
    seqs.push_back(cell->Stats().applied_seq);
    cell.reset();
  }
  // Slots for the children before the map names them, so that a request
  // routed on the new map waits for them (held) instead of failing.
  AddSlots(children, /*held=*/true, hold_timeout);
  ReplaceTimes times;
  const absl::Time commit_start = absl::Now();
  times.closing = commit_start - hold_start;
  absl::Status committed = commit(seqs);
  const absl::Time commit_end = absl::Now();
  times.commit = commit_end - commit_start;
  if (absl::Status s = committed; !s.ok()) {
    Retire(children);
    // Reopened where they were, from their local states.
    ScheduleRecovery(parents, /*force_restore=*/false, UINT64_MAX, /*after_damage=*/false);
    for (CellId p : parents) {
      Slot& slot = SlotOf(p);
      absl::MutexLock lock(&slot.mu);
      slot.mu.Await(absl::Condition(
          +[](Slot* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->recovery_owned; }, &slot));
      slot.held = false;
    }
    return s;
  }
  // The map names the children now.
  ScheduleRecovery(children, /*force_restore=*/false, UINT64_MAX, /*after_damage=*/false);
  absl::Status result;
  for (CellId c : children) {
    Slot& slot = SlotOf(c);
    absl::MutexLock lock(&slot.mu);
    slot.mu.Await(absl::Condition(
        +[](Slot* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->recovery_owned; }, &slot));
    slot.held = false;
    if (slot.cell == nullptr && result.ok()) {
      result = slot.error.ok() ? absl::UnavailableError(absl::StrCat("cell ", c, " does not serve"))
                               : slot.error;
    }
  }
  // The parents are gone: what waits on them retries on the new map.
  Retire(parents);
  const absl::Time end = absl::Now();
  times.held = end - hold_start;
  times.opening = end - commit_end;
  if (!result.ok()) return result;
  return times;
}

bool CellSet::Healthy(CellId i, std::string* condition) const {
  const Slot& slot = SlotOf(i);
  absl::MutexLock lock(&slot.mu);
  if (slot.cell == nullptr) {
    *condition = slot.phase == CellPhase::kFailed
                     ? absl::StrCat("failed: ", slot.error.message())
                     : absl::StrCat("recovering, phase ", CellPhaseName(slot.phase));
    return false;
  }
  if (slot.validation == ValidationState::kPending || slot.validation == ValidationState::kRunning ||
      slot.validation == ValidationState::kFailed) {
    *condition = absl::StrCat("validation ", ValidationStateName(slot.validation));
    return false;
  }
  return true;
}

absl::Time CellSet::ServingSince(CellId i) const {
  absl::MutexLock lock(&SlotOf(i).mu);
  return SlotOf(i).serving_since;
}

absl::StatusOr<CheckpointReport> CellSet::Checkpoint(CellId i, bool wait_for_validation) {
  absl::StatusOr<std::shared_ptr<Cell>> cell = Serving(i);
  if (!cell.ok()) return cell.status();
  // A process that may no longer own the cell publishes nothing for it.
  if (deps_.options->may_acknowledge && !deps_.options->may_acknowledge()) {
    return absl::UnavailableError(
        absl::StrCat("cell ", i, ": this host may no longer own it; no checkpoint"));
  }
  Slot& slot = SlotOf(i);
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
  absl::StatusOr<CheckpointReport> r =
      TakeCheckpoint(**cell, *deps_.store, deps_.place(i).epoch,
                     deps_.options->checkpoints_to_keep, deps_.options->may_acknowledge);
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

absl::Time CellSet::LastCheckpointTime(CellId i) const {
  absl::MutexLock lock(&SlotOf(i).mu);
  const absl::Time last = SlotOf(i).last_checkpoint_time;
  return last == absl::Time() ? SlotOf(i).recovery_start : last;
}

CellStats CellSet::Stats(CellId i) const {
  const Slot& slot = SlotOf(i);
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
    live.validation = c.validation;
    live.checkpoints_taken = c.checkpoints_taken;
    live.last_checkpoint_seq = c.last_checkpoint_seq;
    c = std::move(live);
  }
  return c;
}

absl::Duration CellSet::time_to_first_cell() const {
  const int64_t us = first_serving_us_.load();
  return us >= 0 ? absl::Microseconds(us) : absl::ZeroDuration();
}

absl::Duration CellSet::time_to_all_cells() const {
  const int64_t us = all_serving_us_.load();
  return us >= 0 ? absl::Microseconds(us) : absl::ZeroDuration();
}

}  // namespace cellindex
