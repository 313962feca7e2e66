#include "index/object_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cellindex {
namespace {

using ::testing::HasSubstr;

ObjectRecord FullRecord() {
  ObjectRecord r;
  r.size = 123456789012ull;
  r.etag = "\"9b2cf535f27731c974343645a3985328-12\"";
  r.created = absl::FromUnixMicros(1700000000123456);
  r.modified = absl::FromUnixMicros(1700000999654321);
  r.content_type = "image/jpeg";
  r.storage_class = "STANDARD_IA";
  r.user_metadata = {{"owner", "alice"}, {"camera", "\xe2\x98\x83"}, {"empty", ""}};
  r.version = 987654321;
  r.locations = {{"node-1", "vol-17", 0, 4096}, {"node-2", "vol-3", 1ull << 40, 1}};
  return r;
}

TEST(ObjectRecordTest, RoundTripsEveryField) {
  const ObjectRecord r = FullRecord();
  absl::StatusOr<ObjectRecord> d = DecodeRecord(EncodeRecord(r));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->size, r.size);
  EXPECT_EQ(d->etag, r.etag);
  EXPECT_EQ(d->created, r.created);
  EXPECT_EQ(d->modified, r.modified);
  EXPECT_EQ(d->content_type, r.content_type);
  EXPECT_EQ(d->storage_class, r.storage_class);
  EXPECT_EQ(d->user_metadata, r.user_metadata);
  EXPECT_EQ(d->version, r.version);
  EXPECT_EQ(d->locations, r.locations);
  EXPECT_EQ(*d, r);
}

TEST(ObjectRecordTest, RoundTripsEmptyRecordAndUnsetTimes) {
  ObjectRecord r;
  absl::StatusOr<ObjectRecord> d = DecodeRecord(EncodeRecord(r));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, r);
  EXPECT_EQ(d->created, absl::InfinitePast());
}

TEST(ObjectRecordTest, DecodingIntoARecordReplacesEveryField) {
  ObjectRecord into = FullRecord();
  ObjectRecord small;
  small.etag = "e";
  small.locations = {{"node-9", "vol-9", 7, 8}};
  ASSERT_TRUE(DecodeRecord(EncodeRecord(small), &into).ok());
  EXPECT_EQ(into, small);
  ASSERT_TRUE(DecodeRecord(EncodeRecord(FullRecord()), &into).ok());
  EXPECT_EQ(into, FullRecord());
  std::string bad = EncodeRecord(small);
  bad[3] ^= 1;
  EXPECT_TRUE(absl::IsDataLoss(DecodeRecord(bad, &into)));
}

TEST(ObjectRecordTest, EverySingleByteFlipIsDataLoss) {
  const std::string enc = EncodeRecord(FullRecord());
  for (size_t i = 0; i < enc.size(); ++i) {
    for (int bit : {0x01, 0x80, 0xff}) {
      std::string bad = enc;
      bad[i] = static_cast<char>(bad[i] ^ bit);
      absl::StatusOr<ObjectRecord> d = DecodeRecord(bad);
      ASSERT_TRUE(absl::IsDataLoss(d.status())) << "byte " << i << " xor " << bit;
    }
  }
}

TEST(ObjectRecordTest, EveryTruncationIsDataLoss) {
  const std::string enc = EncodeRecord(FullRecord());
  for (size_t n = 0; n < enc.size(); ++n) {
    EXPECT_TRUE(absl::IsDataLoss(DecodeRecord(enc.substr(0, n)).status())) << n;
  }
  EXPECT_TRUE(absl::IsDataLoss(DecodeRecord(enc + "x").status()));
}

void ExpectInvalid(const ObjectRecord& r, const std::string& what) {
  absl::Status s = ValidateObjectRecord(r);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << what;
  EXPECT_THAT(std::string(s.message()), HasSubstr(what));
}

TEST(ObjectRecordTest, ValidationRules) {
  EXPECT_TRUE(ValidateObjectRecord(FullRecord()).ok());
  ObjectRecord r = FullRecord();
  r.etag = std::string(kMaxEtagBytes + 1, 'e');
  ExpectInvalid(r, "etag");
  r = FullRecord();
  r.content_type = std::string(kMaxContentTypeBytes + 1, 'c');
  ExpectInvalid(r, "content type");
  r = FullRecord();
  r.storage_class = "standard";
  ExpectInvalid(r, "storage class");
  r = FullRecord();
  r.user_metadata = {{"big", std::string(kMaxUserMetadataBytes, 'x')}};
  ExpectInvalid(r, "user metadata");
  r = FullRecord();
  r.user_metadata = {{"", "v"}};
  ExpectInvalid(r, "empty name");
  r = FullRecord();
  r.locations = {{"node:1", "vol", 0, 1}};
  ExpectInvalid(r, "location node");
  r = FullRecord();
  r.locations = {{"node", "", 0, 1}};
  ExpectInvalid(r, "location volume");
  r = FullRecord();
  r.locations = {{"node", "vol", 0, 0}};
  ExpectInvalid(r, "zero length");
  r = FullRecord();
  r.locations = {{"node", "vol", ~0ull, 2}};
  ExpectInvalid(r, "overflows");
  r = FullRecord();
  r.locations.assign(kMaxLocations + 1, Extent{"n", "v", 0, 1});
  ExpectInvalid(r, "extents");
}

}  // namespace
}  // namespace cellindex
