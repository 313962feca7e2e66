#include "index/index.h"

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"
#include "index/cell/cell.h"
#include "index/cell/listing.h"
#include "index/cell/locate.h"
#include "index/index_impl.h"
#include "index/internal_options.h"
#include "recovery/placement.h"
#include "recovery/store/cell_map_file.h"
#include "recovery/store/layout.h"
#include "rocksdb/file_system.h"

namespace cellindex {
namespace {

constexpr char kDefaultHost[] = "local";

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
  if (o.host_dirs.empty()) o.host_dirs[kDefaultHost] = o.data_dir;
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

absl::Status IndexImpl::CheckDirectories() {
  rocksdb::FileSystem& fs = *internal_.file_system;
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

absl::Status IndexImpl::Init() {
  rocksdb::FileSystem& fs = *internal_.file_system;
  if (absl::Status s = CheckDirectories(); !s.ok()) return s;
  if (absl::Status s = CreateDirs(fs, options_.data_dir); !s.ok()) return s;
  if (absl::Status s = CreateDirs(fs, options_.store_dir); !s.ok()) return s;

  const std::string lock_path = options_.store_dir + "/" + kLockFile;
  if (rocksdb::IOStatus s = fs.LockFile(lock_path, rocksdb::IOOptions(), &lock_, nullptr);
      !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store ", options_.store_dir, " is in use by another index (", s.ToString(), ")"));
  }
  resources_ = std::make_unique<CellResources>(MakeCellResources(options_, internal_.file_system));
  store_ = NewLocalDirStore(&fs, options_.store_dir);

  const bool has_layout = !options_.cell_boundaries.empty() || options_.num_cells > 0;
  absl::StatusOr<CellMap> requested = RequestedLayout(options_);
  if (!requested.ok()) return requested.status();
  {
    absl::MutexLock map_lock(&map_mu_);
    host_dirs_ = options_.host_dirs;
    const std::string map_path = options_.store_dir + "/" + kCellMapFile;
    absl::StatusOr<CellMap> stored = LoadCellMap(fs, map_path);
    bool save_map = false;
    std::vector<std::string> hosts;
    for (const auto& [host, dir] : host_dirs_) hosts.push_back(host);
    if (stored.ok()) {
      if (has_layout && stored->Boundaries() != requested->Boundaries()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "cell map mismatch: the index in ", options_.store_dir, " has ",
            stored->cells().size(), " cells and the options ask for ", requested->cells().size(),
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
      map_.PlaceRoundRobin(hosts);
      save_map = true;
    } else {
      return stored.status();
    }
    // Cells whose host is gone move to the listed hosts with the fewest cells.
    std::vector<size_t> homeless;
    for (size_t i = 0; i < map_.cells().size(); ++i) {
      if (!host_dirs_.count(map_.cells()[i].host)) homeless.push_back(i);
    }
    if (!homeless.empty()) {
      PlaceOnLeastLoaded(&map_, homeless, hosts);
      save_map = true;
    }
    if (save_map) {
      if (absl::Status s = SaveCellMap(fs, map_path, map_); !s.ok()) return s;
    }
  }

  CellSet::Deps deps;
  deps.options = &options_;
  deps.resources = resources_.get();
  deps.store = store_.get();
  deps.place = [this](size_t i) { return PlaceOf(i); };
  deps.on_event = internal_.recovery_hook;
  cells_ = std::make_unique<CellSet>(map_.cells().size(), std::move(deps), open_start_);
  cells_->RecoverAll();
  if (options_.wait_for_recovery) cells_->WaitForRecovery();
  background_ = std::make_unique<BackgroundWork>(options_, cells_.get());
  open_time_ = absl::Now() - open_start_;
  return absl::OkStatus();
}

CellSet::Place IndexImpl::PlaceOf(size_t i) const {
  absl::MutexLock lock(&map_mu_);
  CellSet::Place place;
  place.identity.index_id = map_.index_id();
  place.identity.range = map_.cells()[i];
  place.epoch = map_.epoch();
  auto it = host_dirs_.find(map_.cells()[i].host);
  const std::string& base = it != host_dirs_.end() ? it->second : options_.data_dir;
  place.db_dir = CellDbDir(base, map_.cells()[i].id);
  return place;
}

void IndexImpl::WaitForRecovery() { cells_->WaitForRecovery(); }

absl::StatusOr<std::vector<CheckpointReport>> IndexImpl::Checkpoint(std::optional<CellId> cell) {
  std::vector<CheckpointReport> out;
  absl::Status first_error;
  bool found = false;
  for (size_t i = 0; i < cells_->size(); ++i) {
    if (cell.has_value() && map_.cells()[i].id != *cell) continue;
    found = true;
    absl::StatusOr<CheckpointReport> r = cells_->Checkpoint(i, /*wait_for_validation=*/true);
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

absl::StatusOr<std::vector<CellId>> IndexImpl::LoseHosts(const std::vector<std::string>& hosts) {
  rocksdb::FileSystem& fs = *internal_.file_system;
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
  // Own each lost cell's next recovery (waiting for one under way, which may
  // be writing into a directory about to vanish), and close it.
  cells_->TakeOver(lost);
  for (const std::string& dir : dirs) {
    if (absl::Status s = RemoveAll(fs, dir); !s.ok()) return s;
  }
  std::vector<CellId> moved;
  {
    absl::MutexLock lock(&map_mu_);
    for (const std::string& host : hosts) host_dirs_.erase(host);
    std::vector<std::string> survivors;
    for (const auto& [h, d] : host_dirs_) survivors.push_back(h);
    PlaceOnLeastLoaded(&map_, lost, survivors);
    for (size_t i : lost) moved.push_back(map_.cells()[i].id);
    if (absl::Status s = SaveCellMap(fs, options_.store_dir + "/" + kCellMapFile, map_);
        !s.ok()) {
      return s;
    }
  }
  cells_->ScheduleRecovery(lost, /*force_restore=*/true, UINT64_MAX);
  return moved;
}

CellId IndexImpl::CellFor(const ObjectKey& key) const {
  return map_.cells()[map_.Route(EncodeKey(key))].id;
}

CellMap IndexImpl::cell_map() const {
  absl::MutexLock lock(&map_mu_);
  return map_;
}

absl::StatusOr<uint64_t> IndexImpl::Put(const ObjectKey& key, const ObjectRecord& record,
                                        const Precondition& precondition) {
  WriteBatch batch;
  batch.Put(key, record, precondition);
  absl::StatusOr<std::vector<uint64_t>> v = Write(batch);
  if (!v.ok()) return v.status();
  return v->front();
}

absl::Status IndexImpl::Delete(const ObjectKey& key, const Precondition& precondition) {
  WriteBatch batch;
  batch.Delete(key, precondition);
  return Write(batch).status();
}

absl::StatusOr<std::vector<uint64_t>> IndexImpl::Write(const WriteBatch& batch) {
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
  absl::StatusOr<std::shared_ptr<Cell>> target = cells_->Serving(cell);
  if (!target.ok()) return target.status();
  return (*target)->Write(std::move(ops));
}

absl::StatusOr<ObjectRecord> IndexImpl::Get(const ObjectKey& key) {
  if (absl::Status s = ValidateObjectKey(key); !s.ok()) return s;
  const std::string encoded = EncodeKey(key);
  absl::StatusOr<std::shared_ptr<Cell>> cell = cells_->Serving(map_.Route(encoded));
  if (!cell.ok()) return cell.status();
  return (*cell)->Get(encoded);
}

absl::StatusOr<ListResult> IndexImpl::List(absl::string_view bucket,
                                           const ListOptions& options) {
  return ListObjects(map_, [this](size_t i) { return cells_->Serving(i); }, bucket, options);
}

absl::StatusOr<LocateResult> IndexImpl::Locate(const LocateOptions& options) {
  return LocateObjects(map_, [this](size_t i) { return cells_->Serving(i); }, options);
}

IndexStats IndexImpl::Stats() const {
  IndexStats s;
  {
    absl::MutexLock lock(&map_mu_);
    s.epoch = map_.epoch();
  }
  s.open_time = open_time_;
  s.time_to_first_cell = cells_->time_to_first_cell();
  s.time_to_all_cells = cells_->time_to_all_cells();
  s.checkpoint_loop_passes = background_->checkpoint_loop_passes();
  for (size_t i = 0; i < cells_->size(); ++i) {
    CellStats c = cells_->Stats(i);
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
