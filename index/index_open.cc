// Opening an index: its options completed and checked, its directories
// checked against each other, the store locked, the cell map loaded (or
// created) and placed on the listed hosts, and the cell set started.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"
#include "index/index.h"
#include "index/index_impl.h"
#include "index/internal_options.h"
#include "recovery/inventory_file.h"
#include "recovery/placement.h"
#include "recovery/store/cell_map_file.h"
#include "recovery/store/layout.h"
#include "rocksdb/file_system.h"

namespace cellindex {
namespace {

constexpr char kDefaultHost[] = "local";

// The requested layout of a new index (or of the one to reopen).
absl::StatusOr<CellMap> RequestedLayout(const Options& o) {
  if (!o.cell_boundaries.empty()) return CellMap::FromBoundaries(o.cell_boundaries);
  if (o.num_cells > 1) {
    if (o.boundary_sample.empty()) {
      return absl::InvalidArgumentError(
          "options.num_cells > 1 needs options.boundary_sample (or give cell_boundaries)");
    }
    std::vector<std::string> sample;
    sample.reserve(o.boundary_sample.size());
    for (const ObjectKey& k : o.boundary_sample) sample.push_back(EncodeKey(k));
    return CellMap::FromSample(std::move(sample), o.num_cells);
  }
  return CellMap::FromBoundaries({});
}

}  // namespace

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
  if (o.split_keys > 0 && o.merge_keys > o.split_keys / 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "options.merge_keys (", o.merge_keys, ") must be at most a quarter of options.split_keys (",
        o.split_keys, "), or merged cells would split again"));
  }
  // RocksDB's rate limiter hands out a tenth of the rate every 100 ms: below
  // 10 bytes a second that is nothing, and a copy could never land.
  if (o.restore_copy_bytes_per_sec > 0 && o.restore_copy_bytes_per_sec < 10) {
    return absl::InvalidArgumentError(absl::StrCat(
        "options.restore_copy_bytes_per_sec (", o.restore_copy_bytes_per_sec,
        ") must be 0 (unpaced) or at least 10"));
  }
  if (o.merge_after < absl::ZeroDuration() || o.resize_check_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "options.merge_after and options.resize_check_interval must not be negative");
  }
  for (const auto& [host, dir] : o.host_dirs) {
    if (host.empty() || dir.empty()) {
      return absl::InvalidArgumentError("options.host_dirs has an empty host name or directory");
    }
  }
  InternalOptions in = internal;
  if (in.file_system == nullptr) in.file_system = rocksdb::FileSystem::Default();
  auto index = std::make_unique<IndexImpl>(std::move(o), std::move(in));
  if (absl::Status s = index->Init(); !s.ok()) return s;
  return index;
}

IndexImpl::IndexImpl(Options options, InternalOptions internal)
    : options_(std::move(options)), internal_(std::move(internal)), open_start_(absl::Now()) {}

IndexImpl::~IndexImpl() {
  StopResizing();
  StopStatusPage();
  if (background_ != nullptr) background_->Stop();
  if (internal_.shutdown_hook) internal_.shutdown_hook();
  if (cells_ != nullptr) {
    cells_->Stop();
    cells_->CloseAll(/*flush=*/!internal_.close_without_flush);
  }
  if (lock_ != nullptr) {
    (void)internal_.file_system->UnlockFile(lock_, rocksdb::IOOptions(), nullptr);
  }
}

