#include "index/cell/cell_scan.h"

#include "index/cell/cell.h"
#include "index/cell/cell_resources.h"

namespace cellindex {

namespace {

// A cell that cannot be read is Unavailable to a scan, whatever failed it,
// except that damage stays DataLoss.
absl::Status NotServing(const absl::Status& why) {
  if (absl::IsUnavailable(why) || absl::IsDataLoss(why)) return why;
  return absl::UnavailableError(why.message());
}

}  // namespace

CellScan::CellScan(const CellMap& map, const ServingCellFn& cells, Family family,
                   std::string space, std::string end)
    : map_(map),
      cells_(cells),
      family_(family),
      space_(std::move(space)),
      end_(std::move(end)) {
  upper_bound_ = end_.empty() ? PrefixSuccessor(space_) : space_ + end_;
  upper_bound_slice_ = rocksdb::Slice(upper_bound_);
  if (!upper_bound_.empty()) read_options_.iterate_upper_bound = &upper_bound_slice_;
  if (caller_perf_level_ <= rocksdb::PerfLevel::kEnableCount) {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  }
}

CellScan::~CellScan() {
  LeaveCell();
  rocksdb::SetPerfLevel(caller_perf_level_);
}

void CellScan::LeaveCell() {
  iter_.reset();
  if (snapshot_ != nullptr) db_->ReleaseSnapshot(snapshot_);
  snapshot_ = nullptr;
  db_ = nullptr;
  cell_ref_.reset();
  valid_ = false;
}

absl::Status CellScan::EnterCell(size_t i) {
  if (iter_ != nullptr && cell_ == i) return absl::OkStatus();
  LeaveCell();
  absl::StatusOr<std::shared_ptr<Cell>> serving = cells_(i);
  if (!serving.ok()) return NotServing(serving.status());
  if (absl::Status s = (*serving)->CheckServing(); !s.ok()) return NotServing(s);
  cell_ref_ = *std::move(serving);
  const Cell& cell = *cell_ref_;
  cell_ = i;
  db_ = cell.db();
  snapshot_ = db_->GetSnapshot();
  read_options_.snapshot = snapshot_;
  iter_.reset(db_->NewIterator(
      read_options_,
      family_ == Family::kLocations ? cell.locations() : db_->DefaultColumnFamily()));
  return absl::OkStatus();
}

absl::Status CellScan::Seek(absl::string_view target) {
  if (!end_.empty() && target >= end_) {
    valid_ = false;
    return absl::OkStatus();
  }
  return SeekFrom(map_.Route(target), target);
}

absl::Status CellScan::SeekFrom(size_t i, absl::string_view target) {
  for (;;) {
    if (absl::Status s = EnterCell(i); !s.ok()) return s;
    seek_key_.assign(space_);
    seek_key_.append(target.data(), target.size());
    iter_->Seek(seek_key_);
    valid_ = iter_->Valid();
    if (valid_) return absl::OkStatus();
    if (absl::Status s = IteratorStatus(); !s.ok()) return s;
    if (!ReachesCell(i + 1)) return absl::OkStatus();
    ++i;
    target = map_.cells()[i].lo;
  }
}

absl::Status CellScan::Next() {
  iter_->Next();
  valid_ = iter_->Valid();
  if (valid_) return absl::OkStatus();
  if (absl::Status s = IteratorStatus(); !s.ok()) return s;
  if (!ReachesCell(cell_ + 1)) return absl::OkStatus();
  return SeekFrom(cell_ + 1, map_.cells()[cell_ + 1].lo);
}

bool CellScan::ReachesCell(size_t i) const {
  return i < map_.cells().size() && (end_.empty() || map_.cells()[i].lo < end_);
}

absl::Status CellScan::IteratorStatus() {
  absl::Status s = FromRocks(iter_->status(), absl::StrCat("cell ", map_.cells()[cell_].id, ": scan"));
  ReportDamage(s);
  return s;
}

void CellScan::ReportDamage(const absl::Status& why) {
  if (absl::IsDataLoss(why) && cell_ref_ != nullptr) cell_ref_->ReportDamage(why);
}

absl::string_view CellScan::encoded_key() const {
  rocksdb::Slice k = iter_->key();
  return absl::string_view(k.data() + space_.size(), k.size() - space_.size());
}

absl::string_view CellScan::value() const {
  rocksdb::Slice v = iter_->value();
  return absl::string_view(v.data(), v.size());
}

CellId CellScan::cell_id() const { return map_.cells()[cell_].id; }

absl::Status CellScan::GetInCell(absl::string_view key, std::string* value) {
  rocksdb::Status s = db_->Get(read_options_, rocksdb::Slice(key.data(), key.size()), value);
  absl::Status st = FromRocks(s, absl::StrCat("cell ", map_.cells()[cell_].id, ": read"));
  ReportDamage(st);
  return st;
}

}  // namespace cellindex
