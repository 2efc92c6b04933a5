#include "bio/genetic_code.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "bio/alphabet.h"
#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"

namespace strand::bio {
namespace {

struct EmbeddedTable {
  int id;
  const char* name;
  const char* short_name;  // "" when gc.prt gives none
  const char* ncbieaa;
  const char* sncbieaa;
};

// NCBI gc.prt version 4.2 (public domain), transcribed table by table; test_genetic_code checks
// every entry against the file.
constexpr EmbeddedTable kNcbiTables[] = {
    {1, "Standard", "SGC0",
     "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "---M------**--*----M---------------M----------------------------"},
    {2, "Vertebrate Mitochondrial", "SGC1",
     "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSS**VVVVAAAADDEEGGGG",
     "----------**--------------------MMMM----------**---M------------"},
    {3, "Yeast Mitochondrial", "SGC2",
     "FFLLSSSSYY**CCWWTTTTPPPPHHQQRRRRIIMMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "----------**----------------------MM----------------------------"},
    {4, "Mold Mitochondrial; Protozoan Mitochondrial; Coelenterate Mitochondrial; Mycoplasma; Spiroplasma",
     "SGC3",
     "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "--MM------**-------M------------MMMM---------------M------------"},
    {5, "Invertebrate Mitochondrial", "SGC4",
     "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSSSSVVVVAAAADDEEGGGG",
     "---M------**--------------------MMMM---------------M------------"},
    {6, "Ciliate Nuclear; Dasycladacean Nuclear; Hexamita Nuclear", "SGC5",
     "FFLLSSSSYYQQCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "--------------*--------------------M----------------------------"},
    {9, "Echinoderm Mitochondrial; Flatworm Mitochondrial", "SGC8",
     "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNNKSSSSVVVVAAAADDEEGGGG",
     "----------**-----------------------M---------------M------------"},
    {10, "Euplotid Nuclear", "SGC9",
     "FFLLSSSSYY**CCCWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "----------**-----------------------M----------------------------"},
    {11, "Bacterial, Archaeal and Plant Plastid", "",
     "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "---M------**--*----M------------MMMM---------------M------------"},
    {12, "Alternative Yeast Nuclear", "",
     "FFLLSSSSYY**CC*WLLLSPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "----------**--*----M---------------M----------------------------"},
    {13, "Ascidian Mitochondrial", "",
     "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSSGGVVVVAAAADDEEGGGG",
     "---M------**----------------------MM---------------M------------"},
    {14, "Alternative Flatworm Mitochondrial", "",
     "FFLLSSSSYYY*CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNNKSSSSVVVVAAAADDEEGGGG",
     "-----------*-----------------------M----------------------------"},
    {15, "Blepharisma Macronuclear", "",
     "FFLLSSSSYY*QCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "----------*---*--------------------M----------------------------"},
    {16, "Chlorophycean Mitochondrial", "",
     "FFLLSSSSYY*LCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "----------*---*--------------------M----------------------------"},
    {21, "Trematode Mitochondrial", "",
     "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNNKSSSSVVVVAAAADDEEGGGG",
     "----------**-----------------------M---------------M------------"},
    {22, "Scenedesmus obliquus Mitochondrial", "",
     "FFLLSS*SYY*LCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "------*---*---*--------------------M----------------------------"},
    {23, "Thraustochytrium Mitochondrial", "",
     "FF*LSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "--*-------**--*-----------------M--M---------------M------------"},
    {24, "Pterobranchia Mitochondrial", "",
     "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSSKVVVVAAAADDEEGGGG",
     "---M------**-------M---------------M---------------M------------"},
    {25, "Candidate Division SR1 and Gracilibacteria", "",
     "FFLLSSSSYY**CCGWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "---M------**-----------------------M---------------M------------"},
    {26, "Pachysolen tannophilus Nuclear", "",
     "FFLLSSSSYY**CC*WLLLAPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "----------**--*----M---------------M----------------------------"},
    {27, "Karyorelict Nuclear", "",
     "FFLLSSSSYYQQCCWWLLLAPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "--------------*--------------------M----------------------------"},
    {28, "Condylostoma Nuclear", "",
     "FFLLSSSSYYQQCCWWLLLAPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "----------**--*--------------------M----------------------------"},
    {29, "Mesodinium Nuclear", "",
     "FFLLSSSSYYYYCC*WLLLAPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "--------------*--------------------M----------------------------"},
    {30, "Peritrich Nuclear", "",
     "FFLLSSSSYYEECC*WLLLAPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "--------------*--------------------M----------------------------"},
    {31, "Blastocrithidia Nuclear", "",
     "FFLLSSSSYYEECCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
     "----------**-----------------------M----------------------------"},
};

// TCAG position of a single-base mask (T = 0, C = 1, A = 2, G = 3).
int tcag_of_bit(BaseMask bit) {
  switch (bit) {
    case kBaseT: return 0;
    case kBaseC: return 1;
    case kBaseA: return 2;
    default: return 3;
  }
}

// The TCAG-order indices of every expansion of a codon of base masks, in increasing order.
std::vector<int> expand(BaseMask m1, BaseMask m2, BaseMask m3) {
  std::vector<int> out;
  for (int b1 = 0; b1 < 4; ++b1) {
    if (!(m1 & (1 << b1))) continue;
    for (int b2 = 0; b2 < 4; ++b2) {
      if (!(m2 & (1 << b2))) continue;
      for (int b3 = 0; b3 < 4; ++b3) {
        if (!(m3 & (1 << b3))) continue;
        out.push_back(16 * tcag_of_bit(static_cast<BaseMask>(1 << b1)) +
                      4 * tcag_of_bit(static_cast<BaseMask>(1 << b2)) + tcag_of_bit(static_cast<BaseMask>(1 << b3)));
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool valid_residue(char c) { return (c >= 'A' && c <= 'Z') || c == '*'; }
bool valid_mark(char c) { return c == 'M' || c == '*' || c == '-'; }

char normalize_residue(char amino_acid) {
  const char aa = static_cast<char>(std::toupper(static_cast<unsigned char>(amino_acid)));
  STRAND_CHECK(valid_residue(aa), "genetic code: ", describe_char(amino_acid),
               " is not an amino-acid letter or '*'");
  return aa;
}

// ---------------------------------------------------------------------------------------------
// gc.prt reader: a small lexer and recursive-descent parser for the subset of ASN.1 value
// notation that gc.prt uses.

class GcPrtParser {
 public:
  GcPrtParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  std::vector<GeneticCodeTable> parse() {
    Token t = next();
    if (t.kind != Kind::Word || t.value != "Genetic-code-table") fail(t, "'Genetic-code-table'");
    expect(Kind::Assign, "'::='");
    expect(Kind::LBrace, "'{' opening the list of tables");
    std::vector<GeneticCodeTable> tables;
    std::map<int, int64_t> seen_ids;
    for (;;) {
      const Token open = expect(Kind::LBrace, "'{' opening a table");
      tables.push_back(parse_table(open.line));
      const auto [it, fresh] = seen_ids.emplace(tables.back().id, open.line);
      if (!fresh) {
        error(open.line, strand::detail::str("table id ", tables.back().id, " repeats the table at line ", it->second));
      }
      const Token sep = next();
      if (sep.kind == Kind::RBrace) break;
      if (sep.kind != Kind::Comma) fail(sep, "',' or '}' after a table");
    }
    const Token end = next();
    if (end.kind != Kind::End) fail(end, "end of file after the table list");
    return tables;
  }

 private:
  enum class Kind { Word, Number, String, LBrace, RBrace, Comma, Assign, End };
  struct Token {
    Kind kind;
    std::string value;
    int64_t line;
  };
  struct Comment {
    std::string text;
    int64_t line;
  };

  [[noreturn]] void error(int64_t line, const std::string& message) const {
    throw ParseError(Location{source_, line, ""}, "[gc.prt] " + message);
  }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Kind::Word: return "'" + t.value + "'";
      case Kind::Number: return "number " + t.value;
      case Kind::String: return "string \"" + t.value.substr(0, 40) + (t.value.size() > 40 ? "...\"" : "\"");
      case Kind::LBrace: return "'{'";
      case Kind::RBrace: return "'}'";
      case Kind::Comma: return "','";
      case Kind::Assign: return "'::='";
      case Kind::End: return "end of file";
    }
    return "token";
  }

  [[noreturn]] void fail(const Token& found, const std::string& expected) const {
    error(found.line, "expected " + expected + ", found " + describe(found));
  }

  Token expect(Kind kind, const std::string& expected) {
    Token t = next();
    if (t.kind != kind) fail(t, expected);
    return t;
  }

  // Skips white space and comments; a comment runs from "--" to the next "--" or end of line.
  void skip_space() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '-') {
        pos_ += 2;
        const size_t start = pos_;
        while (pos_ < text_.size() && text_[pos_] != '\n' &&
               !(text_[pos_] == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '-')) {
          ++pos_;
        }
        comments_.push_back(Comment{std::string(text_.substr(start, pos_ - start)), line_});
        if (pos_ < text_.size() && text_[pos_] == '-') pos_ += 2;
      } else {
        return;
      }
    }
  }

  Token next() {
    skip_space();
    const int64_t line = line_;
    if (pos_ >= text_.size()) return Token{Kind::End, "", line};
    const char c = text_[pos_];
    switch (c) {
      case '{': ++pos_; return Token{Kind::LBrace, "{", line};
      case '}': ++pos_; return Token{Kind::RBrace, "}", line};
      case ',': ++pos_; return Token{Kind::Comma, ",", line};
      default: break;
    }
    if (text_.substr(pos_, 3) == "::=") {
      pos_ += 3;
      return Token{Kind::Assign, "::=", line};
    }
    if (c == '"') return lex_string();
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      const size_t start = pos_++;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      return Token{Kind::Number, std::string(text_.substr(start, pos_ - start)), line};
    }
    if (std::isalpha(static_cast<unsigned char>(c))) {
      const size_t start = pos_++;
      while (pos_ < text_.size()) {
        const char d = text_[pos_];
        const bool hyphen = d == '-' && !(pos_ + 1 < text_.size() && text_[pos_ + 1] == '-');
        if (!std::isalnum(static_cast<unsigned char>(d)) && !hyphen) break;
        ++pos_;
      }
      return Token{Kind::Word, std::string(text_.substr(start, pos_ - start)), line};
    }
    error(line, "unexpected character " + describe_char(c));
  }

  // A quoted string; '""' stands for '"' and line breaks inside are dropped.
  Token lex_string() {
    const int64_t line = line_;
    std::string value;
    ++pos_;
    for (;;) {
      if (pos_ >= text_.size()) error(line, "unterminated string (no closing '\"')");
      const char c = text_[pos_++];
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          value += '"';
          ++pos_;
          continue;
        }
        return Token{Kind::String, value, line};
      }
      if (c == '\n') {
        ++line_;
      } else if (c != '\r') {
        value += c;
      }
    }
  }

  GeneticCodeTable parse_table(int64_t open_line) {
    GeneticCodeTable table;
    const size_t first_comment = comments_.size();
    std::optional<int64_t> id_line, aa_line, marks_line;
    for (;;) {
      const Token key = next();
      if (key.kind != Kind::Word) fail(key, "a table entry (name, id, ncbieaa or sncbieaa)");
      if (key.value == "name") {
        table.names.push_back(expect(Kind::String, "a quoted name after 'name'").value);
      } else if (key.value == "id") {
        if (id_line) error(key.line, strand::detail::str("second 'id' in the table (first at line ", *id_line, ")"));
        const Token value = expect(Kind::Number, "a table number after 'id'");
        if (value.value.empty() || value.value[0] == '-' || value.value.size() > 9 || std::stoi(value.value) <= 0) {
          error(value.line, "expected a positive table id, found " + value.value);
        }
        table.id = std::stoi(value.value);
        id_line = key.line;
      } else if (key.value == "ncbieaa" || key.value == "sncbieaa") {
        const bool marks = key.value == "sncbieaa";
        std::optional<int64_t>& seen = marks ? marks_line : aa_line;
        if (seen) error(key.line, strand::detail::str("second '", key.value, "' in the table (first at line ", *seen, ")"));
        const Token value = expect(Kind::String, "a quoted 64-letter string after '" + key.value + "'");
        check_letters(value, key.value, marks);
        (marks ? table.sncbieaa : table.ncbieaa) = value.value;
        seen = key.line;
      } else {
        fail(key, "a table entry (name, id, ncbieaa or sncbieaa)");
      }
      const Token sep = next();
      if (sep.kind == Kind::RBrace) {
        if (table.names.empty()) error(open_line, "table has no 'name'");
        if (!id_line) error(open_line, "table has no 'id'");
        if (!aa_line) error(open_line, "table has no 'ncbieaa'");
        if (!marks_line) error(open_line, "table has no 'sncbieaa'");
        apply_base_rows(table, first_comment, open_line);
        return table;
      }
      if (sep.kind != Kind::Comma) fail(sep, "',' or '}' after a table entry");
    }
  }

  void check_letters(const Token& value, const std::string& key, bool marks) const {
    if (value.value.size() != 64) {
      error(value.line, strand::detail::str("'", key, "' must have 64 letters (one per codon), found ", value.value.size()));
    }
    for (size_t i = 0; i < value.value.size(); ++i) {
      const char c = value.value[i];
      if (marks ? !valid_mark(c) : !valid_residue(c)) {
        error(value.line, strand::detail::str("'", key, "' column ", i + 1, ": expected ",
                                      marks ? "'M', '*' or '-'" : "an amino-acid letter or '*'", ", found ",
                                      describe_char(c)));
      }
    }
  }

  // Reorders ncbieaa/sncbieaa into TCAG order using the "-- Base1/2/3" comment rows, if present.
  void apply_base_rows(GeneticCodeTable& table, size_t first_comment, int64_t open_line) const {
    std::array<std::optional<std::pair<std::string, int64_t>>, 3> rows;
    for (size_t i = first_comment; i < comments_.size(); ++i) {
      const std::string& text = comments_[i].text;
      const size_t start = text.find_first_not_of(" \t");
      if (start == std::string::npos || text.compare(start, 4, "Base") != 0 || start + 5 > text.size()) continue;
      const char digit = text[start + 4];
      if (digit < '1' || digit > '3') continue;
      if (start + 5 < text.size() && text[start + 5] != ' ' && text[start + 5] != '\t') continue;
      const int64_t line = comments_[i].line;
      auto& row = rows[static_cast<size_t>(digit - '1')];
      if (row) error(line, strand::detail::str("second 'Base", digit, "' row in the table (first at line ", row->second, ")"));
      const size_t from = text.find_first_not_of(" \t", start + 5);
      std::string bases = from == std::string::npos ? "" : text.substr(from);
      bases.erase(bases.find_last_not_of(" \t\r") + 1);
      if (bases.size() != 64 || bases.find_first_not_of("TCAG") != std::string::npos) {
        error(line, strand::detail::str("'Base", digit, "' row must be 64 letters of T, C, A, G, found '", bases, "'"));
      }
      row = std::make_pair(bases, line);
    }
    const int present = static_cast<int>(rows[0].has_value()) + rows[1].has_value() + rows[2].has_value();
    if (present == 0) return;
    if (present != 3) {
      error(open_line, strand::detail::str("table ", table.id, " has only ", present, " of the rows Base1, Base2, Base3"));
    }
    std::string aa(64, '?'), marks(64, '?');
    std::array<int, 64> column_of{};
    column_of.fill(-1);
    for (int j = 0; j < 64; ++j) {
      const std::string codon{rows[0]->first[j], rows[1]->first[j], rows[2]->first[j]};
      const int index = codon_index(codon);
      if (column_of[index] >= 0) {
        error(rows[0]->second, strand::detail::str("Base rows list codon ", codon, " twice (columns ", column_of[index] + 1,
                                           " and ", j + 1, ")"));
      }
      column_of[index] = j;
      aa[index] = table.ncbieaa[j];
      marks[index] = table.sncbieaa[j];
    }
    table.ncbieaa = aa;
    table.sncbieaa = marks;
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  std::vector<Comment> comments_;
};

std::vector<GeneticCode> build_registry() {
  std::vector<GeneticCode> codes;
  for (const EmbeddedTable& t : kNcbiTables) {
    GeneticCodeTable table;
    table.id = t.id;
    table.names.emplace_back(t.name);
    if (*t.short_name) table.names.emplace_back(t.short_name);
    table.ncbieaa = t.ncbieaa;
    table.sncbieaa = t.sncbieaa;
    codes.emplace_back(std::move(table));
  }
  return codes;
}

const std::vector<GeneticCode>& registry() {
  static const std::vector<GeneticCode> codes = build_registry();
  return codes;
}

}  // namespace

std::vector<GeneticCodeTable> parse_gc_prt(std::string_view text, const std::string& source) {
  return GcPrtParser(text, source).parse();
}

std::vector<GeneticCodeTable> read_gc_prt(const std::string& path) {
  return parse_gc_prt(io::read_file(path), path);
}

const std::array<std::string, 64>& codons_tcag() {
  static const std::array<std::string, 64> codons = [] {
    std::array<std::string, 64> out;
    constexpr char kTcag[] = "TCAG";
    for (int i = 0; i < 64; ++i) out[i] = std::string{kTcag[i / 16], kTcag[(i / 4) % 4], kTcag[i % 4]};
    return out;
  }();
  return codons;
}

int codon_index(std::string_view codon) {
  STRAND_CHECK(codon.size() == 3, "codon_index: a codon has 3 bases, found ", codon.size(), " in '", codon, "'");
  int index = 0;
  for (size_t i = 0; i < 3; ++i) {
    const BaseMask m = base_mask(codon[i]);
    STRAND_CHECK(m == kBaseA || m == kBaseC || m == kBaseG || m == kBaseT, "codon_index: codon '", codon,
                 "' has ", describe_char(codon[i]), " at position ", i, ", expected one of A, C, G, T, U");
    index = index * 4 + tcag_of_bit(m);
  }
  return index;
}

const GeneticCode& GeneticCode::ncbi(int id) {
  for (const GeneticCode& code : registry()) {
    if (code.id() == id) return code;
  }
  std::string valid;
  for (const int known : ncbi_ids()) valid += (valid.empty() ? "" : ", ") + std::to_string(known);
  const char* note = id == 7 ? " (NCBI merged table 7 into table 4)"
                     : id == 8 ? " (NCBI merged table 8 into table 1)"
                               : "";
  throw InputError(strand::detail::str("unknown NCBI genetic code ", id, note, "; valid ids: ", valid));
}

std::vector<int> GeneticCode::ncbi_ids() {
  std::vector<int> ids;
  for (const EmbeddedTable& t : kNcbiTables) ids.push_back(t.id);
  return ids;
}

GeneticCode::GeneticCode(GeneticCodeTable table) : table_(std::move(table)) {
  STRAND_CHECK(!table_.names.empty(), "genetic code ", table_.id, ": no name");
  STRAND_CHECK(table_.ncbieaa.size() == 64, "genetic code ", table_.id, ": ncbieaa must have 64 letters, found ",
               table_.ncbieaa.size());
  STRAND_CHECK(table_.sncbieaa.size() == 64, "genetic code ", table_.id, ": sncbieaa must have 64 letters, found ",
               table_.sncbieaa.size());
  for (size_t i = 0; i < 64; ++i) {
    STRAND_CHECK(valid_residue(table_.ncbieaa[i]), "genetic code ", table_.id, ": ncbieaa codon ",
                 codons_tcag()[i], " has ", describe_char(table_.ncbieaa[i]), ", expected 'A'-'Z' or '*'");
    STRAND_CHECK(valid_mark(table_.sncbieaa[i]), "genetic code ", table_.id, ": sncbieaa codon ",
                 codons_tcag()[i], " has ", describe_char(table_.sncbieaa[i]), ", expected 'M', '*' or '-'");
  }
  // Precomputes every codon of IUPAC codes so translate() is one lookup, ambiguous or not. A codon
  // with an ambiguous position is the union of two smaller codons (that position's lowest base,
  // and its other bases), both visited earlier in this loop order.
  constexpr char kDisagree = 0;
  for (int m1 = 1; m1 < 16; ++m1) {
    for (int m2 = 1; m2 < 16; ++m2) {
      for (int m3 = 1; m3 < 16; ++m3) {
        const int index = m1 << 8 | m2 << 4 | m3;
        int split = -1;
        for (const int shift : {0, 4, 8}) {
          const int m = (index >> shift) & 15;
          if (m & (m - 1)) {
            split = shift;
            break;
          }
        }
        if (split < 0) {
          const int c = 16 * tcag_of_bit(static_cast<BaseMask>(m1)) + 4 * tcag_of_bit(static_cast<BaseMask>(m2)) +
                        tcag_of_bit(static_cast<BaseMask>(m3));
          residue_[index] = table_.ncbieaa[c];
          start_[index] = table_.sncbieaa[c] == 'M';
          stop_[index] = table_.sncbieaa[c] == '*';
          continue;
        }
        const int m = (index >> split) & 15;
        const int low = index - ((m - (m & -m)) << split);  // keeps only the lowest base there
        const int rest = index - ((m & -m) << split);       // drops it
        residue_[index] = residue_[low] == residue_[rest] ? residue_[low] : kDisagree;
        start_[index] = start_[low] && start_[rest];
        stop_[index] = stop_[low] && stop_[rest];
      }
    }
  }
  for (char& r : residue_) {
    if (r == kDisagree) r = 'X';
  }
}

int GeneticCode::masked_index(std::string_view codon) const {
  STRAND_CHECK(codon.size() == 3, "genetic code ", id(), ": a codon has 3 bases, found ", codon.size(), " in '",
               codon, "'");
  int index = 0;
  for (size_t i = 0; i < 3; ++i) {
    const BaseMask m = base_mask(codon[i]);
    STRAND_CHECK(m != 0, "genetic code ", id(), ": codon '", codon, "' has ", describe_char(codon[i]),
                 " at position ", i, ", which is not an IUPAC nucleotide code");
    index = index << 4 | m;
  }
  return index;
}

char GeneticCode::translate(std::string_view codon) const { return residue_[masked_index(codon)]; }

bool GeneticCode::is_start(std::string_view codon) const { return start_[masked_index(codon)]; }

bool GeneticCode::is_stop(std::string_view codon) const { return stop_[masked_index(codon)]; }

std::vector<std::string> GeneticCode::codons_for(char amino_acid) const {
  const char aa = normalize_residue(amino_acid);
  std::vector<std::string> out;
  for (int i = 0; i < 64; ++i) {
    if (table_.ncbieaa[i] == aa) out.push_back(codons_tcag()[i]);
  }
  return out;
}

std::vector<std::string> GeneticCode::start_codons() const {
  std::vector<std::string> out;
  for (int i = 0; i < 64; ++i) {
    if (table_.sncbieaa[i] == 'M') out.push_back(codons_tcag()[i]);
  }
  return out;
}

std::vector<std::string> GeneticCode::stop_codons() const {
  std::vector<std::string> out;
  for (int i = 0; i < 64; ++i) {
    if (table_.sncbieaa[i] == '*') out.push_back(codons_tcag()[i]);
  }
  return out;
}

std::string GeneticCode::degenerate_codon(char amino_acid) const {
  const std::vector<std::string> codons = codons_for(amino_acid);
  STRAND_CHECK(!codons.empty(), "genetic code ", id(), " (", name(), ") has no codon for ", describe_char(amino_acid));
  std::array<BaseMask, 3> masks{};
  for (const std::string& codon : codons) {
    for (size_t i = 0; i < 3; ++i) masks[i] = static_cast<BaseMask>(masks[i] | base_mask(codon[i]));
  }
  return std::string{iupac_code(masks[0]), iupac_code(masks[1]), iupac_code(masks[2])};
}

std::string GeneticCode::exact_degenerate_codon(char amino_acid) const {
  const char aa = normalize_residue(amino_acid);
  STRAND_CHECK(table_.ncbieaa.find(aa) != std::string::npos, "genetic code ", id(), " (", name(),
               ") has no codon for ", describe_char(amino_acid));
  // residue_ already says which codons of IUPAC codes translate to one residue only; of those for
  // `aa`, keep the one covering most codons.
  auto single = [](int m) { return m == kBaseA || m == kBaseC || m == kBaseG || m == kBaseT; };
  int best = -1;
  int best_ambiguous = 0;
  std::vector<int> best_codons;
  for (int m1 = 1; m1 < 16; ++m1) {
    for (int m2 = 1; m2 < 16; ++m2) {
      for (int m3 = 1; m3 < 16; ++m3) {
        const int index = m1 << 8 | m2 << 4 | m3;
        if (residue_[index] != aa) continue;
        std::vector<int> codons =
            expand(static_cast<BaseMask>(m1), static_cast<BaseMask>(m2), static_cast<BaseMask>(m3));
        const int ambiguous = !single(m1) + !single(m2) + !single(m3);
        const bool better =
            best < 0 || codons.size() > best_codons.size() ||
            (codons.size() == best_codons.size() &&
             (ambiguous < best_ambiguous || (ambiguous == best_ambiguous && codons < best_codons)));
        if (better) {
          best = index;
          best_ambiguous = ambiguous;
          best_codons = std::move(codons);
        }
      }
    }
  }
  STRAND_ASSERT(best >= 0, "a residue present in ncbieaa has at least one single codon");
  return std::string{iupac_code(static_cast<BaseMask>(best >> 8)), iupac_code(static_cast<BaseMask>((best >> 4) & 15)),
                     iupac_code(static_cast<BaseMask>(best & 15))};
}

}  // namespace strand::bio
