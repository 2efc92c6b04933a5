#include <gtest/gtest.h>

#include "chem/smiles.h"
#include "libseq/core/error.h"

using namespace strand::chem;

TEST(Smiles, CanonicalFormIsIndependentOfInputOrder) {
  // Different atom orders of the same molecule reach one canonical SMILES.
  EXPECT_EQ(canonical_smiles("OCC"), canonical_smiles("CCO"));
  EXPECT_EQ(canonical_smiles("C1=CC=CC=C1"), "c1ccccc1");  // Kekulé benzene is perceived aromatic
  EXPECT_EQ(canonical_smiles("OC(=O)C"), canonical_smiles("CC(O)=O"));
  EXPECT_EQ(canonical_smiles(canonical_smiles("CC(=O)Oc1ccccc1C(=O)O")), canonical_smiles("CC(=O)Oc1ccccc1C(=O)O"));
}

TEST(Smiles, HeavyAtomsOfAspirin) { EXPECT_EQ(heavy_atom_count("CC(=O)Oc1ccccc1C(=O)O"), 13); }

TEST(Smiles, InvalidSmilesIsAnInputErrorNamingIt) {
  EXPECT_FALSE(is_valid_smiles("C1CC"));     // unclosed ring
  EXPECT_FALSE(is_valid_smiles("C(C"));      // unclosed branch
  EXPECT_FALSE(is_valid_smiles("c1cccc1"));  // non-kekulizable aromatic ring
  EXPECT_FALSE(is_valid_smiles(""));
  EXPECT_TRUE(is_valid_smiles("CCO"));
  try {
    canonical_smiles("C1CC");
    FAIL();
  } catch (const strand::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'C1CC'"), std::string::npos);
  }
}