absl::Status IndexImpl::CheckDirectories(const std::map<std::string, std::string>& host_dirs) {
  rocksdb::FileSystem& fs = *internal_.file_system;
  std::vector<std::pair<std::string, std::string>> dirs = {{"data_dir", options_.data_dir},
                                                           {"store_dir", options_.store_dir}};
  for (const auto& [host, dir] : host_dirs) dirs.emplace_back("host " + host, dir);
  for (const auto& [what, dir] : dirs) {
    absl::StatusOr<bool> is_dir = IsDirectory(fs, dir);
    if (is_dir.ok() && !*is_dir) {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", dir, " is not a directory"));
    }
  }
  // Losing a host deletes its directory: it must hold neither the store nor
  // another host. (A single host may hold the store: it can never be lost.)
  if (host_dirs.size() < 2) return absl::OkStatus();
  const std::string store = NormalPath(fs, options_.store_dir);
  std::vector<std::pair<std::string, std::string>> hosts;
  for (const auto& [host, dir] : host_dirs) hosts.emplace_back(host, NormalPath(fs, dir));
  for (size_t a = 0; a < hosts.size(); ++a) {
    if (PathWithin(store, hosts[a].second) || PathWithin(hosts[a].second, store)) {
      return absl::InvalidArgumentError(absl::StrCat("host ", hosts[a].first, "'s directory ",
                                                     hosts[a].second, " and the store ", store,
                                                     " overlap; losing the host would lose the store"));
    }
    for (size_t b = 0; b < hosts.size(); ++b) {
      if (a != b && PathWithin(hosts[b].second, hosts[a].second)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "host ", hosts[b].first, "'s directory ", hosts[b].second, " lies in host ",
            hosts[a].first, "'s ", hosts[a].second));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status IndexImpl::Init() {
  rocksdb::FileSystem& fs = *internal_.file_system;
  if (absl::Status s = CheckDirectories(options_.host_dirs); !s.ok()) return s;
  if (absl::Status s = CreateDirs(fs, options_.data_dir); !s.ok()) return s;
  if (absl::Status s = CreateDirs(fs, options_.store_dir); !s.ok()) return s;

  const std::string lock_path = options_.store_dir + "/" + kLockFile;
  if (options_.cluster_member) return InitMember();
  if (rocksdb::IOStatus s = fs.LockFile(lock_path, rocksdb::IOOptions(), &lock_, nullptr);
      !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store ", options_.store_dir, " is in use by another index (", s.ToString(), ")"));
  }
  const std::string mark = options_.store_dir + "/" + kClusterMarkFile;
  // Fails closed: only a mark known to be absent lets a single process in.
  const rocksdb::IOStatus marked = fs.FileExists(mark, rocksdb::IOOptions(), nullptr);
  if (!marked.ok() && !marked.IsNotFound()) {
    return absl::UnavailableError(absl::StrCat("cannot tell whether ", mark,
                                               " exists: ", marked.ToString()));
  }
  if (marked.ok()) {
    if (!options_.leave_cluster) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store ", options_.store_dir, " is served by host processes (`cellindex host`): "
          "use them (--cluster), or, once every host has stopped, open it with "
          "Options::leave_cluster (--leave-cluster)"));
    }
    // The mark goes once every cell is restored from the store (below).
    leaving_cluster_ = true;
  }
  resources_ = std::make_unique<CellResources>(MakeCellResources(options_, internal_.file_system));
  store_ = NewLocalDirStore(&fs, options_.store_dir);

  const bool has_layout = !options_.cell_boundaries.empty() || options_.num_cells > 0;
  absl::StatusOr<CellMap> requested = RequestedLayout(options_);
  if (!requested.ok()) return requested.status();
  {
    absl::MutexLock map_lock(&map_mu_);
    // The hosts: those the options list, else those the store's inventory
    // keeps (hosts added and removed by earlier opens), else one host at
    // data_dir. Pools always come from the store.
    absl::StatusOr<Inventory> kept = LoadInventory(fs, inventory_path());
    if (!kept.ok() && !absl::IsNotFound(kept.status())) return kept.status();
    if (kept.ok()) inventory_ = *std::move(kept);
    const Inventory before = inventory_;
    if (!options_.host_dirs.empty()) {
      inventory_.hosts = options_.host_dirs;
    } else if (inventory_.hosts.empty()) {
      inventory_.hosts[kDefaultHost] = options_.data_dir;
    } else if (absl::Status s = CheckDirectories(inventory_.hosts); !s.ok()) {
      return s;
    }
    const bool save_inventory = !kept.ok() || before.Encode() != inventory_.Encode();
    const std::string map_path = options_.store_dir + "/" + kCellMapFile;
    absl::StatusOr<CellMap> stored = LoadCellMap(fs, map_path);
    bool save_map = false;
    std::vector<std::string> hosts;
    for (const auto& [host, dir] : inventory_.hosts) hosts.push_back(host);
    if (stored.ok()) {
      // A map whose cells have split or merged has outgrown the layout it
      // was created with: the options' layout only checks an unsplit one.
      const bool reshaped = stored->next_cell_id() != stored->cells().size();
      if (has_layout && !reshaped && stored->Boundaries() != requested->Boundaries()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "cell map mismatch: the index in ", options_.store_dir, " has ",
            stored->cells().size(), " cells and the options ask for ", requested->cells().size(),
            " cells or other boundaries; the layout cannot change on reopen"));
      }
      map_ = *std::move(stored);
      if (leaving_cluster_) {
        if (absl::Status s = CheckNoNewerCells(); !s.ok()) return s;
      }
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
      map_.PlaceRoundRobin(hosts);
      save_map = true;
    } else {
      return stored.status();
    }
    // Cells whose host is gone move to the listed hosts with the fewest cells.
    std::vector<size_t> homeless;
    for (size_t i = 0; i < map_.cells().size(); ++i) {
      if (!inventory_.hosts.count(map_.cells()[i].host)) homeless.push_back(i);
    }
    if (!homeless.empty()) {
      PlaceOnLeastLoaded(&map_, homeless, hosts);
      save_map = true;
    }
    if (save_map) {
      if (absl::Status s = SaveCellMap(fs, map_path, map_); !s.ok()) return s;
    }
    if (save_inventory) {
      if (absl::Status s = SaveInventory(fs, inventory_path(), inventory_); !s.ok()) return s;
    }
    last_recovery_start_ = open_start_;
    for (const CellRange& c : map_.cells()) last_recovery_cells_.push_back(c.id);
    PublishMapLocked();
  }
  if (absl::Status s = RemoveStaleCellDirs(); !s.ok()) return s;
  if (absl::Status s = RemoveRetiredCellDirs(); !s.ok()) return s;
  MakeCells(/*adopt_only=*/false);
  // Leaving a cluster, no cell trusts its host directory: it may be a
  // former host's, holding writes its owner journaled after it lost the
  // cell (never acknowledged, and never read from the journal). Every cell
  // restores from the store, and the mark goes only once all serve: a
  // crash before that finds the mark, and the next open leaves again.
  cells_->RecoverAll(/*force_restore=*/leaving_cluster_);
  if (options_.wait_for_recovery || leaving_cluster_) cells_->WaitForRecovery();
  if (leaving_cluster_) {
    std::vector<CellId> ids;
    {
      absl::MutexLock lock(&map_mu_);
      for (const CellRange& c : map_.cells()) ids.push_back(c.id);
    }
    // Serving (a validation after the restore may still be under way).
    bool all_serving = true;
    for (CellId id : ids) all_serving &= cells_->Serving(id, /*wait_if_held=*/false).ok();
    if (all_serving) {
      const std::string mark = options_.store_dir + "/" + kClusterMarkFile;
      if (rocksdb::IOStatus s = fs.DeleteFile(mark, rocksdb::IOOptions(), nullptr); !s.ok()) {
        return absl::InternalError(absl::StrCat("cannot remove ", mark, ": ", s.ToString()));
      }
      if (absl::Status s = SyncDir(fs, options_.store_dir); !s.ok()) return s;
    }
  }
  background_ = std::make_unique<BackgroundWork>(options_, cells_.get());
  StartResizing();
  open_time_ = absl::Now() - open_start_;
  return absl::OkStatus();
}

