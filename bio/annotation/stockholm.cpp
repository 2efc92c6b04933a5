#include "bio/annotation/stockholm.h"

#include <cctype>
#include <unordered_map>

#include "libseq/core/error.h"

namespace strand::bio::annotation {
namespace {

// Splits off the first whitespace-delimited word of `s` (leading blanks skipped); `s` keeps the rest
// with its leading blanks removed.
std::string_view word(std::string_view& s) {
  size_t a = 0;
  while (a < s.size() && (s[a] == ' ' || s[a] == '\t')) ++a;
  size_t b = a;
  while (b < s.size() && s[b] != ' ' && s[b] != '\t') ++b;
  const std::string_view w = s.substr(a, b - a);
  size_t c = b;
  while (c < s.size() && (s[c] == ' ' || s[c] == '\t')) ++c;
  s.remove_prefix(c);
  return w;
}

std::string_view rtrim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

class Parser {
 public:
  explicit Parser(strand::io::TextLines& lines) : lines_(lines) {}

  std::vector<StockholmAlignment> run() {
    std::string_view line;
    bool inside = false;
    while (lines_.next(line)) {
      const std::string_view t = rtrim(line);
      if (!inside) {
        if (t.empty()) continue;
        if (t.rfind("# STOCKHOLM", 0) != 0)
          fail("expected '# STOCKHOLM 1.0' to start an alignment, found '" + std::string(t.substr(0, 40)) + "'");
        inside = true;
        current_ = StockholmAlignment{};
        current_.line = lines_.line_number();
        index_.clear();
        gr_.clear();
        continue;
      }
      if (t.empty()) continue;
      if (t == "//") {
        finish();
        inside = false;
        continue;
      }
      if (t.rfind("# STOCKHOLM", 0) == 0) fail("a new '# STOCKHOLM' header inside an alignment (missing '//')");
      if (t.rfind("#=GF", 0) == 0) {
        std::string_view rest = t.substr(4);
        const std::string tag(word(rest));
        if (tag.empty()) fail("#=GF line without a tag");
        current_.gf.emplace_back(tag, std::string(rest));
      } else if (t.rfind("#=GS", 0) == 0) {
        std::string_view rest = t.substr(4);
        const std::string name(word(rest));
        const std::string tag(word(rest));
        if (name.empty() || tag.empty()) fail("expected '#=GS name TAG text'");
        auto& v = current_.gs[name][tag];
        if (!v.empty()) v.push_back(' ');
        v.append(rest);
      } else if (t.rfind("#=GC", 0) == 0) {
        std::string_view rest = t.substr(4);
        const std::string tag(word(rest));
        const std::string_view row = word(rest);
        if (tag.empty() || row.empty()) fail("expected '#=GC TAG row'");
        current_.gc[tag].append(row);
      } else if (t.rfind("#=GR", 0) == 0) {
        std::string_view rest = t.substr(4);
        const std::string name(word(rest));
        const std::string tag(word(rest));
        const std::string_view row = word(rest);
        if (name.empty() || tag.empty() || row.empty()) fail("expected '#=GR name TAG row'");
        gr_[name + "\t" + tag].append(row);
      } else if (t[0] == '#') {
        continue;
      } else {
        std::string_view rest = t;
        const std::string name(word(rest));
        const std::string_view row = word(rest);
        if (row.empty()) fail("sequence line '" + name + "' has no aligned row");
        if (!rest.empty()) fail("sequence line '" + name + "' has text after its row: '" + std::string(rest) + "'");
        auto [it, fresh] = index_.emplace(name, current_.names.size());
        if (fresh) {
          current_.names.push_back(name);
          current_.rows.emplace_back();
        }
        current_.rows[it->second].append(row);
      }
    }
    if (inside) fail("the file ends inside an alignment (no '//' line)");
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw ParseError(Location{lines_.source(), lines_.line_number(), ""}, message);
  }

  void finish() {
    if (current_.rows.empty()) fail("alignment without sequences");
    const size_t n = current_.rows.front().size();
    for (size_t i = 0; i < current_.rows.size(); ++i) {
      if (current_.rows[i].size() != n)
        fail("aligned row '" + current_.names[i] + "' has " + std::to_string(current_.rows[i].size()) +
             " columns but '" + current_.names.front() + "' has " + std::to_string(n));
    }
    for (const auto& [tag, row] : current_.gc)
      if (row.size() != n)
        fail("#=GC " + tag + " has " + std::to_string(row.size()) + " columns, the alignment " + std::to_string(n));
    for (const auto& [key, row] : gr_)
      if (row.size() != n)
        fail("#=GR " + key.substr(0, key.find('\t')) + " " + key.substr(key.find('\t') + 1) + " has " +
             std::to_string(row.size()) + " columns, the alignment " + std::to_string(n));
    out_.push_back(std::move(current_));
  }

  strand::io::TextLines& lines_;
  StockholmAlignment current_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> gr_;
  std::vector<StockholmAlignment> out_;
};

}  // namespace

std::string StockholmAlignment::gf_value(const std::string& tag) const {
  std::string out;
  for (const auto& [t, v] : gf) {
    if (t != tag) continue;
    if (!out.empty()) out.push_back(' ');
    out += v;
  }
  return out;
}

std::string ungapped_upper(std::string_view row) {
  std::string out;
  out.reserve(row.size());
  for (const char c : row) {
    if (c == '-' || c == '.' || c == '_' || c == '~') continue;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

std::vector<StockholmAlignment> parse_stockholm(strand::io::TextLines& lines) { return Parser(lines).run(); }

std::vector<StockholmAlignment> read_stockholm(const std::string& path) {
  strand::io::TextLines lines = strand::io::TextLines::open(path);
  return parse_stockholm(lines);
}

}  // namespace strand::bio::annotation
