// NCBI genetic codes. Oracles: NCBI's gc.prt 4.2 (tests/data/bio/gc.prt, compared entry by entry
// with the embedded tables) and the differences from the standard code that NCBI's "The Genetic
// Codes" page lists for each table (https://www.ncbi.nlm.nih.gov/Taxonomy/Utils/wprintgc.cgi).
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bio/alphabet.h"
#include "bio/genetic_code.h"
#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"

namespace sb = strand::bio;

namespace {

const std::string kGcPrt = std::string(STRAND_TEST_DATA) + "/bio/gc.prt";

const sb::GeneticCode& code(int id) { return sb::GeneticCode::ncbi(id); }

// Expands a codon of IUPAC codes into its unambiguous codons.
std::set<std::string> expansions(const std::string& codon) {
  std::set<std::string> out{""};
  for (const char c : codon) {
    std::set<std::string> next;
    for (const std::string& prefix : out) {
      for (const char b : std::string("ACGT")) {
        if (sb::base_mask(c) & sb::base_mask(b)) next.insert(prefix + b);
      }
    }
    out = next;
  }
  return out;
}

// The residues of a table: every letter in ncbieaa.
std::set<char> residues(const sb::GeneticCode& c) { return {c.ncbieaa().begin(), c.ncbieaa().end()}; }

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

// A minimal gc.prt around one table body, for parser error tests.
std::string one_table(const std::string& body) { return "Genetic-code-table ::= {\n {\n" + body + " }\n}\n"; }

const std::string kStdAa = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG";
const std::string kStdStarts = "---M------**--*----M---------------M----------------------------";

int parse_error_line(const std::string& text) {
  try {
    sb::parse_gc_prt(text, "test.prt");
  } catch (const strand::ParseError& e) {
    EXPECT_EQ(e.where().file, "test.prt");
    return static_cast<int>(e.where().line);
  }
  ADD_FAILURE() << "expected ParseError for:\n" << text;
  return -1;
}

std::string parse_error_message(const std::string& text) {
  try {
    sb::parse_gc_prt(text, "test.prt");
  } catch (const strand::ParseError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ParseError for:\n" << text;
  return "";
}

}  // namespace

TEST(GeneticCode, EmbeddedIds) {
  const std::vector<int> expected = {1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16, 21, 22, 23, 24, 25, 26, 27, 28, 29,
                                     30, 31};
  EXPECT_EQ(sb::GeneticCode::ncbi_ids(), expected);
  for (const int id : expected) EXPECT_EQ(code(id).id(), id);
}

TEST(GeneticCode, UnknownIdListsValidIds) {
  for (const int id : {0, 7, 8, 17, 20, 32, -1}) {
    EXPECT_THROW(code(id), strand::InputError) << id;
  }
  try {
    code(7);
    FAIL();
  } catch (const strand::InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("unknown NCBI genetic code 7"), std::string::npos) << what;
    EXPECT_NE(what.find("table 4"), std::string::npos) << what;
    EXPECT_NE(what.find("1, 2, 3, 4, 5, 6, 9, 10, 11"), std::string::npos) << what;
  }
}

// The embedded tables are the file's tables: same ids, names, and for all 64 codons the same
// amino acid, start mark and stop mark.
TEST(GeneticCode, EmbeddedTablesEqualNcbiGcPrt) {
  const std::string text = strand::io::read_file(kGcPrt);
  ASSERT_NE(text.find("Version 4.2"), std::string::npos);
  const std::vector<sb::GeneticCodeTable> file = sb::read_gc_prt(kGcPrt);
  ASSERT_EQ(file.size(), 25u);
  std::vector<int> file_ids;
  for (const sb::GeneticCodeTable& t : file) {
    file_ids.push_back(t.id);
    const sb::GeneticCode& c = code(t.id);
    EXPECT_EQ(c.names(), t.names) << "table " << t.id;
    EXPECT_EQ(c.name(), t.names.front());
    EXPECT_EQ(c.ncbieaa(), t.ncbieaa) << "table " << t.id;
    EXPECT_EQ(c.sncbieaa(), t.sncbieaa) << "table " << t.id;
    for (int i = 0; i < 64; ++i) {
      const std::string& codon = sb::codons_tcag()[i];
      EXPECT_EQ(c.translate(codon), t.ncbieaa[i]) << "table " << t.id << " " << codon;
      EXPECT_EQ(c.is_start(codon), t.sncbieaa[i] == 'M') << "table " << t.id << " " << codon;
      EXPECT_EQ(c.is_stop(codon), t.sncbieaa[i] == '*') << "table " << t.id << " " << codon;
    }
  }
  EXPECT_EQ(file_ids, sb::GeneticCode::ncbi_ids());
}