void IndexImpl::MakeCells(bool adopt_only) {
  std::vector<CellId> ids;
  for (const CellRange& c : map_.cells()) ids.push_back(c.id);
  requests_ = std::make_unique<RequestMetrics>();
  CellSet::Deps deps;
  deps.options = &options_;
  deps.resources = resources_.get();
  deps.store = store_.get();
  deps.place = [this](CellId id) { return PlaceOf(id); };
  deps.on_event = internal_.recovery_hook;
  deps.on_settled = [this] { RequestStatusPage(); };
  deps.adopt_only = adopt_only;
  cells_ = std::make_unique<CellSet>(ids, std::move(deps), open_start_);
}

absl::Status IndexImpl::MarkClusterStore() {
  rocksdb::FileSystem& fs = *internal_.file_system;
  const std::string lock_path = options_.store_dir + "/" + kLockFile;
  // Members do not hold the store's lock, but take it for a moment: a
  // single-process index holding it would write the cells too. Two members
  // starting at once may meet on it: a few tries.
  rocksdb::FileLock* lock = nullptr;
  rocksdb::IOStatus locked;
  for (int tries = 0; tries < 50; ++tries) {
    locked = fs.LockFile(lock_path, rocksdb::IOOptions(), &lock, nullptr);
    if (locked.ok()) break;
    absl::SleepFor(absl::Milliseconds(20));  // another member's moment, or a single index
  }
  if (!locked.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store ", options_.store_dir, " is in use by a single-process index (",
        locked.ToString(), "): a cluster member cannot serve it too"));
  }
  // Marked while locked: a single-process open after this sees the mark.
  const std::string mark = options_.store_dir + "/" + kClusterMarkFile;
  absl::Status s = PathExists(fs, mark)
                       ? absl::OkStatus()
                       : AtomicWriteFile(fs, mark, "served by cluster members (cellindex host)\n");
  (void)fs.UnlockFile(lock, rocksdb::IOOptions(), nullptr);
  return s;
}

