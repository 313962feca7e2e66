#include "index/cell/cell_ops.h"

#include <algorithm>

#include "index/base/coding.h"

namespace cellindex {
namespace {

constexpr uint8_t kOpLegacyPut = 1;
constexpr uint8_t kOpLegacyDelete = 2;
constexpr uint8_t kOpPut = 3;
constexpr uint8_t kOpDelete = 4;

void PutNames(std::string* out, const std::vector<absl::string_view>& names) {
  PutVarint64(out, names.size());
  for (absl::string_view n : names) PutLengthPrefixed(out, n);
}

void PutLocationNames(std::string* out, const LocationNames& names) {
  PutNames(out, names.volumes);
  PutNames(out, names.nodes);
}

bool GetNames(absl::string_view* in, std::vector<absl::string_view>* names) {
  uint64_t n;
  // Each name takes at least its length byte.
  if (!GetVarint64(in, &n) || n > in->size()) return false;
  names->resize(n);
  for (absl::string_view& name : *names) {
    if (!GetLengthPrefixed(in, &name)) return false;
  }
  return true;
}

bool GetLocationNames(absl::string_view* in, LocationNames* names) {
  return GetNames(in, &names->volumes) && GetNames(in, &names->nodes);
}

void AddOnce(std::vector<absl::string_view>* names, absl::string_view name) {
  if (std::find(names->begin(), names->end(), name) == names->end()) names->push_back(name);
}

}  // namespace

LocationNames LocationNamesOf(const ObjectRecord& record) {
  LocationNames names;
  for (const Extent& e : record.locations) {
    AddOnce(&names.volumes, e.volume);
    AddOnce(&names.nodes, e.node);
  }
  return names;
}

void JournalBodyEncoder::Begin(uint64_t op_count) { PutVarint64(body_, op_count); }

void JournalBodyEncoder::AddPut(absl::string_view encoded_key, absl::string_view record_bytes,
                                const LocationNames* old) {
  body_->push_back(static_cast<char>(kOpPut));
  PutLengthPrefixed(body_, encoded_key);
  PutLengthPrefixed(body_, record_bytes);
  body_->push_back(old != nullptr ? 1 : 0);
  if (old != nullptr) PutLocationNames(body_, *old);
}

void JournalBodyEncoder::AddDelete(absl::string_view encoded_key, const LocationNames& old) {
  body_->push_back(static_cast<char>(kOpDelete));
  PutLengthPrefixed(body_, encoded_key);
  PutLocationNames(body_, old);
}

void JournalBodyEncoder::AddLegacyPut(absl::string_view encoded_key,
                                      absl::string_view record_bytes) {
  body_->push_back(static_cast<char>(kOpLegacyPut));
  PutLengthPrefixed(body_, encoded_key);
  PutLengthPrefixed(body_, record_bytes);
}

void JournalBodyEncoder::AddLegacyDelete(absl::string_view encoded_key) {
  body_->push_back(static_cast<char>(kOpLegacyDelete));
  PutLengthPrefixed(body_, encoded_key);
}

absl::Status DecodeJournalBody(absl::string_view body, std::vector<JournalOp>* ops) {
  ops->clear();
  uint64_t n;
  if (!GetVarint64(&body, &n) || n > body.size()) return absl::DataLossError("malformed op count");
  ops->resize(n);
  for (JournalOp& op : *ops) {
    uint8_t kind;
    if (!GetByte(&body, &kind) || kind < kOpLegacyPut || kind > kOpDelete ||
        !GetLengthPrefixed(&body, &op.encoded_key)) {
      return absl::DataLossError("malformed op");
    }
    op.is_put = kind == kOpPut || kind == kOpLegacyPut;
    op.carries_old = kind == kOpPut || kind == kOpDelete;
    if (op.is_put && !GetLengthPrefixed(&body, &op.record_bytes)) {
      return absl::DataLossError("malformed op");
    }
    if (kind == kOpPut) {
      uint8_t had;
      if (!GetByte(&body, &had) || had > 1) return absl::DataLossError("malformed op");
      op.had_old = had == 1;
    } else if (kind == kOpDelete) {
      op.had_old = true;
    }
    if (op.had_old && !GetLocationNames(&body, &op.old)) {
      return absl::DataLossError("malformed op");
    }
  }
  if (!body.empty()) return absl::DataLossError("trailing bytes after ops");
  return absl::OkStatus();
}

}  // namespace cellindex
