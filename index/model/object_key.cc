#include "index/model/object_key.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cellindex {
namespace {

absl::Status BadBucket(absl::string_view bucket, absl::string_view rule) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid bucket name \"", absl::CEscape(bucket), "\": ", rule));
}

bool LooksLikeIpv4(absl::string_view s) {
  std::vector<absl::string_view> parts = absl::StrSplit(s, '.');
  if (parts.size() != 4) return false;
  for (absl::string_view p : parts) {
    if (p.empty() || p.size() > 3) return false;
    for (char c : p) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  return true;
}

}  // namespace

absl::Status ValidateBucketName(absl::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) {
    return BadBucket(bucket, "must be 3 to 63 characters long");
  }
  for (char c : bucket) {
    const auto u = static_cast<unsigned char>(c);
    if (!(absl::ascii_islower(u) || absl::ascii_isdigit(u) || c == '.' || c == '-')) {
      return BadBucket(bucket,
                       "may contain only lower-case letters, digits, '.' and '-'");
    }
  }
  auto alnum = [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return absl::ascii_islower(u) || absl::ascii_isdigit(u);
  };
  if (!alnum(bucket.front()) || !alnum(bucket.back())) {
    return BadBucket(bucket, "must begin and end with a letter or digit");
  }
  if (absl::StrContains(bucket, "..")) {
    return BadBucket(bucket, "must not contain two adjacent periods");
  }
  if (LooksLikeIpv4(bucket)) {
    return BadBucket(bucket, "must not be formatted as an IP address");
  }
  if (absl::StartsWith(bucket, "xn--") || absl::StartsWith(bucket, "sthree-")) {
    return BadBucket(bucket, "must not start with a reserved prefix (xn--, sthree-)");
  }
  if (absl::EndsWith(bucket, "-s3alias") || absl::EndsWith(bucket, "--ol-s3")) {
    return BadBucket(bucket, "must not end with a reserved suffix (-s3alias, --ol-s3)");
  }
  return absl::OkStatus();
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte or 0xf8..0xff as a lead byte
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len]) return false;         // overlong
    if (cp >= 0xd800 && cp <= 0xdfff) return false;    // surrogate
    if (cp > 0x10ffff) return false;
    i += len;
  }
  return true;
}

absl::Status ValidateObjectKeyName(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("invalid object key: must not be empty");
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid object key: ", key.size(), " bytes is longer than the limit of ",
        kMaxKeyBytes, " bytes"));
  }
  if (!IsValidUtf8(key)) {
    return absl::InvalidArgumentError("invalid object key: not valid UTF-8");
  }
  return absl::OkStatus();
}

absl::Status ValidateObjectKey(const ObjectKey& key) {
  if (absl::Status s = ValidateBucketName(key.bucket); !s.ok()) return s;
  return ValidateObjectKeyName(key.key);
}

std::string EncodeKey(const ObjectKey& key) {
  std::string out;
  out.reserve(key.bucket.size() + 1 + key.key.size());
  out.append(key.bucket);
  out.push_back(kKeySeparator);
  out.append(key.key);
  return out;
}

std::string EncodeBucketPrefix(absl::string_view bucket) {
  std::string out(bucket);
  out.push_back(kKeySeparator);
  return out;
}

absl::StatusOr<ObjectKey> DecodeKey(absl::string_view encoded) {
  const size_t sep = encoded.find(kKeySeparator);
  if (sep == absl::string_view::npos) {
    return absl::InvalidArgumentError("encoded key has no bucket separator");
  }
  return ObjectKey{std::string(encoded.substr(0, sep)), std::string(encoded.substr(sep + 1))};
}

}  // namespace cellindex