TEST(GeneticCode, GcPrtNamesAsNcbiWritesThem) {
  const std::vector<sb::GeneticCodeTable> file = sb::read_gc_prt(kGcPrt);
  EXPECT_EQ(file[0].names, (std::vector<std::string>{"Standard", "SGC0"}));
  // Table 4's name spans two lines in gc.prt; the line break is dropped.
  EXPECT_EQ(code(4).name(),
            "Mold Mitochondrial; Protozoan Mitochondrial; Coelenterate Mitochondrial; Mycoplasma; Spiroplasma");
  EXPECT_EQ(code(2).name(), "Vertebrate Mitochondrial");
  EXPECT_EQ(code(11).name(), "Bacterial, Archaeal and Plant Plastid");
  EXPECT_EQ(code(11).names().size(), 1u);
  EXPECT_EQ(code(31).name(), "Blastocrithidia Nuclear");
}

TEST(GeneticCode, TcagOrder) {
  EXPECT_EQ(sb::codons_tcag()[0], "TTT");
  EXPECT_EQ(sb::codons_tcag()[3], "TTG");
  EXPECT_EQ(sb::codons_tcag()[14], "TGA");
  EXPECT_EQ(sb::codons_tcag()[35], "ATG");
  EXPECT_EQ(sb::codons_tcag()[63], "GGG");
  for (int i = 0; i < 64; ++i) EXPECT_EQ(sb::codon_index(sb::codons_tcag()[i]), i);
  EXPECT_EQ(sb::codon_index("aug"), 35);
  EXPECT_THROW(sb::codon_index("ATN"), strand::InputError);
  EXPECT_THROW(sb::codon_index("AT"), strand::InputError);
}

TEST(GeneticCode, StandardCode) {
  const sb::GeneticCode& c = code(1);
  EXPECT_EQ(c.translate("ATG"), 'M');
  EXPECT_EQ(c.translate("TGG"), 'W');
  EXPECT_EQ(c.translate("TTT"), 'F');
  EXPECT_EQ(c.translate("GGG"), 'G');
  for (const char* stop : {"TAA", "TAG", "TGA"}) {
    EXPECT_EQ(c.translate(stop), '*') << stop;
    EXPECT_TRUE(c.is_stop(stop)) << stop;
  }
  EXPECT_EQ(join(c.start_codons()), "TTG CTG ATG");
  EXPECT_FALSE(c.is_start("GTG"));
  EXPECT_EQ(join(c.codons_for('L')), "TTA TTG CTT CTC CTA CTG");
  EXPECT_EQ(join(c.codons_for('*')), "TAA TAG TGA");
  EXPECT_EQ(join(c.codons_for('m')), "ATG");
  EXPECT_TRUE(c.codons_for('U').empty());
  EXPECT_THROW(c.codons_for('1'), strand::InputError);
}

TEST(GeneticCode, RnaAndLowerCaseCodons) {
  const sb::GeneticCode& c = code(1);
  EXPECT_EQ(c.translate("AUG"), 'M');
  EXPECT_EQ(c.translate("aug"), 'M');
  EXPECT_EQ(c.translate("uGg"), 'W');
  EXPECT_EQ(c.translate("UAA"), '*');
  EXPECT_TRUE(c.is_start("aug"));
}

