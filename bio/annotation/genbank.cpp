#include "bio/annotation/genbank.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "bio/alphabet.h"
#include "libseq/core/error.h"

namespace strand::bio::annotation {
namespace {

// Recursive-descent parser for INSDC locations (spaces already removed).
class LocationParser {
 public:
  LocationParser(std::string_view text, const std::string& source, int64_t line)
      : s_(text), source_(source), line_(line) {}

  std::vector<LocationPart> run() {
    if (s_.empty()) fail("empty location");
    auto parts = expr();
    if (pos_ != s_.size()) fail("unexpected '" + std::string(1, s_[pos_]) + "'");
    return parts;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw ParseError(Location{source_, line_, ""},
                     "bad location '" + std::string(s_) + "' at offset " + std::to_string(pos_) + ": " + what);
  }

  bool take(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  void expect(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c)
      fail(std::string("expected '") + c + "', found " +
           (pos_ < s_.size() ? "'" + std::string(1, s_[pos_]) + "'" : std::string("the end")));
    ++pos_;
  }

  std::vector<LocationPart> list() {
    expect('(');
    std::vector<LocationPart> out;
    for (;;) {
      auto p = expr();
      out.insert(out.end(), p.begin(), p.end());
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      expect(')');
      return out;
    }
  }

  std::vector<LocationPart> expr() {
    // Real locations nest two or three operators deep; the bound keeps hostile input from
    // exhausting the stack.
    if (++depth_ > 32) fail("operators nested more than 32 deep");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    if (take("complement")) {
      expect('(');
      auto inner = expr();
      expect(')');
      std::reverse(inner.begin(), inner.end());
      for (auto& p : inner) p.strand = p.strand == '+' ? '-' : '+';
      return inner;
    }
    if (take("join") || take("order")) return list();
    return {range()};
  }

  int64_t number() {
    const size_t start = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    if (pos_ == start) {
      if (pos_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_])))
        fail("remote locations (ACCESSION:range) and unknown operators are not supported");
      fail("expected a base number");
    }
    int64_t v = 0;
    const auto [p, ec] = std::from_chars(s_.data() + start, s_.data() + pos_, v);
    if (ec != std::errc() || v < 1) fail("base numbers start at 1");
    (void)p;
    return v;
  }

  LocationPart range() {
    LocationPart part;
    if (pos_ < s_.size() && s_[pos_] == '<') {
      part.partial_begin = true;
      ++pos_;
    }
    const int64_t a = number();
    if (pos_ < s_.size() && s_[pos_] == ':') fail("remote locations (ACCESSION:range) are not supported");
    if (pos_ < s_.size() && s_[pos_] == '^') {
      ++pos_;
      const int64_t b = number();
      if (b != a + 1) fail("a site a^b needs b = a + 1 (circular origin sites are not supported)");
      part.begin = part.end = a;  // between base a (0-based a-1) and a+1 (0-based a)
      return part;
    }
    if (take("..")) {
      if (pos_ < s_.size() && s_[pos_] == '>') {
        part.partial_end = true;
        ++pos_;
      }
      const int64_t b = number();
      if (b < a) fail("range " + std::to_string(a) + ".." + std::to_string(b) + " ends before it starts");
      part.begin = a - 1;
      part.end = b;
      return part;
    }
    part.begin = a - 1;
    part.end = a;
    return part;
  }

  std::string_view s_;
  const std::string& source_;
  int64_t line_;
  size_t pos_ = 0;
  int depth_ = 0;
};

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

// Number of unescaped quote characters: a value is complete when it is even.
size_t count_quotes(std::string_view s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '"')); }

class Parser {
 public:
  explicit Parser(strand::io::TextLines& lines) : lines_(lines) {}

