// Object keys and their encoding.
//
// An object is named by (bucket, key). Buckets follow the S3 naming rules; keys
// are 1-1024 bytes of valid UTF-8. The encoded form is
//
//     bucket | 0x00 | key
//
// Bucket names never contain 0x00 and 0x00 sorts before every other byte, so
// all keys of one bucket form one contiguous range, ordered bytewise by key,
// and buckets are ordered bytewise by name. A LIST is a range scan.
#ifndef CELLINDEX_INDEX_MODEL_OBJECT_KEY_H_
#define CELLINDEX_INDEX_MODEL_OBJECT_KEY_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cellindex {

inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr char kKeySeparator = '\0';

struct ObjectKey {
  std::string bucket;
  std::string key;

  friend bool operator==(const ObjectKey& a, const ObjectKey& b) {
    return a.bucket == b.bucket && a.key == b.key;
  }
};

// OK, or InvalidArgument naming the S3 bucket rule that `bucket` breaks.
absl::Status ValidateBucketName(absl::string_view bucket);
// OK, or InvalidArgument when `key` is empty, longer than 1024 bytes, or not
// valid UTF-8 (overlong forms, surrogates and code points past U+10FFFF are
// invalid).
absl::Status ValidateObjectKeyName(absl::string_view key);
// Both of the above.
absl::Status ValidateObjectKey(const ObjectKey& key);
// True when `s` is well-formed UTF-8.
bool IsValidUtf8(absl::string_view s);

// The encoded form described above. Does not validate.
std::string EncodeKey(const ObjectKey& key);
// Every encoded key of `bucket` starts with this prefix.
std::string EncodeBucketPrefix(absl::string_view bucket);
// Inverse of EncodeKey; InvalidArgument when there is no separator.
absl::StatusOr<ObjectKey> DecodeKey(absl::string_view encoded);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_OBJECT_KEY_H_