// NCBI "The Genetic Codes": the differences of each table from the standard code.
TEST(GeneticCode, AlternativeCodesDifferAsNcbiDocuments) {
  struct Fact {
    int table;
    const char* codon;
    char residue;
  };
  const Fact facts[] = {
      {2, "TGA", 'W'},  {2, "AGA", '*'},  {2, "AGG", '*'},  {2, "ATA", 'M'},  {3, "ATA", 'M'},  {3, "CTT", 'T'},
      {3, "CTG", 'T'},  {3, "TGA", 'W'},  {4, "TGA", 'W'},  {5, "AGA", 'S'},  {5, "AGG", 'S'},  {5, "ATA", 'M'},
      {5, "TGA", 'W'},  {6, "TAA", 'Q'},  {6, "TAG", 'Q'},  {6, "TGA", '*'},  {9, "AAA", 'N'},  {9, "AGA", 'S'},
      {9, "TGA", 'W'},  {10, "TGA", 'C'}, {12, "CTG", 'S'}, {13, "AGA", 'G'}, {13, "AGG", 'G'}, {13, "ATA", 'M'},
      {14, "TAA", 'Y'}, {14, "AAA", 'N'}, {15, "TAG", 'Q'}, {16, "TAG", 'L'}, {21, "TGA", 'W'}, {21, "ATA", 'M'},
      {21, "AAA", 'N'}, {22, "TCA", '*'}, {22, "TAG", 'L'}, {23, "TTA", '*'}, {24, "AGA", 'S'}, {24, "AGG", 'K'},
      {24, "TGA", 'W'}, {25, "TGA", 'G'}, {26, "CTG", 'A'}, {27, "TAA", 'Q'}, {27, "TAG", 'Q'}, {27, "TGA", 'W'},
      {28, "TAA", 'Q'}, {28, "TAG", 'Q'}, {28, "TGA", 'W'}, {29, "TAA", 'Y'}, {29, "TAG", 'Y'}, {30, "TAA", 'E'},
      {30, "TAG", 'E'}, {31, "TAA", 'E'}, {31, "TAG", 'E'}, {31, "TGA", 'W'},
  };
  for (const Fact& f : facts) {
    EXPECT_EQ(code(f.table).translate(f.codon), f.residue) << "table " << f.table << " " << f.codon;
  }
  EXPECT_TRUE(code(2).is_stop("AGA"));
  EXPECT_FALSE(code(2).is_stop("TGA"));
  // Tables 27, 28 and 31: some codons encode an amino acid yet can terminate at the end of a CDS.
  EXPECT_TRUE(code(27).is_stop("TGA"));
  EXPECT_TRUE(code(28).is_stop("TAA"));
  EXPECT_TRUE(code(28).is_stop("TAG"));
  EXPECT_TRUE(code(31).is_stop("TAA"));
  EXPECT_FALSE(code(6).is_stop("TAA"));
}

TEST(GeneticCode, BacterialStartCodons) {
  // Table 11: ATG, GTG, TTG and the rarer CTG, ATT, ATC, ATA initiate.
  EXPECT_EQ(join(code(11).start_codons()), "TTG CTG ATT ATC ATA ATG GTG");
  EXPECT_TRUE(code(11).is_start("GTG"));
  EXPECT_TRUE(code(11).is_start("TTG"));
  EXPECT_EQ(code(11).translate("GTG"), 'V');
  EXPECT_EQ(join(code(2).start_codons()), "ATT ATC ATA ATG GTG");
}

