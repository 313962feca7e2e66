#include "tools/drill.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"
#include "rocksdb/file_system.h"
#include "tools/bulk_load.h"
#include "tools/command_util.h"
#include "tools/drill_internal.h"
#include "tools/drill_page.h"
#include "tools/exit_codes.h"
#include "tools/progress.h"

namespace cellindex::tools {

std::shared_ptr<Index> IndexHolder::Get() {
  absl::MutexLock lock(&mu_);
  return index_;
}

void IndexHolder::Set(std::shared_ptr<Index> index) {
  absl::MutexLock lock(&mu_);
  index_ = std::move(index);
}

void IndexHolder::Close() {
  std::shared_ptr<Index> old;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(index_);
  }
  while (old != nullptr && old.use_count() > 1) absl::SleepFor(absl::Milliseconds(1));
}

Drill::~Drill() { StopWorkers(); }

absl::Status Drill::SetUp() {
  if (absl::Status s = RemoveAll(*rocksdb::FileSystem::Default(), d_.dir); !s.ok()) return s;
  options_.data_dir = d_.dir;
  options_.store_dir = d_.dir + "/store";
  for (int h = 0; h < d_.hosts; ++h) {
    options_.host_dirs[absl::StrCat("h", h)] = absl::StrCat(d_.dir, "/hosts/h", h);
  }
  options_.num_cells = d_.cells;
  options_.boundary_sample = workload_.Sample(std::max<uint64_t>(4096, d_.cells * 64));
  options_.durability = Durability::kSync;
  options_.background_checkpoints = false;  // the drill checkpoints once, explicitly
  options_.recovery_parallelism = d_.recovery_parallelism;
  options_.paranoid = d_.paranoid;
  options_.restore_mode = d_.restore_mode;
  options_.validate_after_recovery = !d_.paranoid;
  if (d_.split_keys > 0) {
    // Cells split as the load grows them (checked often, so that the splits
    // happen during the load, not after it).
    options_.split_keys = d_.split_keys;
    options_.split_bytes = 0;
    options_.merge_keys = 0;
    options_.resize_check_interval = absl::Milliseconds(100);
  }
  absl::StatusOr<std::unique_ptr<Index>> opened = Index::Open(options_);
  if (!opened.ok()) return opened.status();
  holder_.Set(std::shared_ptr<Index>(*std::move(opened)));
  acked_.resize(d_.writers);
  acked_keys_.resize(d_.writers);
  return absl::OkStatus();
}

absl::Status Drill::Load() {
  const absl::Time start = absl::Now();
  std::atomic<uint64_t> retries{0};
  const absl::Status load_status =
      BulkLoadWithProgress(*holder_.Get(), workload_, 0, d_.objects, 0, &retries);
  r_.load_time = absl::Now() - start;
  r_.load_retries = retries.load();
  r_.cells_created = static_cast<size_t>(d_.cells);
  r_.cells_after_load = holder_.Get()->cell_map().cells().size();
  return load_status;
}

absl::Status Drill::CheckpointAll() {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<CheckpointReport>> reports = holder_.Get()->Checkpoint();
  // A cell the load's last split still holds (its children not yet open)
  // is Unavailable for a moment: asked again, as the loader does, with
  // backoff (the cells already done are not copied again).
  const absl::Time give_up = absl::Now() + kLoadRetryFor;
  absl::Duration backoff = absl::Milliseconds(10);
  while (absl::IsUnavailable(reports.status()) && absl::Now() + backoff < give_up) {
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(1));
    reports = holder_.Get()->Checkpoint();
  }
  if (!reports.ok()) return reports.status();
  for (const CheckpointReport& c : *reports) r_.checkpoint_bytes += c.bytes_copied;
  r_.checkpoint_time = absl::Now() - start;
  return absl::OkStatus();
}

