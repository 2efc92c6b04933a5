// Residue, peptide, fragment and precursor masses against values computed by hand from the
// monoisotopic residue masses (and, for PEPTIDE, the textbook values), and peptide parsing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bio/spectra/masses.h"
#include "libseq/core/error.h"
#include "tests/message_of.h"

namespace sp = strand::bio::spectra;

namespace {

std::string message_of(const sp::ResidueTable& table, const std::string& peptide) {
  return strand_tests::message_of<strand::InputError>([&] { table.parse(peptide); });
}

}  // namespace

TEST(Masses, PeptideMassAndIons) {
  const auto table = sp::ResidueTable::casanovo();
  const auto tokens = table.parse("PEPTIDE");
  ASSERT_EQ(tokens.size(), 7u);
  // 2 x 97.052764 + 2 x 129.042593 + 101.047670 + 113.084064 + 115.026943 + 18.0105647
  EXPECT_NEAR(table.peptide_mass(tokens), 799.3599557, 1e-6);
  EXPECT_NEAR(table.peptide_mass(tokens), 799.35996, 1e-4);  // the textbook monoisotopic mass
  EXPECT_NEAR(sp::mz_of(table.peptide_mass(tokens), 2), 799.3599557 / 2 + 1.00727646688, 1e-9);
  const auto b = table.b_ions(tokens);
  const auto y = table.y_ions(tokens);
  ASSERT_EQ(b.size(), 6u);
  ASSERT_EQ(y.size(), 6u);
  EXPECT_NEAR(b[0], 97.052764 + 1.00727646688, 1e-9);                // b1 = P + proton
  EXPECT_NEAR(b[1], 227.1026335, 1e-6);                              // b2 = PE + proton
  EXPECT_NEAR(y[0], 129.042593 + 18.0105647 + 1.00727646688, 1e-9);  // y1 = E + water + proton
  EXPECT_NEAR(y[0], 148.06043, 1e-5);                                // the textbook y1 of PEPTIDE
  EXPECT_NEAR(y[5], 799.3599557 - 97.052764 + 1.00727646688, 1e-6);  // y6 = EPTIDE
  // Complementary ions: b_i + y_(n-i) = M + 2 protons.
  for (size_t i = 0; i < b.size(); ++i) EXPECT_NEAR(b[i] + y[b.size() - 1 - i], 799.3599557 + 2 * 1.00727646688, 1e-6);
  const auto b2 = table.b_ions(tokens, 2);
  EXPECT_NEAR(b2[1], (227.1026335 - 1.00727646688 + 2 * 1.00727646688) / 2, 1e-6);
  EXPECT_NEAR(sp::neutral_of(sp::mz_of(1234.5, 3), 3), 1234.5, 1e-9);
}

TEST(Masses, ModificationsInBothNotations) {
  const auto table = sp::ResidueTable::casanovo();
  // Fixed carbamidomethyl C: plain C, named and delta forms are one token.
  const auto c = table.parse("C")[0];
  EXPECT_EQ(table.residues()[static_cast<size_t>(c)].token, "C[Carbamidomethyl]");
  EXPECT_NEAR(table.residues()[static_cast<size_t>(c)].mass, 103.009185 + 57.021464, 1e-9);
  EXPECT_EQ(table.parse("C[Carbamidomethyl]"), table.parse("C"));
  EXPECT_EQ(table.parse("C+57.021"), table.parse("C"));
  // Variable oxidation: M and M[Oxidation] differ by 15.994915.
  EXPECT_NEAR(table.peptide_mass(table.parse("M[Oxidation]")) - table.peptide_mass(table.parse("M")), 15.994915, 1e-9);
  EXPECT_EQ(table.parse("GM+15.995K"), table.parse("GM[Oxidation]K"));
  EXPECT_EQ(table.parse("N+0.984"), table.parse("N[Deamidated]"));
  // N-terminal modifications, named, bracketed masses and chained deltas.
  const auto acetyl = table.parse("[Acetyl]-PEPTIDE");
  ASSERT_EQ(acetyl.size(), 8u);
  EXPECT_EQ(table.residues()[static_cast<size_t>(acetyl[0])].amino_acid, 0);
  EXPECT_EQ(table.parse("+42.011PEPTIDE"), acetyl);
  EXPECT_NEAR(table.peptide_mass(acetyl) - table.peptide_mass(table.parse("PEPTIDE")), 42.010565, 1e-9);
  EXPECT_EQ(table.parse("+43.006-17.027PEPTIDE"), table.parse("[+25.980265]-PEPTIDE"));
  EXPECT_EQ(table.parse("[Ammonia-loss]-QPEPTIDE"), table.parse("-17.027QPEPTIDE"));
  // The N-terminal modification counts in every b ion, never in y ions.
  const auto b = table.b_ions(acetyl);
  const auto y = table.y_ions(acetyl);
  ASSERT_EQ(b.size(), 6u);
  ASSERT_EQ(y.size(), 6u);
  EXPECT_NEAR(b[0], 97.052764 + 42.010565 + 1.00727646688, 1e-9);
  EXPECT_EQ(y, table.y_ions(table.parse("PEPTIDE")));
  EXPECT_EQ(table.format(acetyl), "[Acetyl]-PEPTLDE");  // I is read as L in this table
  EXPECT_EQ(table.format(table.parse("HQGVM+15.995VGM+15.995GQK")), "HQGVM[Oxidation]VGM[Oxidation]GQK");
}