absl::Status IndexImpl::InitMember() {
  rocksdb::FileSystem& fs = *internal_.file_system;
  // Other processes share the store: nothing in it is created, placed,
  // saved or removed here, but each adopted cell's own files.
  resources_ = std::make_unique<CellResources>(MakeCellResources(options_, internal_.file_system));
  store_ = NewLocalDirStore(&fs, options_.store_dir);
  {
    absl::MutexLock map_lock(&map_mu_);
    absl::StatusOr<CellMap> stored = LoadCellMap(fs, options_.store_dir + "/" + kCellMapFile);
    if (absl::IsNotFound(stored.status())) {
      return absl::NotFoundError(absl::StrCat(
          "no index in ", options_.store_dir,
          " (a cluster member serves an index made by a single-process open)"));
    }
    if (!stored.ok()) return stored.status();
    map_ = *std::move(stored);
    if (absl::Status s = MarkClusterStore(); !s.ok()) return s;
    // No hosts: every cell adopted here lives in data_dir.
    inventory_.hosts.clear();
    last_recovery_start_ = open_start_;
    PublishMapLocked();
  }
  MakeCells(/*adopt_only=*/true);
  background_ = std::make_unique<BackgroundWork>(options_, cells_.get());
  open_time_ = absl::Now() - open_start_;
  return absl::OkStatus();
}

absl::Status IndexImpl::CheckNoNewerCells() const {
  // A cell that served (an owner fence) under an id this map has not given
  // out yet was made by a split or merge in the cluster after the store's
  // map was saved: this map's cells would serve without its writes.
  absl::StatusOr<std::vector<std::string>> fences = store_->List("cells/");
  if (!fences.ok()) return fences.status();
  for (const std::string& name : *fences) {
    // "cells/NNNNN/fences/..."
    const size_t slash = name.find('/', 6);
    uint32_t id = 0;
    if (slash == std::string::npos || !absl::SimpleAtoi(name.substr(6, slash - 6), &id)) continue;
    if (id < map_.next_cell_id() || name.rfind(OwnerFencePrefix(id), 0) != 0) continue;
    return absl::FailedPreconditionError(absl::StrCat(
        "cell ", id, " served in the cluster, but the store's cell map (epoch ", map_.epoch(),
        ") does not know it yet: start a host (`cellindex host`) so that it saves etcd's map, "
        "stop it, then leave the cluster"));
  }
  return absl::OkStatus();
}

std::string IndexImpl::inventory_path() const {
  return options_.store_dir + "/" + kInventoryFile;
}

absl::Status IndexImpl::RemoveStaleCellDirs() {
  rocksdb::FileSystem& fs = *internal_.file_system;
  std::map<std::string, std::string> hosts;
  std::vector<std::pair<std::string, std::string>> owned;  // cell dir, its host
  {
    absl::MutexLock lock(&map_mu_);
    hosts = inventory_.hosts;
    for (const CellRange& c : map_.cells()) owned.emplace_back(CellDbDir("", c.id), c.host);
  }
  if (hosts.size() < 2) return absl::OkStatus();
  for (const auto& [host, dir] : hosts) {
    for (const auto& [cell_dir, owner] : owned) {
      if (owner == host) continue;
      const std::string path = dir + cell_dir;
      if (PathExists(fs, path)) {
        if (absl::Status s = RemoveAll(fs, path); !s.ok()) return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace cellindex
