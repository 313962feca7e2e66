// The deep validation of a cell's state.
#include <memory>

#include "absl/strings/str_cat.h"
#include "index/cell/cell.h"
#include "index/cell/cell_keys.h"
#include "index/model/object_record.h"

namespace cellindex {

absl::Status Cell::Validate(uint64_t* records_checked) {
  if (records_checked != nullptr) *records_checked = 0;
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
  if (result.ok()) {
    const std::string lo(1, kRecordPrefix), hi(1, kRecordPrefix + 1);
    rocksdb::Slice upper(hi);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(lo); it->Valid(); it->Next()) {
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
    }
    if (result.ok() && !it->status().ok()) result = damaged(it->status().ToString());
    if (result.ok() && seen != expected) {
      result = damaged(absl::StrCat(seen, " records found, the state says ", expected));
    }
  }
  db_->ReleaseSnapshot(snap);
  if (records_checked != nullptr) *records_checked = seen;
  return result;
}

}  // namespace cellindex
