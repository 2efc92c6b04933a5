// EMBOSS .cut codon usage tables. Oracle: the values printed in the real EMBOSS 6.6.0 files
// tests/data/bio/Ehuman.cut and Eecoli.cut (CUTG release 146), read off by eye.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "bio/codon_usage.h"
#include "bio/genetic_code.h"
#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"

namespace sb = strand::bio;

namespace {

const std::string kHuman = std::string(STRAND_TEST_DATA) + "/bio/Ehuman.cut";
const std::string kEcoli = std::string(STRAND_TEST_DATA) + "/bio/Eecoli.cut";

// The human file with one line replaced (1-based), or removed when `replacement` is null.
std::string edited_human(int line_no, const char* replacement) {
  const std::string text = strand::io::read_file(kHuman);
  std::string out;
  size_t pos = 0;
  for (int n = 1; pos < text.size(); ++n) {
    const size_t eol = text.find('\n', pos);
    const std::string line = text.substr(pos, eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    if (n != line_no) {
      out += line + "\n";
    } else if (replacement != nullptr) {
      out += std::string(replacement) + "\n";
    }
  }
  return out;
}

strand::ParseError parse_error(const std::string& text) {
  try {
    sb::CodonUsage::parse_emboss(text, "edited.cut");
  } catch (const strand::ParseError& e) {
    return e;
  }
  ADD_FAILURE() << "expected ParseError";
  return strand::ParseError("none");
}

}  // namespace

TEST(CodonUsage, ReadsHumanTable) {
  const sb::CodonUsage human = sb::CodonUsage::read_emboss(kHuman);
  EXPECT_EQ(human.source(), kHuman);
  EXPECT_EQ(human.metadata().at("Species"), "Homo sapiens");
  EXPECT_EQ(human.metadata().at("Release"), "CUTG146");
  EXPECT_EQ(human.metadata().at("CdsCount"), "74218");
  const sb::CodonUsageEntry& ctg = human.entry("CTG");
  EXPECT_EQ(ctg.codon, "CTG");
  EXPECT_EQ(ctg.amino_acid, 'L');
  EXPECT_DOUBLE_EQ(ctg.fraction, 0.404);
  EXPECT_DOUBLE_EQ(ctg.per_thousand, 40.407);
  EXPECT_EQ(ctg.count, 1295575);
  EXPECT_EQ(ctg.line, 37);
  EXPECT_EQ(human.entry("cug").count, 1295575);
  EXPECT_EQ(human.entry("TGA").amino_acid, '*');
  EXPECT_EQ(human.entry("TGA").count, 36263);
  EXPECT_EQ(human.entries()[0].codon, "TTT");  // TCAG order
  EXPECT_EQ(human.entries()[0].count, 544814);
  EXPECT_THROW(human.entry("CTN"), strand::InputError);
}

TEST(CodonUsage, MostFrequentCodons) {
  const sb::CodonUsage human = sb::CodonUsage::read_emboss(kHuman);
  const sb::CodonUsage ecoli = sb::CodonUsage::read_emboss(kEcoli);
  EXPECT_EQ(ecoli.metadata().at("Species"), "Escherichia coli K12");
  EXPECT_EQ(human.most_frequent_codon('L'), "CTG");  // 1295575
  EXPECT_EQ(ecoli.most_frequent_codon('L'), "CTG");  // 84455
  EXPECT_EQ(human.most_frequent_codon('R'), "CGG");  // 376554, just ahead of AGG 375881
  EXPECT_EQ(ecoli.most_frequent_codon('R'), "CGC");  // 35184, ahead of CGT 33609
  EXPECT_EQ(human.most_frequent_codon('*'), "TGA");  // 36263
  EXPECT_EQ(ecoli.most_frequent_codon('*'), "TAA");  // 3237
  EXPECT_EQ(ecoli.most_frequent_codon('a'), "GCG");  // 53773
  EXPECT_EQ(human.most_frequent_codon('M'), "ATG");
  EXPECT_THROW(human.most_frequent_codon('U'), strand::InputError);
  // Under the vertebrate mitochondrial code TGA is Trp and AGA/AGG are stops.
  const sb::GeneticCode& mito = sb::GeneticCode::ncbi(2);
  EXPECT_EQ(human.most_frequent_codon('W', mito), "TGG");  // 417781 vs TGA 36263
  EXPECT_EQ(human.most_frequent_codon('*', mito), "AGG");  // 375881
  EXPECT_EQ(human.most_frequent_codon('R', mito), "CGG");
  EXPECT_THROW(human.most_frequent_codon('*', sb::GeneticCode::ncbi(27)), strand::InputError);
}

TEST(CodonUsage, CrlfAndBlankLines) {
  const std::string text = strand::io::read_file(kHuman);
  std::string crlf;
  for (const char c : text) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  const sb::CodonUsage parsed = sb::CodonUsage::parse_emboss(crlf + "\r\n  \r\n", "crlf.cut");
  EXPECT_EQ(parsed.entry("CTG").count, 1295575);
  EXPECT_EQ(parsed.metadata().at("Species"), "Homo sapiens");
}

TEST(CodonUsage, MalformedRowsNameFileAndLine) {
  // Line 12 of Ehuman.cut is "GCA    A     0.226    15.937 510981".
  struct Case {
    const char* row;
    const char* expected;
  };
  const Case cases[] = {
      {"GCA    A     0.226    15.937", "expected 5 fields"},
      {"GCA    A     0.226    15.937 510981 7", "expected 5 fields"},
      {"GCX    A     0.226    15.937 510981", "expected a codon of 3 bases"},
      {"GCAA   A     0.226    15.937 510981", "expected a codon of 3 bases"},
      {"GCA    Ala   0.226    15.937 510981", "expected a one-letter amino acid"},
      {"GCA    1     0.226    15.937 510981", "expected a one-letter amino acid"},
      {"GCA    A     1.226    15.937 510981", "fraction between 0 and 1"},
      {"GCA    A     0.2x6    15.937 510981", "fraction between 0 and 1"},
      {"GCA    A     nan      15.937 510981", "fraction between 0 and 1"},
      {"GCA    A     0.226    -15.93 510981", "non-negative frequency"},
      {"GCA    A     0.226    15.937 -5", "non-negative integer count"},
      {"GCA    A     0.226    15.937 5.5", "non-negative integer count"},
  };
  for (const Case& c : cases) {
    const strand::ParseError e = parse_error(edited_human(12, c.row));
    EXPECT_EQ(e.where().file, "edited.cut") << c.row;
    EXPECT_EQ(e.where().line, 12) << c.row;
    EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos) << e.what();
  }
}

