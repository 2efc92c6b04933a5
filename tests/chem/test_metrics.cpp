// Molecule metrics. Oracles: RDKit 2022.09.3's own Python implementations (Debian python3-rdkit:
// rdkit.Chem.QED.qed, Crippen.MolLogP, Descriptors.MolWt, CalcTPSA — values printed to 10 / 6
// decimals and copied here), the SA scores RDKit ships with sascorer (rdkit-data:
// Contrib/SA_Score/data/zim.100.txt, 100 ZINC molecules), and MOSES' formulas worked by hand.
#include <GraphMol/GraphMol.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chem/metrics.h"
#include "chem/molio.h"
#include "libseq/core/error.h"

namespace chem = strand::chem;

namespace {

const std::string kZim = "/usr/share/RDKit/Contrib/SA_Score/data/zim.100.txt";

bool have_rdkit_data() {
  if (std::filesystem::exists(kZim) && std::filesystem::exists(chem::SaScorer::default_path())) return true;
  ADD_FAILURE() << "needs the Debian package rdkit-data (sudo apt-get install rdkit-data)";
  return false;
}

}  // namespace

TEST(MoleculeMetrics, QedAndPropertiesMatchRdkitPython) {
  struct Row {
    const char* smiles;
    double qed, logp, mw, tpsa;
  };
  const Row rows[] = {
      {"CC(=O)Oc1ccccc1C(=O)O", 0.5501217967, 1.310100, 180.159000, 63.600000},
      {"CN1C=NC2=C1C(=O)N(C(=O)N2C)C", 0.5384628262, -1.029300, 194.194000, 61.820000},
      {"CC(C)Cc1ccc(cc1)C(C)C(=O)O", 0.8215995487, 3.073200, 206.285000, 37.300000},
      {"N=C(CCSCc1csc(N=C(N)N)n1)NS(N)(=O)=O", 0.2531425773, -0.558330, 337.456000, 173.330000},
      {"c1ccc2c(c1)ccc1ccccc12", 0.4564102474, 3.993000, 178.234000, 0.000000},
      {"O=[N+]([O-])c1ccc(Cl)cc1", 0.4636021031, 2.248200, 157.556000, 43.140000},
      {"C[C@H](N)C(=O)O", 0.4513521877, -0.581800, 89.094000, 63.320000},
      {"ClC(Cl)(Cl)Cl", 0.4697955364, 2.552900, 153.823000, 0.000000},
      {"CCO", 0.4068079657, -0.001400, 46.069000, 20.230000},
      {"OC1=C(Cl)C=C(C=C1[N+]([O-])=O)[N+]([O-])=O", 0.6021769212, 1.862000, 218.552000, 106.510000},
  };
  for (const auto& r : rows) {
    const auto mol = chem::parse_smiles(r.smiles);
    ASSERT_NE(mol, nullptr) << r.smiles;
    const auto p = chem::molecule_properties(*mol, nullptr);
    EXPECT_NEAR(p.qed, r.qed, 1e-9) << r.smiles;
    EXPECT_NEAR(p.logp, r.logp, 1e-6) << r.smiles;
    EXPECT_NEAR(p.mw, r.mw, 1e-3) << r.smiles;
    EXPECT_NEAR(p.tpsa, r.tpsa, 1e-6) << r.smiles;
    EXPECT_TRUE(std::isnan(p.sa));
  }
}

TEST(MoleculeMetrics, SaScoreMatchesTheReferenceScoresOf100ZincMolecules) {
  if (!have_rdkit_data()) return;
  const chem::SaScorer sa;
  EXPECT_GT(sa.fragments(), 700000u);
  std::ifstream in(kZim);
  std::string line;
  std::getline(in, line);  // header
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string smiles, name;
    double expected = 0;
    f >> smiles >> name >> expected;
    const auto mol = chem::parse_smiles(smiles);
    ASSERT_NE(mol, nullptr) << smiles;
    EXPECT_NEAR(sa.score(*mol), expected, 0.0015) << name << " " << smiles;
    ++n;
  }
  EXPECT_EQ(n, 100);
  EXPECT_THROW(chem::SaScorer("/nonexistent/fpscores.pkl.gz"), strand::IoError);
}

TEST(MoleculeMetrics, SetMetricsFollowMosesDefinitions) {
  // Valid: CCO, CCO, benzene, OCC (= CCO); invalid: "" and an unclosed ring.
  const std::vector<std::string> samples = {"CCO", "CCO", "c1ccccc1", "", "C1CC", "OCC"};
  chem::GenerationMetrics m = chem::evaluate_molecules(samples, {"OCC", "CC"}, {});
  EXPECT_EQ(m.samples, 6);
  EXPECT_EQ(m.empty, 1);
  EXPECT_EQ(m.valid, 4);
  EXPECT_DOUBLE_EQ(m.validity, 4.0 / 6);
  EXPECT_EQ(m.unique, 2);
  EXPECT_DOUBLE_EQ(m.uniqueness, 0.5);
  EXPECT_EQ(m.novel, 1);  // benzene
  EXPECT_DOUBLE_EQ(m.novelty, 0.5);
  // Tanimoto 1 among the three ethanols, 0 to benzene: row means 3/4 (x3) and 1/4.
  EXPECT_NEAR(m.int_div1, 0.375, 1e-12);
  EXPECT_NEAR(m.int_div2, 1 - (3 * std::sqrt(0.75) + 0.5) / 4, 1e-12);
  EXPECT_EQ(m.snn, -1);
  EXPECT_EQ(m.logp.w1, -1);
  chem::GenerationMetricsOptions o;
  o.empty_is_valid = true;
  m = chem::evaluate_molecules(samples, {}, {}, o);
  EXPECT_EQ(m.valid, 5);
  EXPECT_EQ(m.unique, 3);
  EXPECT_EQ(m.novelty, -1);
}

TEST(MoleculeMetrics, SimilarityToTheReferenceSet) {
  const std::vector<std::string> set = {"c1ccc2ccccc2c1", "c1ccc(-c2ccccc2)cc1", "CC(=O)Oc1ccccc1C(=O)O",
                                        "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "O=C(O)c1ccccc1-c1ccccc1"};
  const auto same = chem::evaluate_molecules(set, {}, set);
  EXPECT_NEAR(same.snn, 1.0, 1e-12);
  EXPECT_NEAR(same.frag, 1.0, 1e-12);
  EXPECT_NEAR(same.scaf, 1.0, 1e-12);
  EXPECT_NEAR(same.logp.w1, 0.0, 1e-12);
  EXPECT_NEAR(same.qed.w1, 0.0, 1e-12);
  const auto other = chem::evaluate_molecules({"CCO", "CCCCO", "CCN"}, {}, set);
  EXPECT_LT(other.snn, 0.3);
  EXPECT_NEAR(other.scaf, 0.0, 1e-12);  // no scaffold with two rings
  EXPECT_GT(other.mw.w1, 50.0);
  EXPECT_NEAR(other.mw.mean, (46.069 + 74.123 + 45.085) / 3, 1e-2);
}