TEST(GeneticCode, EveryCodeBehavesConsistently) {
  for (const int id : sb::GeneticCode::ncbi_ids()) {
    const sb::GeneticCode& c = code(id);
    std::map<std::string, char> owner;
    for (const char aa : residues(c)) {
      for (const std::string& codon : c.codons_for(aa)) {
        EXPECT_TRUE(owner.emplace(codon, aa).second) << "table " << id << " " << codon;
        EXPECT_EQ(c.translate(codon), aa);
      }
    }
    EXPECT_EQ(owner.size(), 64u) << "table " << id;
    // A codon that translates to '*' always carries the terminator mark.
    for (const std::string& codon : c.codons_for('*')) EXPECT_TRUE(c.is_stop(codon)) << id << " " << codon;
    EXPECT_EQ(c.translate("ATG"), 'M') << id;
    EXPECT_TRUE(c.is_start("ATG")) << id;
  }
}

TEST(GeneticCode, AmbiguousCodonsTranslateWhenExpansionsAgree) {
  const sb::GeneticCode& c = code(1);
  EXPECT_EQ(c.translate("GCN"), 'A');
  EXPECT_EQ(c.translate("ggn"), 'G');
  EXPECT_EQ(c.translate("TTY"), 'F');
  EXPECT_EQ(c.translate("TTR"), 'L');
  EXPECT_EQ(c.translate("YTR"), 'L');
  EXPECT_EQ(c.translate("MGR"), 'R');
  EXPECT_EQ(c.translate("ATH"), 'I');
  EXPECT_EQ(c.translate("TAR"), '*');
  EXPECT_EQ(c.translate("TRA"), '*');
  EXPECT_EQ(c.translate("YTN"), 'X');
  EXPECT_EQ(c.translate("ATN"), 'X');
  EXPECT_EQ(c.translate("NNN"), 'X');
  EXPECT_EQ(code(2).translate("ATR"), 'M');
  EXPECT_EQ(code(2).translate("AGR"), '*');
  EXPECT_EQ(code(2).translate("TGR"), 'W');
  EXPECT_TRUE(c.is_stop("TAR"));
  EXPECT_FALSE(c.is_stop("TRR"));
  EXPECT_TRUE(code(11).is_start("ATH"));
  EXPECT_TRUE(code(11).is_start("NTG"));  // TTG, CTG, ATG and GTG all initiate in table 11
  EXPECT_FALSE(code(1).is_start("NTG"));  // GTG does not in table 1
  EXPECT_TRUE(code(11).is_start("DTG"));
}

// Ambiguous translation agrees with expanding the codon by hand, for every table and codon.
TEST(GeneticCode, AmbiguousTranslationMatchesExpansion) {
  const std::string codes = "ACGTRYSWKMBDHVN";
  for (const int id : sb::GeneticCode::ncbi_ids()) {
    const sb::GeneticCode& c = code(id);
    for (const char a : codes) {
      for (const char b : codes) {
        for (const char d : codes) {
          const std::string codon{a, b, d};
          std::set<char> seen;
          bool all_start = true, all_stop = true;
          for (const std::string& e : expansions(codon)) {
            seen.insert(c.translate(e));
            all_start = all_start && c.is_start(e);
            all_stop = all_stop && c.is_stop(e);
          }
          ASSERT_EQ(c.translate(codon), seen.size() == 1 ? *seen.begin() : 'X') << id << " " << codon;
          ASSERT_EQ(c.is_start(codon), all_start) << id << " " << codon;
          ASSERT_EQ(c.is_stop(codon), all_stop) << id << " " << codon;
        }
      }
    }
  }
}

TEST(GeneticCode, BadCodonsThrow) {
  const sb::GeneticCode& c = code(1);
  for (const char* bad : {"", "AT", "ATGA"}) EXPECT_THROW(c.translate(bad), strand::InputError) << bad;
  for (const char* bad : {"AXG", "A-G", "AT*", "AT "}) {
    EXPECT_THROW(c.translate(bad), strand::InputError) << bad;
    EXPECT_THROW(c.is_start(bad), strand::InputError) << bad;
    EXPECT_THROW(c.is_stop(bad), strand::InputError) << bad;
  }
  try {
    c.translate("AXG");
    FAIL();
  } catch (const strand::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'X' at position 1"), std::string::npos) << e.what();
  }
}

