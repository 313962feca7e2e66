// The status page's writer: a thread that rewrites the page every few
// seconds and whenever the index asks (a change of state).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"
#include "index/index_impl.h"
#include "index/status_page.h"
#include "rocksdb/file_system.h"

namespace cellindex {
namespace {

constexpr size_t kAuditTail = 12;

}  // namespace

absl::Status IndexImpl::StartStatusPage(const std::string& dir, absl::Duration every) {
  rocksdb::FileSystem& fs = *internal_.file_system;
  if (dir.empty()) return absl::InvalidArgumentError("the status directory is empty");
  if (every <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the status page's interval must be positive");
  }
  const std::string page_dir = NormalPath(fs, dir);
  std::vector<std::pair<std::string, std::string>> others = {{"data_dir", options_.data_dir},
                                                             {"the store", options_.store_dir}};
  for (const auto& [host, host_dir] : inventory().hosts) others.emplace_back("host " + host, host_dir);
  for (const auto& [what, other] : others) {
    const std::string o = NormalPath(fs, other);
    if (PathWithin(page_dir, o) || PathWithin(o, page_dir)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "status directory ", page_dir, " overlaps ", what, " (", o,
          "); the page must stay readable when they are gone"));
    }
  }
  if (absl::Status s = CreateDirs(fs, page_dir); !s.ok()) return s;
  {
    absl::MutexLock lock(&status_mu_);
    if (!status_dir_.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the status page is written to ", status_dir_, " already"));
    }
    status_dir_ = page_dir;
    status_every_ = every;
  }
  if (absl::Status s = WriteStatusPage(); !s.ok()) return s;
  status_thread_ = std::thread([this] {
    for (;;) {
      absl::Duration every;
      {
        absl::MutexLock lock(&status_mu_);
        every = status_every_;
        auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(status_mu_) {
          return status_stop_ || status_due_;
        };
        status_mu_.AwaitWithTimeout(absl::Condition(&woken), every);
        if (status_stop_) return;
        status_due_ = false;
      }
      // A failed write (a full disk) is retried at the next tick.
      (void)WriteStatusPage();
    }
  });
  return absl::OkStatus();
}

void IndexImpl::RequestStatusPage() const {
  absl::MutexLock lock(&status_mu_);
  status_due_ = true;
}

void IndexImpl::StopStatusPage() {
  {
    absl::MutexLock lock(&status_mu_);
    status_stop_ = true;
  }
  if (!status_thread_.joinable()) return;
  status_thread_.join();
  (void)WriteStatusPage();  // as the index closes
}

absl::Status IndexImpl::WriteStatusPage() {
  StatusSnapshot s;
  std::string dir;
  {
    absl::MutexLock lock(&status_mu_);
    dir = status_dir_;
    s.rewrite_every = status_every_;
  }
  {
    absl::MutexLock lock(&map_mu_);
    s.index_id = map_.index_id();
    s.inventory = inventory_;
  }
  s.pools = PoolCapacities();
  IndexStats stats = Stats();
  s.epoch = stats.epoch;
  s.cells = std::move(stats.cells);
  absl::StatusOr<std::vector<std::string>> audit = AuditLog();
  if (audit.ok()) {
    const size_t from = audit->size() > kAuditTail ? audit->size() - kAuditTail : 0;
    s.audit_tail.assign(audit->begin() + from, audit->end());
  }
  s.written = absl::Now();
  return AtomicWriteFile(*internal_.file_system, dir + "/" + kStatusPageFile, RenderStatusPage(s));
}

}  // namespace cellindex
