#include "tools/s3/xml.h"

#include "gtest/gtest.h"
#include "tools/s3/url.h"

namespace cellindex::s3 {
namespace {

TEST(XmlEscape, EscapesMarkupAndControlCharacters) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(XmlEscape(std::string("x\x01y\r", 4)), "x&#1;y&#13;");
  EXPECT_EQ(XmlEscape("déjà\tvu\n"), "déjà\tvu\n");
}

TEST(XmlWriter, NestsAndEscapes) {
  EXPECT_EQ(XmlWriter().Root("R").Open("A").Leaf("K", "<&>").Close().Leaf("N", "1").Finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<R xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><A><K>&lt;&amp;&gt;</K></A>"
            "<N>1</N></R>");
}

TEST(ParseXml, ReadsADeleteBody) {
  absl::StatusOr<XmlElement> doc = ParseXml(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
      "<Object><Key>a&amp;b &#x263A; &#65;</Key></Object><!-- c -->"
      "<Object><Key><![CDATA[<raw>]]></Key><VersionId/></Object></Delete>");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->name, "Delete");
  ASSERT_EQ(doc->children.size(), 3u);
  EXPECT_EQ(doc->Child("Quiet")->text, "true");
  EXPECT_EQ(doc->children[1].Child("Key")->text, "a&b \u263A A");
  EXPECT_EQ(doc->children[2].Child("Key")->text, "<raw>");
}

TEST(ParseXml, RefusesMalformedDocuments) {
  for (const char* bad : {"", "plain text", "<Delete>", "<Delete></Remove>",
                          "<Delete><Object></Delete></Object>", "<a>&bogus;</a>",
                          "<a>&#0;</a>", "<a></a><b></b>", "<a></a>trailing", "<a x=1></a>",
                          "<a><!-- unterminated </a>"}) {
    EXPECT_FALSE(ParseXml(bad).ok()) << bad;
  }
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<a>";
  for (int i = 0; i < 40; ++i) deep += "</a>";
  EXPECT_FALSE(ParseXml(deep).ok());
}

TEST(Url, EncodesAsSigV4) {
  EXPECT_EQ(UriEncode("a b/c~d_e.f-g+h*", false), "a%20b%2Fc~d_e.f-g%2Bh%2A");
  EXPECT_EQ(UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(UriEncode("é", true), "%C3%A9");
}

TEST(Url, DecodesAndRefusesBadEscapes) {
  EXPECT_EQ(*UriDecode("a%20b+%2f%C3%A9"), "a b+/é");
  EXPECT_FALSE(UriDecode("a%2").ok());
  EXPECT_FALSE(UriDecode("a%zz").ok());
  absl::StatusOr<QueryParams> q = ParseQuery("list-type=2&prefix=a%2Fb&delete&x=");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, (QueryParams{{"list-type", "2"}, {"prefix", "a/b"}, {"delete", ""}, {"x", ""}}));
}

}  // namespace
}  // namespace cellindex::s3
