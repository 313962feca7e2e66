// The deep validation of a cell's state.
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "index/base/coding.h"
#include "index/cell/cell.h"
#include "index/cell/cell_keys.h"
#include "index/cell/cell_ops.h"
#include "index/model/object_record.h"

namespace cellindex {

namespace {
// Records scanned between two looks at the stop flag.
constexpr uint64_t kStopCheckEvery = 1024;
}  // namespace

absl::Status Cell::Validate(uint64_t* records_checked) {
  if (records_checked != nullptr) *records_checked = 0;
  auto stopped = [this] {
    return absl::CancelledError(
        absl::StrCat("cell ", range_.id, ": validation stopped (the cell was taken out of service)"));
  };
  if (stop_validation_) return stopped();
  {
    rocksdb::ReadOptions fro;
    fro.fill_cache = false;
    rocksdb::Status fs = db_->VerifyFileChecksums(fro);
    if (!fs.ok()) {
      return absl::DataLossError(absl::StrCat("cell ", range_.id,
                                              " failed validation: file checksum: ",
                                              fs.ToString()));
    }
  }
  if (stop_validation_) return stopped();
  const rocksdb::Snapshot* snap = db_->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  auto damaged = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("cell ", range_.id, " failed validation: ", why));
  };
  absl::Status result;
  uint64_t expected = 0;
  if (absl::StatusOr<StoredState> stored = ReadState(db_.get(), ro); stored.ok()) {
    expected = stored->count;
  } else {
    result = damaged(absl::StrCat("the record count is unreadable: ", stored.status().message()));
  }
  uint64_t seen = 0;
  // The reverse index the records call for: how many entries, and the sum
  // of their keys' hashes (order-free, so it can be compared with a scan of
  // the locations family).
  uint64_t reverse_expected = 0, reverse_expected_sum = 0;
  if (result.ok()) {
    const std::string lo(1, kRecordPrefix), hi(1, kRecordPrefix + 1);
    rocksdb::Slice upper(hi);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(lo); it->Valid(); it->Next()) {
      if (seen % kStopCheckEvery == kStopCheckEvery - 1 && stop_validation_) {
        result = stopped();
        break;
      }
      absl::string_view key(it->key().data() + 1, it->key().size() - 1);
      if (!range_.Contains(key)) {
        result = damaged(absl::StrCat("key ", Printable(key), " is outside ", range_.Describe()));
        break;
      }
      absl::StatusOr<ObjectRecord> rec =
          DecodeRecord(absl::string_view(it->value().data(), it->value().size()));
      if (!rec.ok()) {
        result = damaged(absl::StrCat("object ", Printable(key), ": ", rec.status().message()));
        break;
      }
      ++seen;
      const LocationNames names = LocationNamesOf(*rec);
      for (absl::string_view v : names.volumes) {
        reverse_expected_sum += Checksum64(ReverseKey(kVolumePrefix, v, key));
      }
      for (absl::string_view n : names.nodes) {
        reverse_expected_sum += Checksum64(ReverseKey(kNodePrefix, n, key));
      }
      reverse_expected += names.volumes.size() + names.nodes.size();
    }
    if (result.ok() && !it->status().ok()) result = damaged(it->status().ToString());
    if (result.ok() && seen != expected) {
      result = damaged(absl::StrCat(seen, " records found, the state says ", expected));
    }
  }
  if (result.ok()) {
    // Every reverse entry names an object of the cell, and the entries are
    // exactly those the records call for: none missing (Locate would miss
    // the object), none left over.
    ro.iterate_upper_bound = nullptr;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, locations_.get()));
    uint64_t found = 0, found_sum = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (found % kStopCheckEvery == kStopCheckEvery - 1 && stop_validation_) {
        result = stopped();
        break;
      }
      const absl::string_view k(it->key().data(), it->key().size());
      absl::string_view object;
      if (!ReverseKeyObject(k, &object) || !range_.Contains(object)) {
        result = damaged(absl::StrCat("reverse-index entry ", absl::CHexEscape(k),
                                      " is malformed or outside ", range_.Describe()));
        break;
      }
      ++found;
      found_sum += Checksum64(k);
    }
    if (result.ok() && !it->status().ok()) result = damaged(it->status().ToString());
    if (result.ok() && (found != reverse_expected || found_sum != reverse_expected_sum)) {
      result = damaged(absl::StrCat("the reverse index holds ", found,
                                    " entries that do not match the ", reverse_expected,
                                    " the records name"));
    }
  }
  db_->ReleaseSnapshot(snap);
  if (records_checked != nullptr) *records_checked = seen;
  return result;
}

}  // namespace cellindex