TEST(GeneticCode, DegenerateCodonIsThePerPositionUnion) {
  const sb::GeneticCode& c = code(1);
  EXPECT_EQ(c.degenerate_codon('L'), "YTN");
  EXPECT_EQ(c.degenerate_codon('S'), "WSN");
  EXPECT_EQ(c.degenerate_codon('R'), "MGN");
  EXPECT_EQ(c.degenerate_codon('I'), "ATH");
  EXPECT_EQ(c.degenerate_codon('M'), "ATG");
  EXPECT_EQ(c.degenerate_codon('F'), "TTY");
  EXPECT_EQ(c.degenerate_codon('A'), "GCN");
  EXPECT_EQ(c.degenerate_codon('*'), "TRR");
  EXPECT_EQ(code(2).degenerate_codon('R'), "CGN");
  EXPECT_EQ(code(2).degenerate_codon('*'), "WRR");
  EXPECT_EQ(code(2).degenerate_codon('M'), "ATR");
  EXPECT_THROW(c.degenerate_codon('U'), strand::InputError);
  EXPECT_THROW(code(27).degenerate_codon('*'), strand::InputError);
}

// For every table and residue: the degenerate codon covers all of the residue's codons and no
// base could be dropped from any position without losing one of them.
TEST(GeneticCode, DegenerateCodonCoversAndIsMinimal) {
  for (const int id : sb::GeneticCode::ncbi_ids()) {
    const sb::GeneticCode& c = code(id);
    for (const char aa : residues(c)) {
      const std::string deg = c.degenerate_codon(aa);
      const std::vector<std::string> codons = c.codons_for(aa);
      const std::set<std::string> covered = expansions(deg);
      std::array<sb::BaseMask, 3> used{};
      for (const std::string& codon : codons) {
        EXPECT_TRUE(covered.count(codon)) << id << " " << aa << " " << deg << " " << codon;
        for (int p = 0; p < 3; ++p) used[p] = static_cast<sb::BaseMask>(used[p] | sb::base_mask(codon[p]));
      }
      for (int p = 0; p < 3; ++p) EXPECT_EQ(sb::base_mask(deg[p]), used[p]) << id << " " << aa << " " << deg;
      // Exact (translates back) precisely when the codon set fills the product of its positions.
      EXPECT_EQ(c.translate(deg) == aa, covered.size() == codons.size()) << id << " " << aa << " " << deg;
    }
  }
}

TEST(GeneticCode, ExactDegenerateCodonTranslatesBack) {
  const sb::GeneticCode& c = code(1);
  EXPECT_EQ(c.exact_degenerate_codon('L'), "CTN");
  EXPECT_EQ(c.exact_degenerate_codon('S'), "TCN");
  EXPECT_EQ(c.exact_degenerate_codon('R'), "CGN");
  EXPECT_EQ(c.exact_degenerate_codon('*'), "TAR");
  EXPECT_EQ(c.exact_degenerate_codon('I'), "ATH");
  EXPECT_EQ(c.exact_degenerate_codon('W'), "TGG");
  for (const int id : sb::GeneticCode::ncbi_ids()) {
    const sb::GeneticCode& t = code(id);
    for (const char aa : residues(t)) {
      const std::string exact = t.exact_degenerate_codon(aa);
      EXPECT_EQ(t.translate(exact), aa) << id << " " << aa << " " << exact;
      // When the per-position union is exact, both rules agree.
      const std::string deg = t.degenerate_codon(aa);
      if (t.translate(deg) == aa) {
        EXPECT_EQ(exact, deg) << id << " " << aa;
      }
      EXPECT_LE(expansions(exact).size(), t.codons_for(aa).size());
    }
  }
}

