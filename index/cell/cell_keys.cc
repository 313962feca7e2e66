#include "index/cell/cell_keys.h"

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "index/base/coding.h"
#include "index/base/rocks_status.h"
#include "index/model/object_key.h"

namespace cellindex {
namespace {

constexpr char kStateKey[] = "mstate";
constexpr char kIdentityKey[] = "midentity";  // sorts before kStateKey
// The state's format: 2 keeps the reverse index in its own column family;
// 1 (before it) kept it in the default one, and is refused, never migrated.
constexpr uint8_t kIdentityFormat = 2;

absl::StatusOr<CellIdentity> DecodeIdentity(absl::string_view v) {
  CellIdentity id;
  uint8_t format = 0;
  absl::string_view index_id;
  if (GetByte(&v, &format) && format < kIdentityFormat) {
    return absl::DataLossError(absl::StrCat(
        "the state is in format ", format, ", written by an older cellindex; this one reads ",
        kIdentityFormat, " (the reverse index in a column family of its own)"));
  }
  if (format != kIdentityFormat || !GetLengthPrefixed(&v, &index_id) ||
      !GetCellRange(&v, &id.range) || !v.empty()) {
    return absl::DataLossError("the state's identity key is damaged");
  }
  id.index_id = std::string(index_id);
  return id;
}

}  // namespace

std::string RecordKey(absl::string_view encoded_key) {
  std::string k;
  k.reserve(1 + encoded_key.size());
  k.push_back(kRecordPrefix);
  k.append(encoded_key.data(), encoded_key.size());
  return k;
}

std::string ReverseKey(char prefix, absl::string_view name, absl::string_view encoded_key) {
  std::string k;
  k.reserve(2 + name.size() + encoded_key.size());
  k.push_back(prefix);
  k.append(name.data(), name.size());
  k.push_back('\0');
  k.append(encoded_key.data(), encoded_key.size());
  return k;
}

bool ReverseKeyObject(absl::string_view reverse_key, absl::string_view* encoded_key) {
  if (reverse_key.empty() || (reverse_key[0] != kVolumePrefix && reverse_key[0] != kNodePrefix)) {
    return false;
  }
  // Location names hold no NUL (ValidateLocationName), so the first ends the name.
  const size_t sep = reverse_key.find('\0');
  if (sep == absl::string_view::npos) return false;
  *encoded_key = reverse_key.substr(sep + 1);
  return true;
}

void AddMutations(absl::string_view encoded_key, const LocationNames* old,
                  const ObjectRecord* rec, absl::string_view rec_bytes,
                  rocksdb::ColumnFamilyHandle* locations, rocksdb::WriteBatch* b) {
  if (old != nullptr) {
    for (absl::string_view v : old->volumes) {
      b->Delete(locations, ReverseKey(kVolumePrefix, v, encoded_key));
    }
    for (absl::string_view n : old->nodes) {
      b->Delete(locations, ReverseKey(kNodePrefix, n, encoded_key));
    }
  }
  if (rec != nullptr) {
    for (const Extent& e : rec->locations) {
      b->Put(locations, ReverseKey(kVolumePrefix, e.volume, encoded_key), rocksdb::Slice());
      b->Put(locations, ReverseKey(kNodePrefix, e.node, encoded_key), rocksdb::Slice());
    }
    b->Put(RecordKey(encoded_key), rocksdb::Slice(rec_bytes.data(), rec_bytes.size()));
  } else {
    b->Delete(RecordKey(encoded_key));
  }
}

void AddState(const StoredState& state, rocksdb::WriteBatch* b) {
  std::string v;
  v.reserve(16);
  PutFixed64(&v, state.applied_seq);
  PutFixed64(&v, state.count);
  b->Put(kStateKey, v);
}

absl::StatusOr<StoredState> ReadState(rocksdb::DB* db, const rocksdb::ReadOptions& ro) {
  StoredState state;
  rocksdb::PinnableSlice v;
  rocksdb::Status s = db->Get(ro, db->DefaultColumnFamily(), kStateKey, &v);
  if (s.IsNotFound()) {
    // Only a state nothing was written to yet (at most its identity) has
    // no state key; records without one cannot be placed in the journal.
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key() != kIdentityKey) {
        return absl::DataLossError("cell state key is missing from a state that holds records");
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read the state");
    return state;
  }
  if (!s.ok()) return FromRocks(s, "read cell state");
  if (v.size() != 16) return absl::DataLossError("cell state key is damaged");
  state.applied_seq = DecodeFixed64(v.data());
  state.count = DecodeFixed64(v.data() + 8);
  return state;
}

std::string CellIdentity::Encode() const {
  std::string v;
  v.push_back(static_cast<char>(kIdentityFormat));
  PutLengthPrefixed(&v, index_id);
  PutCellRange(&v, range);
  return v;
}

std::string CellIdentity::Describe() const {
  return absl::StrCat("cell ", range.id, " ", range.Describe(), " of index ",
                      index_id.empty() ? std::string("(none)") : index_id);
}

void AddIdentity(const CellIdentity& identity, rocksdb::WriteBatch* b) {
  b->Put(kIdentityKey, identity.Encode());
}

absl::Status CheckIdentity(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* locations,
                           const CellIdentity& expected, const rocksdb::WriteOptions& wo) {
  std::string v;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kIdentityKey, &v);
  if (s.ok()) {
    absl::StatusOr<CellIdentity> stored = DecodeIdentity(v);
    if (!stored.ok()) return stored.status();
    if (stored->Encode() != expected.Encode()) {
      return absl::DataLossError(absl::StrCat("the local state belongs to ", stored->Describe(),
                                              ", not to ", expected.Describe()));
    }
    return absl::OkStatus();
  }
  if (!s.IsNotFound()) return FromRocks(s, "read the state's identity");
  // New only when both families are empty.
  for (rocksdb::ColumnFamilyHandle* family : {db->DefaultColumnFamily(), locations}) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), family));
    it->SeekToFirst();
    if (it->Valid()) {
      return absl::DataLossError(
          "the local state carries no identity (damaged, or written by an older cellindex)");
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read the state");
  }
  rocksdb::WriteBatch b;
  AddIdentity(expected, &b);
  return FromRocks(db->Write(wo, &b), "write the state's identity");
}

std::string Printable(absl::string_view encoded_key) {
  absl::StatusOr<ObjectKey> k = DecodeKey(encoded_key);
  if (!k.ok()) return absl::CEscape(encoded_key);
  return absl::StrCat(k->bucket, "/", absl::CHexEscape(k->key));
}

}  // namespace cellindex