TEST(CodonUsage, DuplicateCodonNamesBothLines) {
  // Line 13 (GCC) becomes a second GCA.
  const strand::ParseError e = parse_error(edited_human(13, "GCA    A     0.403    28.455 912370"));
  EXPECT_EQ(e.where().line, 13);
  EXPECT_NE(std::string(e.what()).find("codon GCA appears twice (first at line 12)"), std::string::npos) << e.what();
}

TEST(CodonUsage, MissingCodonsAreListed) {
  const strand::ParseError removed = parse_error(edited_human(37, nullptr));  // the CTG row
  EXPECT_EQ(removed.where().file, "edited.cut");
  EXPECT_NE(std::string(removed.what()).find("1 missing: CTG"), std::string::npos) << removed.what();
  const strand::ParseError empty = parse_error("#Species: nothing\n");
  EXPECT_NE(std::string(empty.what()).find("64 missing: TTT, TTC, TTA"), std::string::npos) << empty.what();
}

TEST(CodonUsage, MissingFileIsAnIoError) {
  EXPECT_THROW(sb::CodonUsage::read_emboss(std::string(STRAND_TEST_DATA) + "/bio/none.cut"), strand::IoError);
}

// Damaged copies of the real file either parse or fail with a ParseError; nothing else escapes.
TEST(CodonUsage, MutatedFilesFailCleanly) {
  const std::string text = strand::io::read_file(kHuman);
  const std::string alphabet = "ACGTUX*#:.-e 019\n\t";
  std::mt19937 rng(7);
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
      const sb::CodonUsage usage = sb::CodonUsage::parse_emboss(damaged, "damaged.cut");
      for (const sb::CodonUsageEntry& entry : usage.entries()) ASSERT_EQ(entry.codon.size(), 3u);
    } catch (const strand::ParseError& e) {
      ASSERT_EQ(e.where().file, "damaged.cut");
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000);
}