TEST(Masses, IsoleucineIsMergedIntoLeucineOnRequest) {
  const auto merged = sp::ResidueTable::casanovo();
  EXPECT_EQ(merged.parse("PEPTIDE"), merged.parse("PEPTLDE"));
  EXPECT_EQ(merged.find("I"), -1);
  const sp::ResidueTable separate(sp::ResidueTable::casanovo_modifications(), false);
  EXPECT_NE(separate.parse("PEPTIDE"), separate.parse("PEPTLDE"));
  EXPECT_NEAR(separate.peptide_mass(separate.parse("PEPTIDE")), separate.peptide_mass(separate.parse("PEPTLDE")), 1e-12);
  // 19 residues (I merged) + 3 variable + 4 N-terminal modifications.
  EXPECT_EQ(merged.residues().size(), 26u);
  EXPECT_EQ(separate.residues().size(), 27u);
}

TEST(Masses, BadPeptidesNameThePositionAndProblem) {
  const auto table = sp::ResidueTable::casanovo();
  EXPECT_NE(message_of(table, "PEPXB").find("position 4: unknown residue 'X'"), std::string::npos)
      << message_of(table, "PEPXB");
  EXPECT_NE(message_of(table, "PEM[Phospho]K").find("unknown modification 'Phospho' of residue M"), std::string::npos);
  EXPECT_NE(message_of(table, "PEM+79.966K").find("no modification of residue M has the mass shift +79.966"),
            std::string::npos);
  EXPECT_NE(message_of(table, "PEM[Oxidation").find("'[' without a closing ']'"), std::string::npos);
  EXPECT_NE(message_of(table, "pep").find("expected a residue letter, found 'p'"), std::string::npos);
  EXPECT_NE(message_of(table, "[Acetyl]PEP").find("expected '-' after an N-terminal modification"), std::string::npos);
  EXPECT_NE(message_of(table, "[Acetyl]-").find("no residues"), std::string::npos);
  EXPECT_NE(message_of(table, "").find("empty peptide"), std::string::npos);
}

TEST(Masses, UserTablesAreChecked) {
  EXPECT_THROW(sp::ResidueTable({{"Phospho", 'B', 79.966331, false}}), strand::ConfigError);
  EXPECT_THROW(sp::ResidueTable({{"A", 'C', 1, true}, {"B", 'C', 2, true}}), strand::ConfigError);
  EXPECT_THROW(sp::ResidueTable({{"Oxidation", 'M', 15.994915, false}, {"Oxidation", 'M', 15.994915, false}}),
               strand::ConfigError);
  const sp::ResidueTable phospho({{"Phospho", 'S', 79.966331, false}});
  EXPECT_NEAR(phospho.peptide_mass(phospho.parse("S[Phospho]")) - phospho.peptide_mass(phospho.parse("S")), 79.966331,
              1e-9);
  EXPECT_EQ(phospho.parse("S+79.966"), phospho.parse("S[Phospho]"));
}

TEST(Masses, PrecursorToleranceWithIsotopes) {
  const double mass = 1000.0;
  const double mz = sp::mz_of(mass, 2);
  EXPECT_TRUE(sp::precursor_matches(mass, mz, 2, 10));
  EXPECT_TRUE(sp::precursor_matches(mass, mz * (1 + 9e-6), 2, 10));
  EXPECT_FALSE(sp::precursor_matches(mass, mz * (1 + 11e-6), 2, 10));
  // The observed peak is the first 13C isotope: allowed with max_isotope 1, not with 0.
  const double iso = mz + sp::kIsotopeSpacing / 2;
  EXPECT_TRUE(sp::precursor_matches(mass, iso, 2, 10, 0, 1));
  EXPECT_FALSE(sp::precursor_matches(mass, iso, 2, 10, 0, 0));
  EXPECT_FALSE(sp::precursor_matches(mass, mz, 0, 10));
  EXPECT_NEAR(sp::ppm_error(1000.001, 1000.0), 1.0, 1e-6);
}
