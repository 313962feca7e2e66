#include "tools/s3/xml.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cellindex::s3 {

std::string XmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          absl::StrAppend(&out, "&#", static_cast<int>(c), ";");
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

XmlWriter::XmlWriter() : out_("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") {}

XmlWriter& XmlWriter::Root(absl::string_view name) {
  absl::StrAppend(&out_, "<", name, " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
  open_.emplace_back(name);
  return *this;
}

XmlWriter& XmlWriter::Open(absl::string_view name) {
  absl::StrAppend(&out_, "<", name, ">");
  open_.emplace_back(name);
  return *this;
}

XmlWriter& XmlWriter::Close() {
  absl::StrAppend(&out_, "</", open_.back(), ">");
  open_.pop_back();
  return *this;
}

XmlWriter& XmlWriter::Leaf(absl::string_view name, absl::string_view text) {
  absl::StrAppend(&out_, "<", name, ">", XmlEscape(text), "</", name, ">");
  return *this;
}

XmlWriter& XmlWriter::Text(absl::string_view text) {
  absl::StrAppend(&out_, XmlEscape(text));
  return *this;
}

std::string XmlWriter::Finish() {
  while (!open_.empty()) Close();
  return std::move(out_);
}

const XmlElement* XmlElement::Child(absl::string_view child) const {
  for (const XmlElement& c : children) {
    if (c.name == child) return &c;
  }
  return nullptr;
}

namespace {

constexpr int kMaxDepth = 32;

class Parser {
 public:
  explicit Parser(absl::string_view doc) : doc_(doc) {}

  absl::StatusOr<XmlElement> Document() {
    if (absl::Status s = SkipMisc(); !s.ok()) return s;
    if (AtEnd() || Peek() != '<') return Error("no root element");
    XmlElement root;
    if (absl::Status s = Element(&root, 0); !s.ok()) return s;
    if (absl::Status s = SkipMisc(); !s.ok()) return s;
    if (!AtEnd()) return Error("content after the root element");
    return root;
  }

 private:
  bool AtEnd() const { return pos_ >= doc_.size(); }
  char Peek() const { return doc_[pos_]; }
  bool StartsWith(absl::string_view s) const { return doc_.substr(pos_).substr(0, s.size()) == s; }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("malformed XML at byte ", pos_, ": ", what));
  }

  void SkipSpace() {
    while (!AtEnd() && absl::ascii_isspace(static_cast<unsigned char>(Peek()))) ++pos_;
  }

  // Moves past `open` ... `close` (pos_ at `open`); returns what lies
  // between, or an error naming `what` when `close` never comes.
  absl::StatusOr<absl::string_view> SkipSection(absl::string_view open, absl::string_view close,
                                                absl::string_view what) {
    const size_t end = doc_.find(close, pos_);
    if (end == absl::string_view::npos) return Error(absl::StrCat("unterminated ", what));
    const absl::string_view inside = doc_.substr(pos_ + open.size(), end - pos_ - open.size());
    pos_ = end + close.size();
    return inside;
  }

  // Whitespace, the declaration, comments and processing instructions.
  absl::Status SkipMisc() {
    for (;;) {
      SkipSpace();
      absl::StatusOr<absl::string_view> skipped;
      if (StartsWith("<?")) {
        skipped = SkipSection("<?", "?>", "declaration");
      } else if (StartsWith("<!--")) {
        skipped = SkipSection("<!--", "-->", "comment");
      } else {
        return absl::OkStatus();
      }
      if (!skipped.ok()) return skipped.status();
    }
  }

  absl::StatusOr<std::string> Name() {
    const size_t start = pos_;
    while (!AtEnd()) {
      const auto c = static_cast<unsigned char>(Peek());
      if (absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':' || c >= 0x80) {
        ++pos_;
      } else {
        break;
      }
    }
    if (pos_ == start) return Error("expected a name");
    std::string name(doc_.substr(start, pos_ - start));
    const size_t colon = name.rfind(':');
    return colon == std::string::npos ? name : name.substr(colon + 1);
  }

  // Text up to the next '<', entities replaced.
  absl::Status Text(std::string* out) {
    while (!AtEnd() && Peek() != '<') {
      if (Peek() != '&') {
        out->push_back(Peek());
        ++pos_;
        continue;
      }
      const size_t semi = doc_.find(';', pos_);
      if (semi == absl::string_view::npos || semi - pos_ > 10) return Error("bad entity");
      const absl::string_view entity = doc_.substr(pos_ + 1, semi - pos_ - 1);
      if (entity == "amp") out->push_back('&');
      else if (entity == "lt") out->push_back('<');
      else if (entity == "gt") out->push_back('>');
      else if (entity == "quot") out->push_back('"');
      else if (entity == "apos") out->push_back('\'');
      else if (!entity.empty() && entity[0] == '#') {
        uint32_t cp = 0;
        const bool hex = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X');
        const bool ok = hex ? absl::SimpleHexAtoi(entity.substr(2), &cp)
                            : absl::SimpleAtoi(entity.substr(1), &cp);
        if (!ok || cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) {
          return Error("bad character reference");
        }
        AppendUtf8(cp, out);
      } else {
        return Error(absl::StrCat("unknown entity &", entity, ";"));
      }
      pos_ = semi + 1;
    }
    return absl::OkStatus();
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  // Skips attributes up to '>' or '/>'; returns whether the tag closed itself.
  absl::StatusOr<bool> Attributes() {
    for (;;) {
      SkipSpace();
      if (AtEnd()) return Error("unterminated tag");
      if (StartsWith("/>")) {
        pos_ += 2;
        return true;
      }
      if (Peek() == '>') {
        ++pos_;
        return false;
      }
      if (absl::StatusOr<std::string> n = Name(); !n.ok()) return n.status();
      SkipSpace();
      if (AtEnd() || Peek() != '=') return Error("expected '=' in attribute");
      ++pos_;
      SkipSpace();
      if (AtEnd() || (Peek() != '"' && Peek() != '\'')) return Error("expected a quoted value");
      const char quote = Peek();
      const size_t end = doc_.find(quote, pos_ + 1);
      if (end == absl::string_view::npos) return Error("unterminated attribute value");
      pos_ = end + 1;
    }
  }

  absl::Status Element(XmlElement* e, int depth) {
    if (depth >= kMaxDepth) return Error("nested too deeply");
    ++pos_;  // '<'
    absl::StatusOr<std::string> name = Name();
    if (!name.ok()) return name.status();
    e->name = *std::move(name);
    absl::StatusOr<bool> empty = Attributes();
    if (!empty.ok()) return empty.status();
    if (*empty) return absl::OkStatus();
    for (;;) {
      if (absl::Status s = Text(&e->text); !s.ok()) return s;
      if (AtEnd()) return Error(absl::StrCat("<", e->name, "> is not closed"));
      if (StartsWith("<!--")) {
        absl::StatusOr<absl::string_view> comment = SkipSection("<!--", "-->", "comment");
        if (!comment.ok()) return comment.status();
      } else if (StartsWith("<![CDATA[")) {
        absl::StatusOr<absl::string_view> data = SkipSection("<![CDATA[", "]]>", "CDATA");
        if (!data.ok()) return data.status();
        absl::StrAppend(&e->text, *data);
      } else if (StartsWith("</")) {
        pos_ += 2;
        absl::StatusOr<std::string> close = Name();
        if (!close.ok()) return close.status();
        if (*close != e->name) {
          return Error(absl::StrCat("</", *close, "> closes <", e->name, ">"));
        }
        SkipSpace();
        if (AtEnd() || Peek() != '>') return Error("expected '>'");
        ++pos_;
        return absl::OkStatus();
      } else {
        e->children.emplace_back();
        if (absl::Status s = Element(&e->children.back(), depth + 1); !s.ok()) return s;
      }
    }
  }

  absl::string_view doc_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<XmlElement> ParseXml(absl::string_view doc) { return Parser(doc).Document(); }

}  // namespace cellindex::s3
