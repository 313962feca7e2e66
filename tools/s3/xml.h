// The little XML S3 speaks: a writer for response bodies and a strict reader
// for request bodies (DeleteObjects, CreateBucketConfiguration).
#ifndef CELLINDEX_TOOLS_S3_XML_H_
#define CELLINDEX_TOOLS_S3_XML_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellindex::s3 {

// `text` with & < > " ' as entities, and the characters XML 1.0 cannot carry
// (C0 controls but tab, LF, CR) as numeric references, so any key prints.
std::string XmlEscape(absl::string_view text);

// Builds a document: Open/Close nest, Leaf writes <name>escaped text</name>.
class XmlWriter {
 public:
  XmlWriter();
  // The root element, with S3's namespace.
  XmlWriter& Root(absl::string_view name);
  XmlWriter& Open(absl::string_view name);
  XmlWriter& Close();
  XmlWriter& Leaf(absl::string_view name, absl::string_view text);
  // Escaped text inside the element open now.
  XmlWriter& Text(absl::string_view text);
  // Closes what is open and returns the document.
  std::string Finish();

 private:
  std::string out_;
  std::vector<std::string> open_;
};

// An element: its local name (any namespace prefix dropped), its text (the
// concatenated, unescaped character data directly inside it) and children.
struct XmlElement {
  std::string name;
  std::string text;
  std::vector<XmlElement> children;

  // The first child named `name`, or null.
  const XmlElement* Child(absl::string_view name) const;
};

// Parses one document (an optional declaration, comments, one root).
// InvalidArgument naming the problem for anything malformed: unclosed or
// mismatched tags, a bad entity, text outside the root, or nesting deeper
// than 32 levels.
absl::StatusOr<XmlElement> ParseXml(absl::string_view doc);

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_XML_H_
