// Reads logical records back from one journal segment's bytes.
#ifndef CELLINDEX_RECOVERY_JOURNAL_JOURNAL_READER_H_
#define CELLINDEX_RECOVERY_JOURNAL_JOURNAL_READER_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

namespace cellindex::journal {

class Reader {
 public:
  // `contents` must outlive the reader. Fragment checksums are verified
  // with `seed` (see Writer).
  explicit Reader(absl::string_view contents, uint64_t seed = 0)
      : contents_(contents), seed_(seed) {}

  // Verifies the fragments from here on with `seed` (a segment's data
  // records use the salt its header, read with seed 0, gives).
  void set_seed(uint64_t seed) { seed_ = seed; }

  // Sets `*record` to the next whole record and returns true; returns false at
  // the end of the segment or at the first damaged fragment. `*scratch` backs
  // records that span blocks.
  bool ReadRecord(absl::string_view* record, std::string* scratch);

  // After ReadRecord returned false: whether it stopped at damage rather than
  // at a clean end, what the damage was, and the offset just past the last
  // whole record (where a torn tail would be cut).
  bool damaged() const { return damaged_; }
  const std::string& damage_reason() const { return damage_reason_; }
  uint64_t damage_offset() const { return damage_offset_; }
  uint64_t valid_end() const { return valid_end_; }

  // True when some well-formed fragment lies after the damage: the damage is
  // then not a torn tail but a hole in the middle of the journal.
  bool ValidFragmentAfterDamage() const;

 private:
  enum class Next { kFragment, kEnd, kBad };
  Next ReadFragment(uint8_t* type, absl::string_view* payload);
  // `offset` is where the damaged record starts (where a cut would go);
  // `scan_from` is where a search for later valid fragments begins.
  void MarkDamage(uint64_t offset, uint64_t scan_from, std::string reason);

  absl::string_view contents_;
  uint64_t seed_;
  uint64_t pos_ = 0;
  uint64_t valid_end_ = 0;
  bool damaged_ = false;
  uint64_t damage_offset_ = 0;
  uint64_t scan_from_ = 0;
  std::string damage_reason_;
};

}  // namespace cellindex::journal

#endif  // CELLINDEX_RECOVERY_JOURNAL_JOURNAL_READER_H_
