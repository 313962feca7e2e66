#include "index/model/object_key.h"

#include "absl/strings/escaping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cellindex {
namespace {

using ::testing::HasSubstr;

void ExpectBadBucket(const std::string& bucket, const std::string& rule) {
  absl::Status s = ValidateBucketName(bucket);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << bucket;
  EXPECT_THAT(std::string(s.message()), HasSubstr(rule)) << bucket;
}

TEST(ObjectKeyTest, AcceptsValidBucketNames) {
  for (const char* b : {"abc", "my-bucket", "my.bucket.1", "0bucket9",
                        "a23456789012345678901234567890123456789012345678901234567890123"}) {
    EXPECT_TRUE(ValidateBucketName(b).ok()) << b;
  }
}

TEST(ObjectKeyTest, EachBucketRuleIsNamed) {
  ExpectBadBucket("ab", "3 to 63");
  ExpectBadBucket(std::string(64, 'a'), "3 to 63");
  ExpectBadBucket("MyBucket", "lower-case");
  ExpectBadBucket("my_bucket", "lower-case");
  ExpectBadBucket("my bucket", "lower-case");
  ExpectBadBucket("-bucket", "begin and end");
  ExpectBadBucket("bucket.", "begin and end");
  ExpectBadBucket("my..bucket", "adjacent periods");
  ExpectBadBucket("192.168.5.4", "IP address");
  ExpectBadBucket("xn--bucket", "reserved prefix");
  ExpectBadBucket("sthree-bucket", "reserved prefix");
  ExpectBadBucket("bucket-s3alias", "reserved suffix");
  ExpectBadBucket("bucket--ol-s3", "reserved suffix");
}

TEST(ObjectKeyTest, KeyRules) {
  EXPECT_TRUE(ValidateObjectKeyName("a").ok());
  EXPECT_TRUE(ValidateObjectKeyName(std::string(1024, 'k')).ok());
  EXPECT_TRUE(ValidateObjectKeyName("photos/2024/\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xf0\x9f\x98\x80").ok());

  absl::Status empty = ValidateObjectKeyName("");
  EXPECT_TRUE(absl::IsInvalidArgument(empty));
  EXPECT_THAT(std::string(empty.message()), HasSubstr("empty"));

  absl::Status long_key = ValidateObjectKeyName(std::string(1025, 'k'));
  EXPECT_TRUE(absl::IsInvalidArgument(long_key));
  EXPECT_THAT(std::string(long_key.message()), HasSubstr("1024"));

  for (const char* bad : {"\xff", "a\x80", "\xc3", "\xc0\xaf" /* overlong '/' */,
                          "\xed\xa0\x80" /* surrogate */, "\xf4\x90\x80\x80" /* > U+10FFFF */,
                          "\xe2\x82" /* truncated */}) {
    absl::Status s = ValidateObjectKeyName(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << absl::CHexEscape(bad);
    EXPECT_THAT(std::string(s.message()), HasSubstr("UTF-8"));
  }
}

TEST(ObjectKeyTest, ValidateObjectKeyChecksBoth) {
  EXPECT_TRUE(ValidateObjectKey({"bucket", "key"}).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateObjectKey({"B", "key"})));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateObjectKey({"bucket", ""})));
}

TEST(ObjectKeyTest, EncodingOrdersBucketThenKeyBytewise) {
  // One bucket is one contiguous range, ordered bytewise by key.
  std::vector<ObjectKey> in_order = {
      {"abc", "a"},  {"abc", "a/b"}, {"abc", "b"}, {"abc", "\xc3\xa9"},
      {"abc.d", "a"}, {"abcd", "\x01"}, {"abd", "0"}};
  for (size_t i = 1; i < in_order.size(); ++i) {
    EXPECT_LT(EncodeKey(in_order[i - 1]), EncodeKey(in_order[i])) << i;
  }
  // Every key of "abc" sorts after the bucket prefix and before "abc.d".
  EXPECT_LT(EncodeBucketPrefix("abc"), EncodeKey({"abc", "\x01"}));
  EXPECT_LT(EncodeKey({"abc", "\xf4\x8f\xbf\xbf"}), EncodeBucketPrefix("abc.d"));
}

TEST(ObjectKeyTest, DecodeInvertsEncode) {
  ObjectKey k{"bucket", std::string("with\0nul", 8)};
  absl::StatusOr<ObjectKey> d = DecodeKey(EncodeKey(k));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, k);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeKey("no-separator").status()));
}

}  // namespace
}  // namespace cellindex
