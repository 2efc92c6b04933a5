// Nucleotide alphabets. Oracle: the NC-IUB 1985 nomenclature for incompletely specified bases
// (Eur. J. Biochem. 150:1-5), written out below as base sets and complement pairs.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "bio/alphabet.h"
#include "libseq/core/error.h"

namespace sb = strand::bio;

namespace {

// Each code with the bases it stands for (NC-IUB 1985, Table 1).
const std::pair<char, const char*> kIupacBases[] = {
    {'A', "A"},   {'C', "C"},   {'G', "G"},   {'T', "T"},   {'U', "T"},   {'R', "AG"},  {'Y', "CT"},  {'S', "CG"},
    {'W', "AT"},  {'K', "GT"},  {'M', "AC"},  {'B', "CGT"}, {'D', "AGT"}, {'H', "ACT"}, {'V', "ACG"}, {'N', "ACGT"},
};

sb::BaseMask mask_of(const char* bases) {
  sb::BaseMask m = 0;
  for (const char* p = bases; *p; ++p) {
    switch (*p) {
      case 'A': m |= sb::kBaseA; break;
      case 'C': m |= sb::kBaseC; break;
      case 'G': m |= sb::kBaseG; break;
      default: m |= sb::kBaseT; break;
    }
  }
  return m;
}

char lower(char c) { return static_cast<char>(c - 'A' + 'a'); }

std::string random_sequence(const std::string& letters, size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, letters.size() - 1);
  std::string s(n, ' ');
  for (char& c : s) c = letters[pick(rng)];
  return s;
}

}  // namespace

TEST(Alphabet, BaseMasksFollowNcIub) {
  for (const auto& [code, bases] : kIupacBases) {
    EXPECT_EQ(sb::base_mask(code), mask_of(bases)) << code;
    EXPECT_EQ(sb::base_mask(lower(code)), mask_of(bases)) << code;
  }
  EXPECT_EQ(sb::base_mask('-'), 0);
  EXPECT_EQ(sb::base_mask('.'), 0);
  EXPECT_EQ(sb::base_mask('X'), 0);
}

TEST(Alphabet, IupacCodeInvertsBaseMask) {
  for (const auto& [code, bases] : kIupacBases) {
    if (code == 'U') continue;
    EXPECT_EQ(sb::iupac_code(mask_of(bases)), code);
  }
  EXPECT_EQ(sb::iupac_code(sb::kBaseT, /*rna=*/true), 'U');
  EXPECT_EQ(sb::iupac_code(sb::kBaseA | sb::kBaseT, /*rna=*/true), 'W');
  EXPECT_THROW(sb::iupac_code(0), strand::InputError);
  EXPECT_THROW(sb::iupac_code(16), strand::InputError);
}

TEST(Alphabet, ExactlyTheIupacLettersAreNucleotides) {
  const std::string codes = "ACGTURYSWKMBDHVN";
  const std::string ambiguity = "RYSWKMBDHVN";
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const char up = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    EXPECT_EQ(sb::is_iupac_nucleotide(c), letter && codes.find(up) != std::string::npos) << b;
    EXPECT_EQ(sb::is_ambiguity_code(c), letter && ambiguity.find(up) != std::string::npos) << b;
    EXPECT_EQ(sb::is_gap(c), c == '-' || c == '.') << b;
  }
}

TEST(Alphabet, ComplementPairs) {
  // NC-IUB 1985 Table 1, "complement" column.
  const std::pair<char, char> pairs[] = {{'A', 'T'}, {'C', 'G'}, {'R', 'Y'}, {'K', 'M'}, {'B', 'V'},
                                         {'D', 'H'}, {'S', 'S'}, {'W', 'W'}, {'N', 'N'}};
  for (const auto& [x, y] : pairs) {
    EXPECT_EQ(sb::complement_base(x), y);
    EXPECT_EQ(sb::complement_base(y), x);
    EXPECT_EQ(sb::complement_base(lower(x)), lower(y));
    EXPECT_EQ(sb::complement_base(lower(y)), lower(x));
  }
  EXPECT_EQ(sb::complement_base('U'), 'A');
  EXPECT_EQ(sb::complement_base('u'), 'a');
  EXPECT_EQ(sb::complement_base('-'), '-');
  EXPECT_EQ(sb::complement_base('.'), '.');
}

TEST(Alphabet, RnaComplementWritesU) {
  EXPECT_EQ(sb::complement_base('A', true), 'U');
  EXPECT_EQ(sb::complement_base('a', true), 'u');
  EXPECT_EQ(sb::complement_base('U', true), 'A');
  EXPECT_EQ(sb::complement_base('T', true), 'A');
  EXPECT_EQ(sb::complement_base('G', true), 'C');
  EXPECT_EQ(sb::complement_base('Y', true), 'R');
}

TEST(Alphabet, ComplementIsTheComplementOfTheBaseSet) {
  auto swap_bits = [](sb::BaseMask m) {
    return static_cast<sb::BaseMask>(((m & sb::kBaseA) ? sb::kBaseT : 0) | ((m & sb::kBaseT) ? sb::kBaseA : 0) |
                                     ((m & sb::kBaseC) ? sb::kBaseG : 0) | ((m & sb::kBaseG) ? sb::kBaseC : 0));
  };
  for (const auto& [code, bases] : kIupacBases) {
    EXPECT_EQ(sb::base_mask(sb::complement_base(code)), swap_bits(mask_of(bases))) << code;
  }
}

