// Operations an Index applies atomically, and the preconditions they carry.
#ifndef CELLINDEX_INDEX_MODEL_WRITE_BATCH_H_
#define CELLINDEX_INDEX_MODEL_WRITE_BATCH_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"

namespace cellindex {

// A condition checked in the cell's write order, atomically with the write.
// At most one of the two may be set.
struct Precondition {
  // The write applies only if the key exists with exactly this version
  // (S3's If-Match, with the index's version in place of the ETag).
  std::optional<uint64_t> if_version_match;
  // The write applies only if the key does not exist (If-None-Match: *).
  bool if_none_match = false;
};

struct WriteOp {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  ObjectKey key;
  ObjectRecord record;  // kPut only
  Precondition precondition;
};

// Puts and deletes applied all or nothing, in order (a later operation on
// the same key sees the earlier one). All keys must live in one cell.
class WriteBatch {
 public:
  void Put(ObjectKey key, ObjectRecord record, Precondition precondition = {}) {
    ops_.push_back({WriteOp::Kind::kPut, std::move(key), std::move(record), precondition});
  }
  void Delete(ObjectKey key, Precondition precondition = {}) {
    ops_.push_back({WriteOp::Kind::kDelete, std::move(key), {}, precondition});
  }
  const std::vector<WriteOp>& ops() const { return ops_; }
  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  void Clear() { ops_.clear(); }

 private:
  std::vector<WriteOp> ops_;
};

// A write's error may say that nothing was applied: the write was refused
// before it reached its cell's journal (the cell did not serve: Unavailable).
// Sending it again then cannot apply it twice. Without the mark, an error
// after the write reached the journal leaves its outcome to the cell's next
// open. The mark is an absl::Status payload under this type URL.
inline constexpr absl::string_view kNotAppliedPayload = "cellindex/not-applied";
inline absl::Status MarkNotApplied(absl::Status s) {
  if (!s.ok()) s.SetPayload(kNotAppliedPayload, absl::Cord("1"));
  return s;
}
inline bool WasNotApplied(const absl::Status& s) {
  return !s.ok() && s.GetPayload(kNotAppliedPayload).has_value();
}

// An Unavailable may also say that the cell is not served by this process
// at all (a cluster member that does not own it, or no longer): asking the
// same process again does not help, the caller asks where it is now.
inline constexpr absl::string_view kNotServedHerePayload = "cellindex/not-served-here";
inline absl::Status MarkNotServedHere(absl::Status s) {
  if (!s.ok()) s.SetPayload(kNotServedHerePayload, absl::Cord("1"));
  return s;
}
inline bool IsNotServedHere(const absl::Status& s) {
  return !s.ok() && s.GetPayload(kNotServedHerePayload).has_value();
}

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_WRITE_BATCH_H_
