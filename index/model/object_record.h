// Object records: what the index knows about one object.
//
// Encoded value format (version 1), all integers little-endian or LEB128:
//
//     format_version    : 1 byte, = 1
//     size              : varint64
//     etag              : length-prefixed bytes
//     created_micros    : fixed64 (two's complement of Unix microseconds)
//     modified_micros   : fixed64
//     content_type      : length-prefixed
//     storage_class     : length-prefixed
//     metadata count    : varint64, then per entry: name, value (length-prefixed),
//                         names in strictly ascending byte order
//     version           : varint64
//     location count    : varint64, then per extent:
//                           node, volume (length-prefixed), offset, length (varint64)
//     checksum          : fixed64, xxh3-64 of every byte before it
//
// Decoding verifies the checksum before reading any field, so damaged or
// truncated bytes give DataLoss, never a wrong record. Bytes that pass the
// checksum but break this layout (a length past the end, names out of order,
// bytes after the last extent) are DataLoss too.
#ifndef CELLINDEX_INDEX_MODEL_OBJECT_RECORD_H_
#define CELLINDEX_INDEX_MODEL_OBJECT_RECORD_H_

#include <cstdint>
#include <map>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cellindex {

// Limits checked by ValidateObjectRecord.
inline constexpr size_t kMaxUserMetadataBytes = 2048;   // names + values, as S3
inline constexpr size_t kMaxEtagBytes = 1024;
inline constexpr size_t kMaxContentTypeBytes = 1024;
inline constexpr size_t kMaxStorageClassBytes = 64;
inline constexpr size_t kMaxLocations = 256;
inline constexpr size_t kMaxLocationNameBytes = 255;

// One run of an object's bytes on a storage node's volume: a replica or a
// shard. Volume names are unique across the whole service (Locate looks them up
// alone), and neither names may contain ':' or bytes outside printable ASCII.
struct Extent {
  std::string node;
  std::string volume;
  uint64_t offset = 0;
  uint64_t length = 0;

  friend bool operator==(const Extent& a, const Extent& b) {
    return a.node == b.node && a.volume == b.volume && a.offset == b.offset &&
           a.length == b.length;
  }
};

struct ObjectRecord {
  uint64_t size = 0;
  std::string etag;
  // InfinitePast means "unset": Put fills in the time of the write.
  absl::Time created = absl::InfinitePast();
  absl::Time modified = absl::InfinitePast();
  std::string content_type;
  // Empty means STANDARD.
  std::string storage_class;
  // S3 user metadata, sent as "x-amz-meta-NAME: VALUE" headers: a name is an
  // HTTP token (letters, digits and !#$%&'*+-.^_`|~), unique ignoring case; a
  // value is valid UTF-8 without control characters (C0, DEL, C1). At most
  // kMaxUserMetadataBytes of names and values together.
  std::map<std::string, std::string> user_metadata;
  // Assigned by the index on every write; ignored on input. Strictly grows
  // with every write of the same key, including a re-create after a delete.
  uint64_t version = 0;
  std::vector<Extent> locations;

  friend bool operator==(const ObjectRecord& a, const ObjectRecord& b);
};

// OK, or InvalidArgument naming the field and the limit it breaks.
absl::Status ValidateObjectRecord(const ObjectRecord& record);
// OK, or InvalidArgument ("invalid `what` "name": rule") when `name` is not a
// valid node or volume name (see Extent).
absl::Status ValidateLocationName(absl::string_view what, absl::string_view name);

std::string EncodeRecord(const ObjectRecord& record);
// DataLoss when the bytes are damaged, truncated or of an unknown format.
absl::StatusOr<ObjectRecord> DecodeRecord(absl::string_view encoded);
// The same, into `*record`, whose every field is overwritten (and left
// unspecified on error): a caller decodes straight into the object it returns.
absl::Status DecodeRecord(absl::string_view encoded, ObjectRecord* record);

// The fields of a record that a listing shows, as views into the encoded
// bytes (valid while they are).
struct RecordSummary {
  uint64_t size = 0;
  absl::string_view etag;
  absl::Time modified;
  absl::string_view storage_class;
};
// Verifies the checksum and the whole layout as DecodeRecord does, but copies
// nothing and returns only the fields above, so a listing does not pay for
// the metadata and locations. Accepts exactly the bytes DecodeRecord accepts
// (a listing never shows what Get refuses); DataLoss as DecodeRecord.
absl::StatusOr<RecordSummary> DecodeRecordSummary(absl::string_view encoded);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_OBJECT_RECORD_H_
