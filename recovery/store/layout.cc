#include "recovery/store/layout.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cellindex {
namespace {
constexpr absl::string_view kManifestSuffix = ".manifest";
constexpr absl::string_view kFenceSuffix = ".fence";

// The number in `<20 digits><suffix>`, the last part of `name`.
bool ParseNumbered(absl::string_view name, absl::string_view suffix, uint64_t* n) {
  const size_t slash = name.find_last_of('/');
  absl::string_view base = slash == absl::string_view::npos ? name : name.substr(slash + 1);
  if (base.size() != 20 + suffix.size() || !absl::EndsWith(base, suffix)) return false;
  for (char c : base.substr(0, 20)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(base.substr(0, 20), n);
}
}  // namespace

std::string CellStorePrefix(CellId id) { return absl::StrFormat("cells/%05u/", id); }

std::string CheckpointManifestPrefix(CellId id) {
  return absl::StrCat(CellStorePrefix(id), "checkpoints/");
}

std::string CheckpointFilePrefix(CellId id) { return absl::StrCat(CellStorePrefix(id), "files/"); }

std::string DamagedManifestName(CellId id, uint64_t applied_seq) {
  return absl::StrFormat("%sdamaged/%020u%s", CellStorePrefix(id), applied_seq, kManifestSuffix);
}

std::string LateManifestPrefix(CellId id) { return absl::StrCat(CellStorePrefix(id), "late/"); }

std::string LateManifestName(CellId id, uint64_t applied_seq, uint64_t owner_epoch) {
  return absl::StrFormat("%s%020u-%020u%s", LateManifestPrefix(id), applied_seq, owner_epoch,
                         kManifestSuffix);
}

std::string JournalDirName(CellId id) { return absl::StrCat(CellStorePrefix(id), "journal"); }

std::string JournalHeadName(CellId id) {
  return absl::StrCat(CellStorePrefix(id), "JOURNAL-HEAD");
}

std::string CheckpointManifestName(CellId id, uint64_t applied_seq) {
  return absl::StrFormat("%s%020u%s", CheckpointManifestPrefix(id), applied_seq, kManifestSuffix);
}

bool ParseCheckpointManifestName(absl::string_view name, uint64_t* applied_seq) {
  return ParseNumbered(name, kManifestSuffix, applied_seq);
}

std::string OwnerFencePrefix(CellId id) { return absl::StrCat(CellStorePrefix(id), "fences/"); }

std::string OwnerFenceName(CellId id, uint64_t owner_epoch) {
  return absl::StrFormat("%s%020u%s", OwnerFencePrefix(id), owner_epoch, kFenceSuffix);
}

bool ParseOwnerFenceName(absl::string_view name, uint64_t* owner_epoch) {
  return ParseNumbered(name, kFenceSuffix, owner_epoch);
}

std::string CellDbDir(const std::string& host_dir, CellId id) {
  return absl::StrFormat("%s/cells/%05u", host_dir, id);
}

std::string CellRestoreDir(const std::string& cell_db_dir) { return cell_db_dir + ".restore"; }

std::string CellParentScratchDir(const std::string& cell_db_dir, size_t k) {
  return absl::StrCat(cell_db_dir, ".parent-", k);
}

std::string CellDamagedDir(const std::string& cell_db_dir, int64_t unix_micros) {
  return absl::StrFormat("%s.damaged-%d", cell_db_dir, unix_micros);
}

}  // namespace cellindex
