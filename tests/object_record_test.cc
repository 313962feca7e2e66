#include "index/model/object_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "index/base/coding.h"

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

// `body` (an encoding without its trailer) with a correct checksum trailer,
// so decoding gets past the checksum to the layout.
std::string WithChecksum(std::string body) {
  PutChecksumTrailer(&body);
  return body;
}

// Decodes `encoded` both ways and expects the same verdict and fields.
// Returns whether they accepted it.
bool ExpectDecodersAgree(const std::string& encoded, const std::string& what) {
  absl::StatusOr<ObjectRecord> full = DecodeRecord(encoded);
  absl::StatusOr<RecordSummary> summary = DecodeRecordSummary(encoded);
  EXPECT_EQ(full.ok(), summary.ok())
      << what << ": DecodeRecord " << full.status() << ", DecodeRecordSummary " << summary.status();
  if (!full.ok() || !summary.ok()) {
    EXPECT_TRUE(full.ok() || absl::IsDataLoss(full.status())) << what << ": " << full.status();
    EXPECT_TRUE(summary.ok() || absl::IsDataLoss(summary.status()))
        << what << ": " << summary.status();
    return false;
  }
  EXPECT_EQ(summary->size, full->size) << what;
  EXPECT_EQ(summary->etag, full->etag) << what;
  EXPECT_EQ(summary->modified, full->modified) << what;
  EXPECT_EQ(summary->storage_class, full->storage_class) << what;
  return true;
}

// Every byte string DecodeRecordSummary accepts, DecodeRecord accepts, and
// the other way round, so `ls` never lists what `get` refuses. The mutations
// keep a valid checksum so that they reach the layout checks.
TEST(ObjectRecordTest, SummaryAndFullDecodeAcceptTheSameBytes) {
  ObjectRecord many = FullRecord();
  for (int i = 0; i < 6; ++i) {
    many.user_metadata[absl::StrCat("k", i)] = std::string(i, 'v');
    many.locations.push_back({absl::StrCat("node-", i), absl::StrCat("vol-", i), 1ull << (7 * i),
                              (1ull << (9 * i)) + 1});
  }
  ObjectRecord only_locations;
  only_locations.locations = {{"n", "v", 0, 1}};
  ObjectRecord only_metadata;
  only_metadata.user_metadata = {{"a", "1"}, {"b", ""}};
  size_t accepted = 0, rejected = 0;
  for (const ObjectRecord& r :
       {FullRecord(), ObjectRecord(), many, only_locations, only_metadata}) {
    const std::string enc = EncodeRecord(r);
    const std::string body = enc.substr(0, enc.size() - 8);
    ASSERT_TRUE(ExpectDecodersAgree(enc, "unmutated"));
    auto check = [&](const std::string& mutated, const std::string& what) {
      (ExpectDecodersAgree(WithChecksum(mutated), what) ? accepted : rejected)++;
    };
    for (size_t i = 0; i < body.size(); ++i) {
      for (int x = 1; x < 256; ++x) {
        std::string m = body;
        m[i] = static_cast<char>(m[i] ^ x);
        check(m, absl::StrCat("byte ", i, " xor ", x));
      }
      check(body.substr(0, i), absl::StrCat("truncated to ", i));
      check(body.substr(0, i) + body.substr(i + 1), absl::StrCat("byte ", i, " removed"));
    }
    for (int c : {0, 1, 0x7f, 0x80, 0xff}) {
      check(body + static_cast<char>(c), absl::StrCat("byte ", c, " appended"));
    }
    if (::testing::Test::HasFailure()) return;  // one record's report is enough
  }
  // Both verdicts occur, so the agreement means something.
  EXPECT_GT(accepted, 1000u);
  EXPECT_GT(rejected, 1000u);
}

// EncodeRecord writes the names of a std::map, so a repeated or unordered
// name is not something it wrote; decoding must not silently drop one.
TEST(ObjectRecordTest, RepeatedOrUnorderedMetadataNamesAreDataLoss) {
  ObjectRecord r;
  r.user_metadata = {{"a", "1"}, {"b", "2"}};
  std::string body = EncodeRecord(r);
  body.resize(body.size() - 8);
  const size_t b = body.find(
      "\x01"
      "b");
  ASSERT_NE(b, std::string::npos);
  std::string repeated = body, unordered = body;
  repeated[b + 1] = 'a';
  unordered[b + 1] = '0';
  for (const std::string& m : {repeated, unordered}) {
    EXPECT_TRUE(absl::IsDataLoss(DecodeRecord(WithChecksum(m)).status()));
    EXPECT_TRUE(absl::IsDataLoss(DecodeRecordSummary(WithChecksum(m)).status()));
  }
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

// User metadata becomes "x-amz-meta-NAME: VALUE" headers and JSON fields.
TEST(ObjectRecordTest, MetadataNamesAreHttpTokensAndValuesHaveNoControlCharacters) {
  ObjectRecord r;
  r.user_metadata = {{"Content-Owner_2.x~!#$%&'*+^`|", "plain ASCII, spaces: ok"},
                     {"utf8", "\xc3\xa9t\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80"},
                     {"empty", ""}};
  EXPECT_TRUE(ValidateObjectRecord(r).ok()) << ValidateObjectRecord(r);

  for (const std::string& name :
       std::vector<std::string>{"a b", "a:b", "a=b", "(a)", "a/b", "a\"b", "caf\xc3\xa9",
                                std::string("a\0b", 3), "a\nb", "a\tb", "a\x7f"}) {
    r.user_metadata = {{name, "v"}};
    ExpectInvalid(r, "user metadata name");
  }
  for (const std::string& value :
       std::vector<std::string>{"a\nb", "a\rb", std::string("a\0b", 3), "a\tb", "\x1b[31m", "a\x7f",
                                "\xc2\x85" /* NEL */, "\xc2\x9f"}) {
    r.user_metadata = {{"name", value}};
    ExpectInvalid(r, "user metadata value of \"name\" contains a control character");
  }
  for (const std::string& value :
       std::vector<std::string>{"\xff", "\xc3", "\xc0\xaf" /* overlong */, "\xed\xa0\x80"}) {
    r.user_metadata = {{"name", value}};
    ExpectInvalid(r, "user metadata value of \"name\" is not valid UTF-8");
  }
  r.user_metadata = {{"Owner", "a"}, {"owner", "b"}};
  ExpectInvalid(r, "names \"Owner\" and \"owner\" differ only in case");
  r.user_metadata = {{"owner", "\xc2\xa0"}};  // U+00A0 is not a control character
  EXPECT_TRUE(ValidateObjectRecord(r).ok());
}

}  // namespace
}  // namespace cellindex