void Drill::Classify(const absl::Status& s, CellId cell) {
  if (timeline_ != nullptr) {
      timeline_->Count(s.ok() || absl::IsNotFound(s) ? RequestOutcome::kOk
                     : absl::IsUnavailable(s)      ? RequestOutcome::kUnavailable
                                                   : RequestOutcome::kError);
  }
  if (!measuring_.load()) return;
  bool lost;
  {
    absl::MutexLock lock(&lost_mu_);
    lost = lost_cells_.contains(cell);
  }
  if (s.ok() || absl::IsNotFound(s)) {
    ++outcomes_.ok;
    if (!lost) ++outcomes_.healthy_ok;
  } else if (absl::IsUnavailable(s)) {
    ++outcomes_.unavailable;
    if (!lost) ++outcomes_.healthy_failed;
  } else {
    ++outcomes_.errors;
    if (!lost) ++outcomes_.healthy_failed;
  }
}

void Drill::NoIndex() {
  if (timeline_ != nullptr) timeline_->Count(RequestOutcome::kUnavailable);
  if (measuring_.load()) ++outcomes_.unavailable;
}

void Drill::Sampler() {
  while (!stop_.load()) {
    if (std::shared_ptr<Index> index = holder_.Get(); index != nullptr) {
      const IndexStats stats = index->Stats();
      timeline_->Sample(stats, absl::Now());  // stamped after the stats were read
    }
    absl::SleepFor(absl::Milliseconds(10));  // the sampling period
  }
}

// Puts new objects and overwrites loaded ones (its own keys only, so its
// acks give each key's last state).
void Drill::Writer(int w) {
  std::mt19937_64 rng(w + 1);
  for (uint64_t n = 0; !stop_.load(); ++n) {
    // Alternate: a new object, an overwrite of a loaded one.
    const uint64_t i = n % 2 == 0 ? d_.objects + n / 2 * d_.writers + w
                                  : (rng() % std::max<uint64_t>(1, d_.objects / d_.writers)) *
                                            d_.writers + w;
    ObjectKey key = workload_.Key(i);
    ObjectRecord rec = workload_.Record(i);
    rec.etag = absl::StrFormat("\"drill-%d-%d\"", w, n);
    std::shared_ptr<Index> index = holder_.Get();
    if (index == nullptr) {
      NoIndex();
      absl::SleepFor(absl::Milliseconds(1));
      continue;
    }
    absl::StatusOr<uint64_t> v = index->Put(key, rec);
    Classify(v.status(), index->CellFor(key));
    if (v.ok()) {
      ++writes_acked_;
      auto [it, inserted] = acked_[w].try_emplace(EncodeKey(key), AckedWrite{*v, rec.etag});
      if (inserted) {
        acked_keys_[w].push_back(key);
      } else {
        it->second = {*v, rec.etag};
      }
    } else if (absl::IsUnavailable(v.status())) {
      absl::SleepFor(absl::Microseconds(200));  // back off, as a client would
    }
  }
}

// Gets loaded objects.
void Drill::Reader(int r) {
  std::mt19937_64 rng(1000 + r);
  while (!stop_.load()) {
    const ObjectKey key = workload_.Key(rng() % d_.objects);
    std::shared_ptr<Index> index = holder_.Get();
    if (index == nullptr) {
      NoIndex();
      absl::SleepFor(absl::Milliseconds(1));
      continue;
    }
    absl::Status s = index->Get(key).status();
    Classify(s, index->CellFor(key));
    if (absl::IsUnavailable(s)) absl::SleepFor(absl::Microseconds(200));
  }
}

void Drill::StartWorkers() {
  // The timeline (and its sampler) only for a report: it costs every
  // request a lock, and the drill's figures should not pay for it.
  if (!d_.report_dir.empty()) {
    timeline_ = std::make_unique<DrillTimeline>(absl::Now());
    workers_.emplace_back([this] { Sampler(); });
  }
  for (int w = 0; w < d_.writers; ++w) workers_.emplace_back([this, w] { Writer(w); });
  for (int r = 0; r < d_.readers; ++r) workers_.emplace_back([this, r] { Reader(r); });
}