TEST(GeneticCode, ConstructorValidatesTables) {
  sb::GeneticCodeTable t{99, {"Test"}, kStdAa, kStdStarts};
  const sb::GeneticCode ok(t);
  EXPECT_EQ(ok.id(), 99);
  EXPECT_EQ(ok.translate("TGA"), '*');
  auto short_aa = t;
  short_aa.ncbieaa.pop_back();
  EXPECT_THROW(sb::GeneticCode{short_aa}, strand::InputError);
  auto bad_aa = t;
  bad_aa.ncbieaa[5] = '1';
  EXPECT_THROW(sb::GeneticCode{bad_aa}, strand::InputError);
  auto bad_mark = t;
  bad_mark.sncbieaa[0] = 'X';
  EXPECT_THROW(sb::GeneticCode{bad_mark}, strand::InputError);
  auto no_name = t;
  no_name.names.clear();
  EXPECT_THROW(sb::GeneticCode{no_name}, strand::InputError);
}

TEST(GcPrt, ParsesMinimalTableWithoutBaseRows) {
  const auto tables = sb::parse_gc_prt(
      one_table("  name \"Standard\" ,\n  id 1 ,\n  ncbieaa \"" + kStdAa + "\",\n  sncbieaa \"" + kStdStarts + "\"\n"),
      "mini.prt");
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0].id, 1);
  EXPECT_EQ(tables[0].ncbieaa, kStdAa);
  EXPECT_EQ(tables[0].sncbieaa, kStdStarts);
}

TEST(GcPrt, BaseRowsReorderColumns) {
  // The same standard code with its columns written in reverse TCAG order (GGG first).
  std::string aa(kStdAa.rbegin(), kStdAa.rend()), marks(kStdStarts.rbegin(), kStdStarts.rend());
  std::string b1, b2, b3;
  for (int i = 63; i >= 0; --i) {
    b1 += sb::codons_tcag()[i][0];
    b2 += sb::codons_tcag()[i][1];
    b3 += sb::codons_tcag()[i][2];
  }
  const auto tables = sb::parse_gc_prt(one_table("  name \"Standard\" ,\n  id 1 ,\n  ncbieaa \"" + aa +
                                                 "\",\n  sncbieaa \"" + marks + "\"\n  -- Base1  " + b1 +
                                                 "\n  -- Base2  " + b2 + "\n  -- Base3  " + b3 + "\n"),
                                       "reversed.prt");
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0].ncbieaa, kStdAa);
  EXPECT_EQ(tables[0].sncbieaa, kStdStarts);
}

TEST(GcPrt, StringsEscapeQuotesAndJoinLines) {
  const auto tables = sb::parse_gc_prt(one_table("  name \"a \"\"quoted\"\"\n name\" ,\n  id 3 ,\n  ncbieaa \"" +
                                                 kStdAa + "\",\n  sncbieaa \"" + kStdStarts + "\"\n"),
                                       "q.prt");
  EXPECT_EQ(tables.at(0).names.at(0), "a \"quoted\" name");
}

