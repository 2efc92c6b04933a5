// Bemis–Murcko frameworks (chem/scaffold.h). Expected frameworks are written by hand from the
// definition (ring systems + linkers, exocyclic double bonds kept) and compared in RDKit
// canonical form, so the test does not depend on how RDKit orders atoms.
#include <gtest/gtest.h>

#include "chem/scaffold.h"
#include "chem/smiles.h"
#include "libseq/core/error.h"

namespace strand::chem {
namespace {

TEST(MurckoScaffold, SideChainsRemovedLinkersKept) {
  struct Case {
    const char* smiles;
    const char* framework;  // "" = no ring
  };
  const Case cases[] = {
      {"CC(=O)c1ccccc1", "c1ccccc1"},                       // acetophenone: the acetyl is a side chain
      {"O=C1CCCC1C", "O=C1CCCC1"},                          // exocyclic C=O on the ring stays
      {"c1ccccc1CCc1ccncc1", "c1ccc(CCc2ccncc2)cc1"},       // the ethylene linker stays
      {"Cn1ccnc1", "c1c[nH]cn1"},                           // N-methylimidazole: the N gets its H back
      {"OC(=O)CCc1ccc2ccccc2c1", "c1ccc2ccccc2c1"},         // naphthalene ring system
      {"CC(C)Cc1ccc(cc1)C(C)C(=O)O", "c1ccccc1"},           // ibuprofen
      {"C1CC1.[Na+].[Cl-]", "C1CC1"},                       // ions without rings go
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.smiles);
    EXPECT_EQ(murcko_scaffold(c.smiles), canonical_smiles(c.framework));
  }
  EXPECT_EQ(murcko_scaffold("CCCCO"), "");
  EXPECT_EQ(murcko_scaffold("[Na+].[Cl-]"), "");
  // Same framework for analogues that differ only in substituents.
  EXPECT_EQ(murcko_scaffold("Clc1ccc(cc1)C1CCNCC1"), murcko_scaffold("COc1ccc(cc1)C1CCN(C)CC1"));
}

TEST(MurckoScaffold, InvalidSmilesIsInputError) {
  EXPECT_THROW(murcko_scaffold("C1CC"), InputError);
  EXPECT_THROW(murcko_scaffold("not a molecule"), InputError);
}

}  // namespace
}  // namespace strand::chem