TEST(Alphabet, ComplementRejectsEverythingElse) {
  const std::string valid = "ACGTURYSWKMBDHVNacgturyswkmbdhvn-.";
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    if (valid.find(c) != std::string::npos) {
      EXPECT_NO_THROW(sb::complement_base(c)) << b;
    } else {
      EXPECT_THROW(sb::complement_base(c), strand::InputError) << b;
    }
  }
}

TEST(Alphabet, ReverseComplementKnownValues) {
  EXPECT_EQ(sb::reverse_complement("AACGTTtgca"), "tgcaAACGTT");
  EXPECT_EQ(sb::reverse_complement("ATGCRYKMBDHVNSW-."), ".-WSNBDHVKMRYGCAT");
  EXPECT_EQ(sb::reverse_complement("AUGGCU", /*rna=*/true), "AGCCAU");
  EXPECT_EQ(sb::reverse_complement(""), "");
  EXPECT_EQ(sb::complement("ACGTN-"), "TGCAN-");
}

TEST(Alphabet, ReverseComplementIsAnInvolution) {
  const std::string dna = random_sequence("ACGTRYSWKMBDHVNacgtryswkmbdhvn-.", 10007, 1);
  EXPECT_EQ(sb::reverse_complement(sb::reverse_complement(dna)), dna);
  const std::string rna = random_sequence("ACGURYSWKMBDHVNacguryswkmbdhvn", 4099, 2);
  EXPECT_EQ(sb::reverse_complement(sb::reverse_complement(rna, true), true), rna);
  // Reversal and complement commute: reverse_complement == reverse of complement.
  std::string reversed = sb::complement(dna);
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(sb::reverse_complement(dna), reversed);
}

TEST(Alphabet, ReverseComplementInPlaceMatches) {
  const std::string dna = random_sequence("ACGTN", 1001, 3);
  std::string s = dna;
  sb::reverse_complement_in_place(s);
  EXPECT_EQ(s, sb::reverse_complement(dna));
  std::string bad = "ACGTXAC";
  EXPECT_THROW(sb::reverse_complement_in_place(bad), strand::InputError);
  EXPECT_EQ(bad, "ACGTXAC");
}

TEST(Alphabet, ReverseComplementErrorNamesCharacterAndPosition) {
  try {
    sb::reverse_complement("ACGXT");
    FAIL() << "expected InputError";
  } catch (const strand::InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'X'"), std::string::npos) << what;
    EXPECT_NE(what.find("position 3"), std::string::npos) << what;
  }
  try {
    sb::reverse_complement(std::string("AC\nGT"));
    FAIL() << "expected InputError";
  } catch (const strand::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("0x0A"), std::string::npos) << e.what();
  }
}

TEST(Alphabet, Classification) {
  using A = sb::NucleotideAlphabet;
  EXPECT_EQ(sb::classify_nucleotides("ACGT"), A::Dna);
  EXPECT_EQ(sb::classify_nucleotides("acgt"), A::Dna);
  EXPECT_EQ(sb::classify_nucleotides("ACG"), A::Dna);
  EXPECT_EQ(sb::classify_nucleotides(""), A::Dna);
  EXPECT_EQ(sb::classify_nucleotides("AC-GT."), A::Dna);
  EXPECT_EQ(sb::classify_nucleotides("ACGU"), A::Rna);
  EXPECT_EQ(sb::classify_nucleotides("ACGTN"), A::IupacDna);
  EXPECT_EQ(sb::classify_nucleotides("ACGr"), A::IupacDna);
  EXPECT_EQ(sb::classify_nucleotides("ACGUR"), A::IupacRna);
  EXPECT_EQ(sb::classify_nucleotides("ACGTU"), std::nullopt);
  EXPECT_EQ(sb::classify_nucleotides("ACGX"), std::nullopt);
  EXPECT_EQ(sb::classify_nucleotides("MKV*"), std::nullopt);
}

TEST(Alphabet, NormalizeToAcgtn) {
  EXPECT_EQ(sb::normalize_acgtn("acgtuRYSWKMBDHVNn"), "ACGTTNNNNNNNNNNNN");
  EXPECT_EQ(sb::normalize_acgtn("acgtuN", /*rna=*/true), "ACGUUN");
  EXPECT_EQ(sb::normalize_base('r'), 'N');
  EXPECT_EQ(sb::normalize_base('u'), 'T');
  EXPECT_EQ(sb::normalize_base('t', true), 'U');
  EXPECT_THROW(sb::normalize_base('-'), strand::InputError);
  EXPECT_THROW(sb::normalize_base('X'), strand::InputError);
  try {
    sb::normalize_acgtn("ACG-T");
    FAIL() << "expected InputError";
  } catch (const strand::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("position 3"), std::string::npos) << e.what();
  }
}

TEST(Alphabet, NormalizedSequencesUseFiveLetters) {
  const std::string s = random_sequence("ACGTURYSWKMBDHVNacgturyswkmbdhvn", 5000, 4);
  const std::string n = sb::normalize_acgtn(s);
  ASSERT_EQ(n.size(), s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    ASSERT_NE(std::string("ACGTN").find(n[i]), std::string::npos);
    // A base survives exactly when the code names one base.
    EXPECT_EQ(n[i] == 'N', sb::is_ambiguity_code(s[i])) << i;
  }
}

TEST(Alphabet, DescribeChar) {
  EXPECT_EQ(sb::describe_char('A'), "'A'");
  EXPECT_EQ(sb::describe_char('\n'), "0x0A");
  EXPECT_EQ(sb::describe_char(static_cast<char>(0xFF)), "0xFF");
}
