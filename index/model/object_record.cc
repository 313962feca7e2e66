#include "index/model/object_record.h"

#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "index/base/coding.h"
#include "index/model/object_key.h"

namespace cellindex {
namespace {

constexpr uint8_t kFormatVersion = 1;

int64_t ToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  return absl::ToUnixMicros(t);
}

absl::Time FromMicros(int64_t us) {
  if (us == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  return absl::FromUnixMicros(us);
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid record: ", field, " ", what));
}

// S3 sends user metadata as "x-amz-meta-NAME: VALUE" headers, so a name must
// be an HTTP token (RFC 9110 tchar).
bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

absl::Status ValidateMetadataName(absl::string_view name) {
  if (name.empty()) return Invalid("user metadata", "has an empty name");
  for (char c : name) {
    if (!IsTokenChar(c)) {
      return Invalid("user metadata",
                     absl::StrCat("name \"", absl::CHexEscape(name),
                                  "\" may contain only letters, digits and !#$%&'*+-.^_`|~ "
                                  "(an HTTP header name)"));
    }
  }
  return absl::OkStatus();
}

// A value must survive an HTTP header and JSON unchanged: valid UTF-8 (S3
// allows it, though it recommends ASCII) without control characters (C0, DEL
// and C1: a CR or LF would split the header, a NUL cut it).
absl::Status ValidateMetadataValue(absl::string_view name, absl::string_view value) {
  auto invalid = [&](absl::string_view why) {
    return Invalid("user metadata",
                   absl::StrCat("value of \"", absl::CHexEscape(name), "\" ", why));
  };
  if (!IsValidUtf8(value)) return invalid("is not valid UTF-8");
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    // In valid UTF-8, U+0080..U+009F are exactly C2 80..C2 9F.
    const bool c1 =
        c == 0xc2 && i + 1 < value.size() && static_cast<unsigned char>(value[i + 1]) <= 0x9f;
    if (c < 0x20 || c == 0x7f || c1) {
      return invalid(absl::StrCat("contains a control character (byte ",
                                  absl::Hex(c, absl::kZeroPad2), " at ", i, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status Damaged(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("object record is damaged: ", why));
}

// The fields before the user metadata, as views into the encoded bytes.
struct LeadingFields {
  uint64_t size = 0;
  absl::string_view etag;
  uint64_t created = 0;
  uint64_t modified = 0;
  absl::string_view content_type;
  absl::string_view storage_class;
};

// Verifies the checksum and the format version and reads the leading fields;
// `*rest` is left at the user metadata count.
absl::Status DecodeLeadingFields(absl::string_view encoded, LeadingFields* f,
                                 absl::string_view* rest) {
  if (encoded.size() < 9) return Damaged("too short");
  absl::string_view body;
  if (!VerifyChecksumTrailer(encoded, &body)) return Damaged("checksum mismatch");
  uint8_t format = 0;
  if (!GetByte(&body, &format) || format != kFormatVersion) {
    return Damaged(absl::StrCat("unknown format version ", format));
  }
  if (!GetVarint64(&body, &f->size) || !GetLengthPrefixed(&body, &f->etag) ||
      !GetFixed64(&body, &f->created) || !GetFixed64(&body, &f->modified) ||
      !GetLengthPrefixed(&body, &f->content_type) || !GetLengthPrefixed(&body, &f->storage_class)) {
    return Damaged("malformed header fields");
  }
  *rest = body;
  return absl::OkStatus();
}

// Reads the user metadata, version and locations, which must end `body`
// exactly. With `r` null it only checks them: DecodeRecord and
// DecodeRecordSummary share this code so that they accept the same bytes.
// Metadata names must come in strictly ascending order, as EncodeRecord writes
// a std::map: a repeated name would otherwise be dropped without a word.
absl::Status DecodeTrailingFields(absl::string_view body, ObjectRecord* r) {
  uint64_t meta_count, version, location_count;
  if (!GetVarint64(&body, &meta_count) || meta_count > body.size()) {
    return Damaged("malformed header fields");
  }
  if (r != nullptr) r->user_metadata.clear();
  absl::string_view previous_name;
  for (uint64_t i = 0; i < meta_count; ++i) {
    absl::string_view name, value;
    if (!GetLengthPrefixed(&body, &name) || !GetLengthPrefixed(&body, &value)) {
      return Damaged("malformed user metadata");
    }
    if (i > 0 && name <= previous_name) return Damaged("user metadata out of order");
    previous_name = name;
    if (r != nullptr) {
      // In the map's order, so each entry goes at the end.
      r->user_metadata.emplace_hint(r->user_metadata.end(), std::string(name), std::string(value));
    }
  }
  if (!GetVarint64(&body, &version) || !GetVarint64(&body, &location_count) ||
      location_count > body.size()) {
    return Damaged("malformed version or location count");
  }
  if (r != nullptr) {
    r->version = version;
    r->locations.clear();
    r->locations.reserve(location_count);
  }
  for (uint64_t i = 0; i < location_count; ++i) {
    absl::string_view node, volume;
    uint64_t offset, length;
    if (!GetLengthPrefixed(&body, &node) || !GetLengthPrefixed(&body, &volume) ||
        !GetVarint64(&body, &offset) || !GetVarint64(&body, &length)) {
      return Damaged("malformed location");
    }
    if (r != nullptr) {
      r->locations.push_back({std::string(node), std::string(volume), offset, length});
    }
  }
  if (!body.empty()) return Damaged("trailing bytes");
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateLocationName(absl::string_view what, absl::string_view name) {
  auto invalid = [&](absl::string_view rule) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", what, " \"", absl::CHexEscape(name), "\": ", rule));
  };
  if (name.empty() || name.size() > kMaxLocationNameBytes) {
    return invalid(absl::StrCat("must be 1 to ", kMaxLocationNameBytes, " bytes"));
  }
  for (char c : name) {
    if (c < 0x21 || c > 0x7e || c == ':') {
      return invalid("may contain only printable ASCII other than ':' and space");
    }
  }
  return absl::OkStatus();
}

bool operator==(const ObjectRecord& a, const ObjectRecord& b) {
  return a.size == b.size && a.etag == b.etag && a.created == b.created &&
         a.modified == b.modified && a.content_type == b.content_type &&
         a.storage_class == b.storage_class && a.user_metadata == b.user_metadata &&
         a.version == b.version && a.locations == b.locations;
}

absl::Status ValidateObjectRecord(const ObjectRecord& r) {
  if (r.etag.size() > kMaxEtagBytes) {
    return Invalid("etag", absl::StrCat("is longer than ", kMaxEtagBytes, " bytes"));
  }
  if (r.content_type.size() > kMaxContentTypeBytes) {
    return Invalid("content type",
                   absl::StrCat("is longer than ", kMaxContentTypeBytes, " bytes"));
  }
  if (r.storage_class.size() > kMaxStorageClassBytes) {
    return Invalid("storage class",
                   absl::StrCat("is longer than ", kMaxStorageClassBytes, " bytes"));
  }
  for (char c : r.storage_class) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return Invalid("storage class", "may contain only A-Z, 0-9 and '_'");
    }
  }
  size_t meta_bytes = 0;
  // Lower-cased name -> name: HTTP header names ignore case.
  absl::flat_hash_map<std::string, absl::string_view> names;
  for (const auto& [name, value] : r.user_metadata) {
    if (absl::Status s = ValidateMetadataName(name); !s.ok()) return s;
    auto [it, added] = names.emplace(absl::AsciiStrToLower(name), name);
    if (!added) {
      return Invalid("user metadata",
                     absl::StrCat("names \"", absl::CHexEscape(it->second), "\" and \"",
                                  absl::CHexEscape(name), "\" differ only in case"));
    }
    if (absl::Status s = ValidateMetadataValue(name, value); !s.ok()) return s;
    meta_bytes += name.size() + value.size();
  }
  if (meta_bytes > kMaxUserMetadataBytes) {
    return Invalid("user metadata", absl::StrCat("is ", meta_bytes, " bytes, over the limit of ",
                                                 kMaxUserMetadataBytes));
  }
  if (r.locations.size() > kMaxLocations) {
    return Invalid("locations", absl::StrCat("has more than ", kMaxLocations, " extents"));
  }
  for (const Extent& e : r.locations) {
    if (absl::Status s = ValidateLocationName("record: location node", e.node); !s.ok()) return s;
    if (absl::Status s = ValidateLocationName("record: location volume", e.volume); !s.ok()) {
      return s;
    }
    if (e.length == 0) return Invalid("location", "has a zero length");
    if (e.offset + e.length < e.offset) return Invalid("location", "offset + length overflows");
  }
  return absl::OkStatus();
}

std::string EncodeRecord(const ObjectRecord& r) {
  std::string out;
  out.reserve(64 + r.etag.size() + r.content_type.size() + r.storage_class.size() +
              r.locations.size() * 32);
  out.push_back(static_cast<char>(kFormatVersion));
  PutVarint64(&out, r.size);
  PutLengthPrefixed(&out, r.etag);
  PutFixed64(&out, static_cast<uint64_t>(ToMicros(r.created)));
  PutFixed64(&out, static_cast<uint64_t>(ToMicros(r.modified)));
  PutLengthPrefixed(&out, r.content_type);
  PutLengthPrefixed(&out, r.storage_class);
  PutVarint64(&out, r.user_metadata.size());
  for (const auto& [name, value] : r.user_metadata) {
    PutLengthPrefixed(&out, name);
    PutLengthPrefixed(&out, value);
  }
  PutVarint64(&out, r.version);
  PutVarint64(&out, r.locations.size());
  for (const Extent& e : r.locations) {
    PutLengthPrefixed(&out, e.node);
    PutLengthPrefixed(&out, e.volume);
    PutVarint64(&out, e.offset);
    PutVarint64(&out, e.length);
  }
  PutChecksumTrailer(&out);
  return out;
}

absl::Status DecodeRecord(absl::string_view encoded, ObjectRecord* record) {
  LeadingFields f;
  absl::string_view body;
  if (absl::Status s = DecodeLeadingFields(encoded, &f, &body); !s.ok()) return s;
  ObjectRecord& r = *record;
  r.size = f.size;
  r.etag = std::string(f.etag);
  r.created = FromMicros(static_cast<int64_t>(f.created));
  r.modified = FromMicros(static_cast<int64_t>(f.modified));
  r.content_type = std::string(f.content_type);
  r.storage_class = std::string(f.storage_class);
  return DecodeTrailingFields(body, &r);
}

absl::StatusOr<ObjectRecord> DecodeRecord(absl::string_view encoded) {
  absl::StatusOr<ObjectRecord> record(absl::in_place);
  if (absl::Status s = DecodeRecord(encoded, &*record); !s.ok()) return s;
  return record;
}

absl::StatusOr<RecordSummary> DecodeRecordSummary(absl::string_view encoded) {
  LeadingFields f;
  absl::string_view rest;
  if (absl::Status s = DecodeLeadingFields(encoded, &f, &rest); !s.ok()) return s;
  // The rest is checked, not copied, so a listing accepts exactly what Get does.
  if (absl::Status s = DecodeTrailingFields(rest, nullptr); !s.ok()) return s;
  RecordSummary summary;
  summary.size = f.size;
  summary.etag = f.etag;
  summary.modified = FromMicros(static_cast<int64_t>(f.modified));
  summary.storage_class = f.storage_class;
  return summary;
}

}  // namespace cellindex
