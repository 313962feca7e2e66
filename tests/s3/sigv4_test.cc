// Signature Version 4 against the examples of AWS's documentation
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// and .../sigv4-streaming.html): the same canonical request, string to sign
// and signature, from the same inputs.
#include "tools/s3/sigv4.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tools/s3/auth.h"
#include "tools/s3/crypto.h"

namespace cellindex::s3 {
namespace {

constexpr char kAccessKey[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kEmptySha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kDate[] = "20130524T000000Z";

Credential ExampleCredential() {
  Credential c;
  c.access_key = kAccessKey;
  c.date = "20130524";
  c.region = "us-east-1";
  c.service = "s3";
  return c;
}

SignedRequest GetObjectExample() {
  SignedRequest r;
  r.method = "GET";
  r.raw_path = "/test.txt";
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"},
               {"range", "bytes=0-9"},
               {"x-amz-content-sha256", kEmptySha},
               {"x-amz-date", kDate}};
  return r;
}

TEST(SigV4, GetObjectExampleOfTheDocumentation) {
  absl::StatusOr<std::string> canonical =
      CanonicalRequest(GetObjectExample(), {"host", "range", "x-amz-content-sha256", "x-amz-date"},
                       kEmptySha);
  ASSERT_TRUE(canonical.ok()) << canonical.status();
  EXPECT_EQ(*canonical, absl::StrCat("GET\n/test.txt\n\n"
                                     "host:examplebucket.s3.amazonaws.com\n"
                                     "range:bytes=0-9\n"
                                     "x-amz-content-sha256:",
                                     kEmptySha, "\nx-amz-date:", kDate, "\n\n",
                                     "host;range;x-amz-content-sha256;x-amz-date\n", kEmptySha));
  const Credential c = ExampleCredential();
  const std::string to_sign = StringToSign(kDate, c.Scope(), *canonical);
  EXPECT_EQ(to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(Signature(SigningKey(kSecret, c), to_sign),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, ListObjectsExampleSortsTheQuery) {
  SignedRequest r;
  r.method = "GET";
  r.raw_path = "/";
  r.raw_query = "prefix=J&max-keys=2";  // out of order on purpose
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-content-sha256", kEmptySha},
               {"x-amz-date", kDate}};
  absl::StatusOr<std::string> canonical =
      CanonicalRequest(r, {"host", "x-amz-content-sha256", "x-amz-date"}, kEmptySha);
  ASSERT_TRUE(canonical.ok());
  EXPECT_NE(canonical->find("\n/\nmax-keys=2&prefix=J\n"), std::string::npos) << *canonical;
  const Credential c = ExampleCredential();
  EXPECT_EQ(Signature(SigningKey(kSecret, c), StringToSign(kDate, c.Scope(), *canonical)),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, CanonicalUriEncodesEachSegmentOnce) {
  SignedRequest r;
  r.method = "PUT";
  r.raw_path = "/b/d%C3%A9j%C3%A0%20vu/a+b%2Fc";
  r.raw_query = "acl";
  r.headers = {{"host", "h"}};
  absl::StatusOr<std::string> canonical = CanonicalRequest(r, {"host"}, "UNSIGNED-PAYLOAD");
  ASSERT_TRUE(canonical.ok());
  EXPECT_EQ(*canonical,
            "PUT\n/b/d%C3%A9j%C3%A0%20vu/a%2Bb%2Fc\nacl=\nhost:h\n\nhost\nUNSIGNED-PAYLOAD");
}

TEST(SigV4, HeaderValuesAreTrimmedAndJoined) {
  SignedRequest r;
  r.method = "GET";
  r.raw_path = "/";
  r.headers = {{"host", "h"}, {"x-amz-meta-a", "  one   two  "}, {"x-amz-meta-a", "three"}};
  absl::StatusOr<std::string> canonical = CanonicalRequest(r, {"host", "x-amz-meta-a"}, "X");
  ASSERT_TRUE(canonical.ok());
  EXPECT_NE(canonical->find("x-amz-meta-a:one two,three\n"), std::string::npos) << *canonical;
}

TEST(SigV4, MissingSignedHeaderIsAnError) {
  SignedRequest r = GetObjectExample();
  EXPECT_FALSE(CanonicalRequest(r, {"host", "x-amz-missing"}, kEmptySha).ok());
}

TEST(SigV4, ParsesTheAuthorizationHeader) {
  absl::StatusOr<Credential> c = ParseAuthorization(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=host;range;x-amz-date,"
      "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key, kAccessKey);
  EXPECT_EQ(c->Scope(), "20130524/us-east-1/s3/aws4_request");
  EXPECT_EQ(c->signed_headers, (std::vector<std::string>{"host", "range", "x-amz-date"}));
  for (const char* bad : {
           "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
           "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3,SignedHeaders=host,"
           "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
           "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,"
           "Signature=FE5F",
           "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host",
       }) {
    EXPECT_FALSE(ParseAuthorization(bad).ok()) << bad;
  }
}

// The streaming example: 66560 bytes of 'a' in chunks of 65536 and 1024,
// each chunk signed, chained from the seed signature.
TEST(SigV4, DecodesAndChecksSignedChunks) {
  const Credential c = ExampleCredential();
  const std::string key = SigningKey(kSecret, c);
  const std::string seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
  const std::string body = absl::StrCat(
      "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
      std::string(65536, 'a'), "\r\n",
      "400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n",
      std::string(1024, 'a'), "\r\n",
      "0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
  absl::StatusOr<std::string> decoded = DecodeChunks(body, true, key, kDate, c.Scope(), seed);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, std::string(66560, 'a'));

  std::string altered = body;
  altered[200] = 'b';
  EXPECT_EQ(DecodeChunks(altered, true, key, kDate, c.Scope(), seed).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(DecodeChunks(body.substr(0, 1000), true, key, kDate, c.Scope(), seed).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The Authenticator end to end on the documentation's example request.
TEST(Authenticator, AcceptsTheExampleAndRefusesAnyChange) {
  Authenticator auth({{kAccessKey, kSecret}}, "us-east-1");
  const absl::Time at = absl::FromUnixSeconds(1369353600);  // 2013-05-24T00:00:00Z
  auto example = [] {
    S3Request r;
    SignedRequest s = GetObjectExample();
    r.method = s.method;
    r.raw_path = s.raw_path;
    r.headers = s.headers;
    r.headers.emplace("authorization",
                      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                      "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    return r;
  };
  S3Request ok = example();
  EXPECT_FALSE(auth.Verify(&ok, at).has_value());

  S3Request other_path = example();
  other_path.raw_path = "/test.txu";
  EXPECT_EQ(auth.Verify(&other_path, at)->code, "SignatureDoesNotMatch");

  Authenticator other_secret({{kAccessKey, "not-the-secret"}}, "us-east-1");
  S3Request r2 = example();
  EXPECT_EQ(other_secret.Verify(&r2, at)->code, "SignatureDoesNotMatch");

  Authenticator other_key({{"AKIDOTHER", kSecret}}, "us-east-1");
  S3Request r3 = example();
  EXPECT_EQ(other_key.Verify(&r3, at)->code, "InvalidAccessKeyId");

  S3Request late = example();
  EXPECT_EQ(auth.Verify(&late, at + absl::Minutes(16))->code, "RequestTimeTooSkewed");

  S3Request with_body = example();
  with_body.body = "x";  // not what x-amz-content-sha256 says
  EXPECT_EQ(auth.Verify(&with_body, at)->code, "XAmzContentSHA256Mismatch");

  S3Request unsigned_request;
  unsigned_request.method = "GET";
  unsigned_request.raw_path = "/";
  EXPECT_EQ(auth.Verify(&unsigned_request, at)->code, "AccessDenied");
}

TEST(Crypto, KnownDigests) {
  EXPECT_EQ(Hex(Sha256("")), kEmptySha);
  EXPECT_EQ(Hex(Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Base64(Md5("")), "1B2M2Y8AsgTpgAmY7PhCfg==");
  // RFC 4231, test case 2.
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace cellindex::s3