TEST(GcPrt, MalformedInputNamesTheLine) {
  const std::string aa = "  ncbieaa \"" + kStdAa + "\",\n";
  const std::string marks = "  sncbieaa \"" + kStdStarts + "\"\n";
  // Line numbers: 1 header, 2 "{", then the body.
  EXPECT_EQ(parse_error_line(one_table("  name \"x\" ,\n" + aa + marks)), 2);  // no id
  EXPECT_EQ(parse_error_line(one_table("  id 1 ,\n" + aa + marks)), 2);        // no name
  EXPECT_EQ(parse_error_line(one_table("  name \"x\" ,\n  id 1 ,\n  ncbieaa \"FFL\",\n" + marks)), 5);
  EXPECT_EQ(parse_error_line(one_table("  name \"x\" ,\n  id 1 ,\n" + aa + "  sncbieaa \"" +
                                       std::string(63, '-') + "X\"\n")),
            6);
  EXPECT_EQ(parse_error_line(one_table("  name \"x\" ,\n  id 1 ,\n  colour 3 ,\n" + aa + marks)), 5);
  EXPECT_EQ(parse_error_line(one_table("  name \"x\" ,\n  id 1 ,\n  id 2 ,\n" + aa + marks)), 5);
  EXPECT_EQ(parse_error_line(one_table("  name \"x\" ,\n  id 0 ,\n" + aa + marks)), 4);
  EXPECT_EQ(parse_error_line(one_table("  name \"x\n")), 3);  // unterminated string
  EXPECT_EQ(parse_error_line("Genetic-code-table ::= {\n {\n  name \"x\" , id 1 ,\n" + aa + marks), 6);  // no '}'
  EXPECT_EQ(parse_error_line("Something-else ::= { }\n"), 1);
  EXPECT_EQ(parse_error_line(one_table("  name \"x\" ,\n  id 1 ,\n" + aa + marks) + "trailing\n"), 9);
  const std::string table = " {\n  name \"x\" ,\n  id 5 ,\n" + aa + marks + " }";
  EXPECT_EQ(parse_error_line("Genetic-code-table ::= {\n" + table + " ,\n" + table + "\n}\n"), 8);  // repeated id
  const std::string message = parse_error_message(one_table("  name \"x\" ,\n  id 1 ,\n  ncbieaa \"FFL\",\n" + marks));
  EXPECT_NE(message.find("test.prt:5"), std::string::npos) << message;
  EXPECT_NE(message.find("64 letters"), std::string::npos) << message;
  EXPECT_NE(message.find("found 3"), std::string::npos) << message;
}

TEST(GcPrt, MalformedBaseRows) {
  const std::string head = "  name \"x\" ,\n  id 1 ,\n  ncbieaa \"" + kStdAa + "\",\n  sncbieaa \"" + kStdStarts + "\"\n";
  std::string b1, b2, b3;
  for (const std::string& codon : sb::codons_tcag()) {
    b1 += codon[0];
    b2 += codon[1];
    b3 += codon[2];
  }
  EXPECT_NE(parse_error_message(one_table(head + "  -- Base1  " + b1 + "\n")).find("only 1 of the rows"),
            std::string::npos);
  std::string dup3 = b3;
  dup3[1] = 'T';  // TTT twice, TTC never
  EXPECT_NE(parse_error_message(one_table(head + "  -- Base1  " + b1 + "\n  -- Base2  " + b2 + "\n  -- Base3  " + dup3 +
                                          "\n"))
                .find("codon TTT twice"),
            std::string::npos);
  EXPECT_EQ(parse_error_line(one_table(head + "  -- Base1  " + b1.substr(1) + "\n")), 7);
  EXPECT_EQ(parse_error_line(one_table(head + "  -- Base1  " + b1 + "\n  -- Base1  " + b1 + "\n")), 8);
}

TEST(GcPrt, MissingFileIsAnIoError) {
  EXPECT_THROW(sb::read_gc_prt(std::string(STRAND_TEST_DATA) + "/bio/no_such_gc.prt"), strand::IoError);
}

// Damaged copies of the real file either parse or fail with a ParseError; nothing else escapes.
TEST(GcPrt, MutatedFilesFailCleanly) {
  const std::string text = strand::io::read_file(kGcPrt);
  const std::string alphabet = "{}\",-: \n\tACGTMX*019abnid";
  std::mt19937 rng(2024);
  int rejected = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string damaged = text;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % damaged.size();
      switch (rng() % 3) {
        case 0: damaged[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: damaged.erase(at, 1 + rng() % 8); break;
        default: damaged.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
      }
    }
    try {
      for (const sb::GeneticCodeTable& t : sb::parse_gc_prt(damaged, "damaged.prt")) {
        ASSERT_EQ(t.ncbieaa.size(), 64u);
        ASSERT_EQ(t.sncbieaa.size(), 64u);
        ASSERT_FALSE(t.names.empty());
        sb::GeneticCode{t};
      }
    } catch (const strand::ParseError& e) {
      ASSERT_EQ(e.where().file, "damaged.prt");
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000);
}
