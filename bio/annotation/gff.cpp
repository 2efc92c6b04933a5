#include "bio/annotation/gff.h"

#include <charconv>
#include <unordered_map>

#include "libseq/core/error.h"

namespace strand::bio::annotation {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Parser {
 public:
  explicit Parser(strand::io::TextLines& lines) : lines_(lines) {}

  Gff3 run() {
    std::string_view line;
    bool fasta = false;
    while (lines_.next(line)) {
      if (fasta) {
        fasta_line(line);
        continue;
      }
      if (line.empty()) continue;
      if (line[0] == '#') {
        if (line.rfind("##FASTA", 0) == 0) {
          fasta = true;
        } else if (line.rfind("##sequence-region", 0) == 0) {
          region(line);
        }
        continue;
      }
      // A FASTA section without the ##FASTA directive is not GFF3; say so rather than "9 columns".
      if (line[0] == '>') fail("a '>' FASTA header in the feature part: GFF3 needs a ##FASTA line before sequences");
      feature(line);
    }
    if (!gff_.sequences.empty()) {
      for (const auto& f : gff_.features) {
        if (index_.count(f.seqid) == 0)
          throw ParseError(Location{lines_.source(), f.line, ""},
                           "feature on seqid '" + f.seqid + "', which the ##FASTA section does not contain");
      }
    }
    return std::move(gff_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw ParseError(Location{lines_.source(), lines_.line_number(), ""}, message);
  }

  int64_t position(std::string_view text, const char* what) const {
    int64_t v = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || v < 1)
      fail(std::string("expected a positive integer ") + what + ", found '" + std::string(text) + "'");
    return v;
  }

  std::string decode(std::string_view s) const {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '%') {
        out.push_back(s[i]);
        continue;
      }
      if (i + 2 >= s.size() || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
        fail("bad percent escape in '" + std::string(s) + "' (expected %XX with two hex digits)");
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    }
    return out;
  }

  void region(std::string_view line) {
    const auto words = split(line, ' ');
    std::vector<std::string_view> w;
    for (auto x : words)
      if (!x.empty()) w.push_back(x);
    if (w.size() != 4) fail("expected '##sequence-region seqid start end', found '" + std::string(line) + "'");
    const int64_t a = position(w[2], "region start");
    const int64_t b = position(w[3], "region end");
    if (a > b) fail("##sequence-region start " + std::to_string(a) + " is after its end " + std::to_string(b));
    gff_.regions.push_back({std::string(w[1]), a - 1, b});
  }

  void feature(std::string_view line) {
    const auto cols = split(line, '\t');
    if (cols.size() != 9)
      fail("expected 9 tab-separated columns in a GFF3 feature line, found " + std::to_string(cols.size()));
    GffFeature f;
    f.line = lines_.line_number();
    f.seqid = decode(cols[0]);
    f.source = decode(cols[1]);
    f.type = decode(cols[2]);
    if (f.seqid.empty()) fail("empty seqid (column 1)");
    if (f.type.empty()) fail("empty type (column 3)");
    const int64_t start = position(cols[3], "start (column 4)");
    const int64_t end = position(cols[4], "end (column 5)");
    if (start > end)
      fail("start " + std::to_string(start) + " is after end " + std::to_string(end) + " (GFF3 needs start <= end)");
    f.begin = start - 1;
    f.end = end;
    f.score = std::string(cols[5]);
    if (cols[6].size() != 1 || std::string_view("+-.?").find(cols[6][0]) == std::string_view::npos)
      fail("expected strand '+', '-', '.' or '?' (column 7), found '" + std::string(cols[6]) + "'");
    f.strand = cols[6][0];
    if (cols[7] == ".") {
      f.phase = -1;
    } else if (cols[7].size() == 1 && cols[7][0] >= '0' && cols[7][0] <= '2') {
      f.phase = cols[7][0] - '0';
    } else {
      fail("expected phase 0, 1, 2 or '.' (column 8), found '" + std::string(cols[7]) + "'");
    }
    if (cols[8] != "." && !cols[8].empty()) {
      for (auto item : split(cols[8], ';')) {
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        if (item.empty()) continue;  // a trailing ';' is common and harmless
        const size_t eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0)
          fail("expected tag=value in the attributes (column 9), found '" + std::string(item) + "'");
        std::string tag = decode(item.substr(0, eq));
        if (f.attributes.count(tag) != 0) fail("attribute '" + tag + "' appears twice");
        f.attributes.emplace(std::move(tag), decode(item.substr(eq + 1)));
      }
    }
    gff_.features.push_back(std::move(f));
  }

  void fasta_line(std::string_view line) {
    if (line.empty()) return;
    if (line[0] == '>') {
      std::string_view h = line.substr(1);
      while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
      const size_t sp = h.find_first_of(" \t");
      GffSequence s;
      s.name = std::string(h.substr(0, sp));
      if (s.name.empty()) fail("FASTA header without a name in the ##FASTA section");
      if (sp != std::string_view::npos) {
        std::string_view d = h.substr(sp);
        while (!d.empty() && (d.front() == ' ' || d.front() == '\t')) d.remove_prefix(1);
        s.description = std::string(d);
      }
      if (!index_.emplace(s.name, gff_.sequences.size()).second)
        fail("sequence '" + s.name + "' appears twice in the ##FASTA section");
      gff_.sequences.push_back(std::move(s));
      return;
    }
    if (gff_.sequences.empty()) fail("sequence text before the first '>' header in the ##FASTA section");
    for (const char c : line) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '*' || c == '-';
      if (!ok)
        fail("unexpected character '" + std::string(1, c) + "' in sequence '" + gff_.sequences.back().name + "'");
    }
    gff_.sequences.back().seq.append(line);
  }

  strand::io::TextLines& lines_;
  Gff3 gff_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace

const std::string& GffFeature::attribute(const std::string& tag) const {
  static const std::string empty;
  const auto it = attributes.find(tag);
  return it == attributes.end() ? empty : it->second;
}

const GffSequence* Gff3::sequence(const std::string& name) const {
  for (const auto& s : sequences)
    if (s.name == name) return &s;
  return nullptr;
}

Gff3 parse_gff3(strand::io::TextLines& lines) { return Parser(lines).run(); }

Gff3 read_gff3(const std::string& path) {
  strand::io::TextLines lines = strand::io::TextLines::open(path);
  return parse_gff3(lines);
}

}  // namespace strand::bio::annotation