  std::vector<GenBankRecord> run() {
    std::string_view line;
    while (lines_.next(line)) {
      if (trim(line).empty()) continue;
      if (line.rfind("LOCUS", 0) != 0)
        fail("expected a record starting with 'LOCUS', found '" + std::string(line.substr(0, 40)) + "'");
      record(line);
    }
    return std::move(records_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw ParseError(Location{lines_.source(), lines_.line_number(), ""}, message);
  }

  enum class Section { Header, Features, Origin };

  void record(std::string_view locus) {
    GenBankRecord r;
    r.line = lines_.line_number();
    {
      std::vector<std::string> w;
      size_t i = 5;
      while (i < locus.size()) {
        while (i < locus.size() && locus[i] == ' ') ++i;
        const size_t j = locus.find(' ', i);
        const size_t e = j == std::string_view::npos ? locus.size() : j;
        if (e > i) w.emplace_back(locus.substr(i, e - i));
        i = e;
      }
      if (w.size() < 2) fail("expected 'LOCUS name length bp ...', found '" + std::string(locus) + "'");
      r.name = w[0];
      const auto [p, ec] = std::from_chars(w[1].data(), w[1].data() + w[1].size(), r.length);
      if (ec != std::errc() || p != w[1].data() + w[1].size() || r.length < 0)
        fail("expected the sequence length after the LOCUS name, found '" + w[1] + "'");
      if (w.size() >= 4 && (w[2] == "bp" || w[2] == "aa")) r.molecule = w[3];
    }
    Section section = Section::Header;
    std::string header_key;
    GenBankFeature* feature = nullptr;
    bool in_location = false;
    std::string_view line;
    auto finish_feature = [&]() {
      if (feature == nullptr) return;
      if (!feature->qualifiers.empty() && count_quotes(feature->qualifiers.back().second) % 2 != 0)
        throw ParseError(Location{lines_.source(), feature->line, ""},
                         "unterminated quoted value of /" + feature->qualifiers.back().first);
      feature->parts = parse_location(feature->location, lines_.source(), feature->line);
      for (auto& [name, value] : feature->qualifiers) value = unquote(value);
      feature = nullptr;
    };
    while (lines_.next(line)) {
      if (line.rfind("//", 0) == 0) {
        finish_feature();
        check_record(r);
        records_.push_back(std::move(r));
        return;
      }
      if (section == Section::Origin) {
        for (const char c : line) {
          if (std::isalpha(static_cast<unsigned char>(c))) {
            r.sequence.push_back(c);
          } else if (!std::isdigit(static_cast<unsigned char>(c)) && c != ' ' && c != '\t') {
            fail("unexpected character '" + std::string(1, c) + "' in the ORIGIN sequence of '" + r.name + "'");
          }
        }
        continue;
      }
      if (!line.empty() && line[0] != ' ') {  // a new top-level section
        finish_feature();
        const size_t sp = line.find(' ');
        header_key = std::string(line.substr(0, sp));
        const std::string rest = sp == std::string_view::npos ? "" : trim(line.substr(sp));
        if (header_key == "FEATURES") {
          section = Section::Features;
        } else if (header_key == "ORIGIN") {
          section = Section::Origin;
        } else {
          section = Section::Header;
          if (header_key == "DEFINITION") r.definition = rest;
          if (header_key == "ACCESSION") r.accession = rest;
        }
        continue;
      }
      if (section == Section::Header) {  // continuation of a header section
        if (header_key == "DEFINITION") r.definition += " " + trim(line);
        continue;
      }
      // FEATURES block: key lines have the key at column 6 (5 spaces), everything else is
      // indented 21 columns.
      const size_t indent = line.find_first_not_of(' ');
      if (indent == std::string_view::npos) continue;
      const bool open_quote =
          feature != nullptr && !feature->qualifiers.empty() && count_quotes(feature->qualifiers.back().second) % 2;
      if (indent < 21 && !open_quote) {
        finish_feature();
        const size_t key_end = line.find(' ', indent);
        if (key_end == std::string_view::npos)
          fail("feature key '" + std::string(line.substr(indent)) + "' has no location");
        r.features.emplace_back();
        feature = &r.features.back();
        feature->key = std::string(line.substr(indent, key_end - indent));
        feature->line = lines_.line_number();
        for (const char c : line.substr(key_end))
          if (c != ' ') feature->location.push_back(c);
        in_location = true;
        continue;
      }
      if (feature == nullptr) fail("qualifier or location text before the first feature key");
      const std::string_view text = line.substr(indent);
      if (open_quote) {
        auto& value = feature->qualifiers.back();
        if (value.first != "translation") value.second.push_back(' ');
        value.second += trim(text);
        continue;
      }
      if (text[0] == '/') {
        in_location = false;
        const size_t eq = text.find('=');
        std::string name = std::string(text.substr(1, eq == std::string_view::npos ? text.size() - 1 : eq - 1));
        if (name.empty()) fail("qualifier without a name");
        std::string value = eq == std::string_view::npos ? "" : trim(text.substr(eq + 1));
        feature->qualifiers.emplace_back(std::move(name), std::move(value));
        continue;
      }
      if (in_location) {
        for (const char c : text)
          if (c != ' ') feature->location.push_back(c);
        continue;
      }
      fail("expected a /qualifier, found '" + std::string(text.substr(0, 40)) + "'");
    }
    fail("the file ends inside record '" + r.name + "' (no '//' line)");
  }

  static std::string unquote(const std::string& v) {
    if (v.size() < 2 || v.front() != '"' || v.back() != '"') return v;
    std::string out;
    for (size_t i = 1; i + 1 < v.size(); ++i) {
      out.push_back(v[i]);
      if (v[i] == '"' && i + 2 < v.size() && v[i + 1] == '"') ++i;  // "" is an escaped quote
    }
    return out;
  }

  void check_record(const GenBankRecord& r) const {
    if (!r.sequence.empty() && static_cast<int64_t>(r.sequence.size()) != r.length)
      throw ParseError(Location{lines_.source(), r.line, ""},
                       "record '" + r.name + "': LOCUS says " + std::to_string(r.length) + " but ORIGIN holds " +
                           std::to_string(r.sequence.size()) + " letters");
    for (const auto& f : r.features)
      for (const auto& p : f.parts)
        if (p.end > r.length)
          throw ParseError(Location{lines_.source(), f.line, ""},
                           "location '" + f.location + "' of " + f.key + " ends at " + std::to_string(p.end) +
                               ", past the record length " + std::to_string(r.length));
  }

  strand::io::TextLines& lines_;
  std::vector<GenBankRecord> records_;
};

}  // namespace