void Drill::StopWorkers() {
  measuring_ = false;
  stop_ = true;
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

absl::Status Drill::LoseHosts() {
  const CellMap map = holder_.Get()->cell_map();
  measuring_ = true;
  if (d_.all) {
    for (const CellRange& c : map.cells()) r_.recovering.push_back(c.id);
    {
      absl::MutexLock lock(&lost_mu_);
      lost_cells_.insert(r_.recovering.begin(), r_.recovering.end());
    }
    const absl::Time close_start = absl::Now();
    holder_.Close();
    r_.close_time = absl::Now() - close_start;
    for (const auto& [host, dir] : options_.host_dirs) {
      r_.lost_hosts.push_back(host);
      if (absl::Status s = RemoveAll(*rocksdb::FileSystem::Default(), dir); !s.ok()) return s;
    }
    r_.first_available = absl::InfiniteDuration();
    const absl::Time loss_start = absl::Now();
    if (timeline_ != nullptr) timeline_->AddMark("cold start: every host lost", loss_start);
    Options cold = options_;
    cold.wait_for_recovery = false;
    absl::StatusOr<std::unique_ptr<Index>> reopened = Index::Open(cold);
    if (!reopened.ok()) return reopened.status();
    holder_.Set(std::shared_ptr<Index>(*std::move(reopened)));
    loss_start_ = loss_start;
    return absl::OkStatus();
  }
  std::shared_ptr<Index> index = holder_.Get();
  for (int h = 0; h < d_.lose; ++h) r_.lost_hosts.push_back(absl::StrCat("h", h));
  for (const CellRange& c : map.cells()) {
    if (std::find(r_.lost_hosts.begin(), r_.lost_hosts.end(), c.host) != r_.lost_hosts.end()) {
      absl::MutexLock lock(&lost_mu_);
      lost_cells_.insert(c.id);
    }
  }
  loss_start_ = absl::Now();
  if (timeline_ != nullptr) {
    timeline_->AddMark(absl::StrCat("lost ", absl::StrJoin(r_.lost_hosts, ", ")), loss_start_);
  }
  absl::StatusOr<std::vector<CellId>> moved = index->LoseHosts(r_.lost_hosts);
  if (!moved.ok()) return moved.status();
  r_.recovering = *moved;
  return absl::OkStatus();
}

void Drill::AwaitRecovery() {
  Progress progress("recovering cells", r_.recovering.size());
  std::shared_ptr<Index> index = holder_.Get();
  while (true) {
    size_t serving = 0, failed = 0;
    IndexStats s = index->Stats();
    for (CellId id : r_.recovering) {
      // A cell split or merged since serves as its children.
      const CellStats* c = CellById(s, id);
      if (c == nullptr || c->state == CellPhase::kServing) ++serving;
      if (c != nullptr && c->state == CellPhase::kFailed) ++failed;
    }
    const absl::Time now = absl::Now();
    if (serving > 0 && r_.first_available == absl::InfiniteDuration()) {
      r_.first_available = now - loss_start_;
      if (timeline_ != nullptr) timeline_->AddMark("first cell back", now);
    }
    progress.Update(serving);
    if (serving + failed == r_.recovering.size()) {
      r_.full_available = now - loss_start_;
      if (timeline_ != nullptr) timeline_->AddMark("all cells back", now);
      break;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
}

void Drill::AwaitValidation() {
  std::shared_ptr<Index> index = holder_.Get();
  index->WaitForRecovery();
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (true) {
    r_.stats = index->Stats();
    bool pending = false;
    for (CellId id : r_.recovering) {
      const CellStats* c = CellById(r_.stats, id);
      const ValidationState v = c != nullptr ? c->validation : ValidationState::kOk;
      pending |= v == ValidationState::kPending || v == ValidationState::kRunning;
    }
    if (!pending || absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  r_.writes_acked = writes_acked_.load();
}

// Reads back every acknowledged write: the load, then the drill's.
void Drill::Verify() {
  std::shared_ptr<Index> index = holder_.Get();
  auto note_lost = [&](const ObjectKey& key, const std::string& why) {
    ++r_.lost;
    if (r_.lost_examples.size() < 5) {
      r_.lost_examples.push_back(absl::StrCat(key.bucket, "/", key.key, ": ", why));
    }
  };
  absl::flat_hash_set<std::string> overwritten;
  for (const auto& per_writer : acked_) {
    for (const auto& [encoded, a] : per_writer) overwritten.insert(encoded);
  }
  const absl::Time start = absl::Now();
  Progress progress("verifying acknowledged writes", d_.objects + overwritten.size());
  for (uint64_t i = 0; i < d_.objects; ++i) {
    const ObjectKey key = workload_.Key(i);
    if (overwritten.contains(EncodeKey(key))) continue;
    absl::StatusOr<ObjectRecord> got = index->Get(key);
    ObjectRecord want = workload_.Record(i);
    if (!got.ok()) {
      note_lost(key, got.status().ToString());
    } else {
      want.version = got->version;
      if (!(*got == want)) note_lost(key, "record differs");
    }
    progress.Update(++r_.checked);
  }
  for (int w = 0; w < d_.writers; ++w) {
    for (const ObjectKey& key : acked_keys_[w]) {
      const AckedWrite& a = acked_[w].at(EncodeKey(key));
      absl::StatusOr<ObjectRecord> got = index->Get(key);
      if (!got.ok()) {
        note_lost(key, got.status().ToString());
      } else if (got->version != a.version || got->etag != a.etag) {
        note_lost(key, absl::StrCat("version ", got->version, " etag ", got->etag,
                                    ", acknowledged ", a.version, " ", a.etag));
      }
      progress.Update(++r_.checked);
    }
  }
  r_.verify_time = absl::Now() - start;
}

int RunDrill(const DrillOptions& d) {
  if (d.hosts < 2 && !d.all) {
    std::cerr << "cellindex: drill needs at least 2 hosts (or --all)\n";
    return kExitInvalid;
  }
  if (!d.all && (d.lose < 1 || d.lose >= d.hosts)) {
    std::cerr << "cellindex: --lose must be between 1 and hosts - 1 (" << d.hosts - 1
              << "); use --all for a cold start\n";
    return kExitInvalid;
  }
  if (!d.report_dir.empty()) {
    // Compared with symlinks resolved, as the drill's wipe would follow them.
    std::error_code ec1, ec2;
    const std::filesystem::path report = std::filesystem::weakly_canonical(d.report_dir, ec1);
    const std::filesystem::path drill_dir = std::filesystem::weakly_canonical(d.dir, ec2);
    if (ec1 || ec2) {
      return ReportError(absl::InvalidArgumentError(absl::StrCat(
          "--report ", d.report_dir, ": ", (ec1 ? ec1 : ec2).message())));
    }
    if (PathWithin(report.string(), drill_dir.string())) {
      return ReportError(absl::InvalidArgumentError(absl::StrCat(
          "--report ", d.report_dir, " lies inside the drill's directory ", d.dir,
          ", which the drill wipes: choose a directory outside it")));
    }
    // Made now, so that a directory that cannot be written fails before
    // the drill, not after it.
    if (absl::Status s = CreateDirs(*rocksdb::FileSystem::Default(), d.report_dir); !s.ok()) {
      return ReportError(s);
    }
  }
  Drill drill(d);
  if (absl::Status s = drill.SetUp(); !s.ok()) return ReportError(s);
  if (absl::Status s = drill.Load(); !s.ok()) return ReportError(s);
  if (absl::Status s = drill.CheckpointAll(); !s.ok()) return ReportError(s);
  drill.StartWorkers();
  absl::SleepFor(d.before);
  if (absl::Status s = drill.LoseHosts(); !s.ok()) return ReportError(s);
  drill.AwaitRecovery();
  absl::SleepFor(d.after);
  drill.StopWorkers();
  drill.AwaitValidation();
  drill.Verify();
  ReportDrill(d, drill.result(), drill.outcomes());
  // A report that cannot be written is said, but never hides a data loss.
  int report_code = kExitOk;
  if (!d.report_dir.empty()) {
    if (absl::Status s = WriteDrillReport(d.report_dir, d, drill.result(), drill.outcomes(),
                                          drill.timeline()->Get());
        !s.ok()) {
      report_code = ReportError(s);
    }
  }
  size_t failed_cells = 0;
  for (CellId id : drill.result().recovering) {
    const CellStats* c = CellById(drill.result().stats, id);
    failed_cells += c != nullptr && c->state == CellPhase::kFailed;
  }
  if (drill.result().lost > 0 || failed_cells > 0) return kExitDataLoss;
  if (report_code != kExitOk) return report_code;
  return drill.outcomes().errors > 0 ? kExitOther : kExitOk;
}

}  // namespace cellindex::tools
