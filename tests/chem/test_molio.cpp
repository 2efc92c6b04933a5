// Molecule files through RDKit: real NCI molecules from rdkit-data (tests/data/chem/PROVENANCE.md),
// bad records skipped and counted, canonical / Kekulé / standardised SMILES, atomic writing.
#include <GraphMol/GraphMol.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chem/molio.h"
#include "chem/smiles.h"
#include "libseq/core/error.h"
#include "tests/temp_dir.h"

namespace chem = strand::chem;
namespace fs = std::filesystem;

namespace {

const std::string kDir = std::string(STRAND_TEST_DATA) + "/chem/";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(MolIo, SdfRecordsWithTheirDataItems) {
  chem::MoleculeReadStats stats;
  const auto mols = chem::read_molecules(kDir + "nci_12.sdf", {}, &stats);
  ASSERT_EQ(mols.size(), 12u);
  EXPECT_EQ(stats.records, 12);
  EXPECT_EQ(stats.skipped, 0);
  EXPECT_EQ(mols[0].smiles, chem::canonical_smiles("CC1=CC(=O)C=CC1=O"));  // NCI 1, first line of first_5K.smi
  EXPECT_EQ(mols[0].properties.size(), 19u);
  EXPECT_EQ(mols[0].properties.at("AMW"), "122.12344");
  EXPECT_EQ(mols[0].properties.at("P1"), "0.73");
  EXPECT_EQ(mols[1].properties.count("P1"), 0u);
  EXPECT_EQ(mols[0].line, 1);
  EXPECT_EQ(mols[1].record, 2);
  EXPECT_EQ(mols[0].mol->getNumAtoms(), 9u);
}

TEST(MolIo, BrokenSdfRecordsAreSkippedAndCountedWithTheirIndex) {
  chem::MoleculeReader reader(kDir + "nci_broken.sdf");
  std::vector<int64_t> records;
  chem::MoleculeRecord r;
  while (reader.next(r)) records.push_back(r.record);
  EXPECT_EQ(records, (std::vector<int64_t>{1, 2, 4, 5, 7, 8, 9, 10, 11}));
  const auto& s = reader.stats();
  EXPECT_EQ(s.records, 12);
  EXPECT_EQ(s.ok, 9);
  EXPECT_EQ(s.skipped, 3);
  ASSERT_EQ(s.problems.size(), 3u);
  EXPECT_EQ(s.problems[0].record, 3);
  EXPECT_EQ(s.problems[1].record, 6);
  EXPECT_EQ(s.problems[2].record, 12);
  EXPECT_NE(s.problems[2].message.find("without $$$$"), std::string::npos) << s.problems[2].message;
  EXPECT_GT(s.problems[1].line, s.problems[0].line);
  EXPECT_NE(s.summary().find("12 records, 9 read, 3 skipped (record 3, line"), std::string::npos) << s.summary();
}

TEST(MolIo, SmilesFileSkipsBadMoleculesAndKeepsNames) {
  chem::MoleculeReadStats stats;
  const auto mols = chem::read_molecules(kDir + "nci_30_bad.smi", {}, &stats);
  EXPECT_EQ(mols.size(), 30u);
  EXPECT_EQ(stats.records, 33);
  EXPECT_EQ(stats.skipped, 3);
  ASSERT_EQ(stats.problems.size(), 3u);
  EXPECT_EQ(stats.problems[0].line, 11);
  EXPECT_NE(stats.problems[0].message.find("'C1CC'"), std::string::npos);
  EXPECT_EQ(stats.problems[1].line, 22);
  EXPECT_NE(stats.problems[1].message.find("valence"), std::string::npos) << stats.problems[1].message;
  EXPECT_EQ(stats.problems[2].line, 24);
  EXPECT_NE(stats.problems[2].message.find("kekulize"), std::string::npos) << stats.problems[2].message;
  EXPECT_EQ(mols[0].name, "1");
  EXPECT_EQ(mols.back().name, "30");
}

TEST(MolIo, CsvWithNameAndPropertyColumns) {
  chem::MoleculeReadStats stats;
  const auto mols = chem::read_molecules(kDir + "nci_15.csv", {}, &stats);
  ASSERT_EQ(mols.size(), 15u);
  EXPECT_EQ(stats.skipped, 1);
  EXPECT_EQ(stats.problems.at(0).record, 16);
  EXPECT_EQ(mols[1].name, "NCI 2, disulfide");
  EXPECT_EQ(mols[1].properties.at("TPSA"), "25.78");
  EXPECT_EQ(mols[1].properties.size(), 1u);
  chem::MoleculeReadOptions o;
  o.smiles_column = "TPSA";
  EXPECT_EQ(chem::read_molecules(kDir + "nci_15.csv", o).size(), 0u);  // numbers are no SMILES
  o.smiles_column = "structure";
  EXPECT_THROW(chem::read_molecules(kDir + "nci_15.csv", o), strand::ParseError);
}

TEST(MolIo, HeaderlessTsvRowsMayDropTrailingEmptyCells) {
  // The layout of OpenMS's HMDB2StructMapping.tsv: id, name, SMILES, InChI and a trailing tab,
  // which the file's last rows leave out.
  strand_tests::TempDir dir("molio-tsv");
  const std::string path = dir / "hmdb.tsv";
  std::ofstream(path) << "HMDB:1\tethanol\tCCO\tInChI=1S/C2H6O\t\n"
                      << "HMDB:2\tacetic acid\tCC(=O)O\tInChI=1S/C2H4O2\n"         // no trailing cell
                      << "HMDB:3\tbenzene\tc1ccccc1\tInChI=1S/C6H6\t\textra\n"  // one cell too many
                      << "HMDB:4\tname only\n";                                      // no SMILES column
  chem::MoleculeReadOptions o;
  o.header = false;
  o.smiles_column = "3";
  o.name_column = "1";
  chem::MoleculeReadStats stats;
  const auto mols = chem::read_molecules(path, o, &stats);
  ASSERT_EQ(mols.size(), 2u);
  EXPECT_EQ(mols[1].name, "HMDB:2");
  EXPECT_EQ(mols[1].smiles, "CC(=O)O");
  EXPECT_EQ(mols[1].properties.at("4"), "InChI=1S/C2H4O2");
  ASSERT_EQ(stats.problems.size(), 2u);
  EXPECT_EQ(stats.problems[0].record, 3);
  EXPECT_NE(stats.problems[0].message.find("expected 5 fields, found 6"), std::string::npos) << stats.problems[0].message;
  EXPECT_EQ(stats.problems[1].record, 4);
  EXPECT_NE(stats.problems[1].message.find("found 2"), std::string::npos) << stats.problems[1].message;
}

TEST(MolIo, SmilesStylesAndStandardisation) {
  auto mol = chem::parse_smiles("c1ccccc1O");
  ASSERT_NE(mol, nullptr);
  EXPECT_EQ(chem::to_smiles(*mol), "Oc1ccccc1");
  EXPECT_EQ(chem::to_smiles(*mol, {true, true, true}), "OC1=CC=CC=C1");
  auto salt = chem::parse_smiles("CC(=O)[O-].[Na+]");
  ASSERT_NE(salt, nullptr);
  EXPECT_EQ(chem::to_smiles(*chem::standardize(*salt)), "CC(=O)O");
  std::string why;
  EXPECT_EQ(chem::parse_smiles("C1CC", &why), nullptr);
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(chem::parse_smiles("CC(C)(C)(C)(C)C", &why), nullptr);
  EXPECT_NE(why.find("valence"), std::string::npos) << why;
  chem::MoleculeReadOptions o;
  o.standardize = true;
  o.style.kekule = true;
  const auto mols = chem::read_molecules(kDir + "nci_30_bad.smi", o);
  ASSERT_EQ(mols.size(), 30u);
  for (const auto& m : mols) EXPECT_EQ(m.smiles.find_first_of("cnos"), std::string::npos) << m.smiles;  // Kekulé
}

TEST(MolIo, WrittenFilesReadBackTheSameMolecules) {
  strand_tests::TempDir dir("molio");
  const auto mols = chem::read_molecules(kDir + "nci_12.sdf");
  for (const char* ext : {".smi", ".csv", ".tsv", ".sdf"}) {
    const std::string path = (dir.path / (std::string("out") + ext)).string();
    chem::write_molecules(path, mols);
    chem::MoleculeReadStats stats;
    const auto back = chem::read_molecules(path, {}, &stats);
    ASSERT_EQ(back.size(), mols.size()) << ext << ": " << stats.summary();
    for (size_t i = 0; i < mols.size(); ++i) {
      EXPECT_EQ(back[i].smiles, mols[i].smiles) << ext << " " << i;
      if (std::string(ext) != ".smi") {
        EXPECT_EQ(back[i].properties, mols[i].properties) << ext << " " << i;
      }
    }
  }
  const std::string sdf = slurp((dir.path / "out.sdf").string());
  EXPECT_NE(sdf.find("> <CLOGP>"), std::string::npos);
  EXPECT_THROW(chem::write_molecules((dir.path / "x.sdf.gz").string(), mols), strand::InputError);
  EXPECT_THROW(chem::write_molecules((dir.path / "x.pdb").string(), mols), strand::InputError);
  EXPECT_FALSE(fs::exists(dir.path / "x.pdb"));
}

TEST(MolIo, UnreadableAndUnknownFilesAreClearErrors) {
  EXPECT_THROW(chem::MoleculeReader("/nonexistent/strand/x.sdf"), strand::IoError);
  EXPECT_THROW(chem::MoleculeReader(kDir + "PROVENANCE.md"), strand::InputError);
}