std::vector<LocationPart> parse_location(std::string_view text, const std::string& source, int64_t line) {
  std::string compact;
  for (const char c : text)
    if (c != ' ') compact.push_back(c);
  return LocationParser(compact, source, line).run();
}

std::string location_sequence(const std::vector<LocationPart>& parts, std::string_view seq) {
  std::string out;
  for (const auto& p : parts) {
    STRAND_CHECK(p.begin >= 0 && p.end >= p.begin && p.end <= static_cast<int64_t>(seq.size()),
                 "location part ", p.begin + 1, "..", p.end, " lies outside a sequence of ", seq.size(), " bases");
    const std::string_view piece = seq.substr(static_cast<size_t>(p.begin), static_cast<size_t>(p.end - p.begin));
    if (p.strand == '-') {
      out += reverse_complement(piece);
    } else {
      out.append(piece);
    }
  }
  return out;
}

const std::string& GenBankFeature::qualifier(const std::string& name) const {
  static const std::string empty;
  for (const auto& [k, v] : qualifiers)
    if (k == name) return v;
  return empty;
}

bool GenBankFeature::has_qualifier(const std::string& name) const {
  for (const auto& q : qualifiers)
    if (q.first == name) return true;
  return false;
}

std::vector<GenBankRecord> parse_genbank(strand::io::TextLines& lines) { return Parser(lines).run(); }

std::vector<GenBankRecord> read_genbank(const std::string& path) {
  strand::io::TextLines lines = strand::io::TextLines::open(path);
  return parse_genbank(lines);
}

}  // namespace strand::bio::annotation
