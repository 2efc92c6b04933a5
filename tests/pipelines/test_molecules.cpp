// strand evaluate-molecules as a job: files in, metrics JSON and per-molecule TSV out.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "chem/selfies/selfies.h"
#include "libseq/io/atomic_file.h"
#include "libseq/io/safetensors.h"
#include "pipelines/generate.h"
#include "pipelines/molecules.h"
#include "pipelines/pretrain.h"
#include "libseq/core/error.h"
#include "tests/message_of.h"
#include "tests/temp_dir.h"

namespace pl = strand::pipelines;

namespace {

/// A causal `tiny` model trained for 3 steps on `data`: enough to sample from.
std::string tiny_lm(const std::string& data, const std::string& tokenizer, const std::string& out, int64_t seq_len) {
  pl::PretrainOptions p;
  p.data = {data};
  p.tokenizer = tokenizer;
  p.arch = "tiny";
  p.steps = 3;
  p.batch = 4;
  p.seq_len = seq_len;
  p.val_every = 3;
  p.val_windows = 2;
  p.out = out;
  pl::run_pretrain(p);
  return out;
}

}  // namespace

TEST(EvaluateMolecules, SmilesFileWithBadAndEmptyLines) {
  strand_tests::TempDir dir("evalmol");
  pl::EvaluateMoleculesOptions o;
  o.samples = std::string(STRAND_TEST_DATA) + "/chem/nci_30_bad.smi";  // 30 good, 3 bad, 1 blank line
  // Training set: the first 12 lines of the samples: 11 good molecules (line 11 is a broken ring).
  std::ifstream in(o.samples);
  std::string line;
  std::string train;
  for (int i = 0; i < 12 && std::getline(in, line); ++i) train += line + "\n";
  strand::io::write_file_atomic(dir / "train.smi", train);
  o.training = dir / "train.smi";
  o.reference = std::string(STRAND_TEST_DATA) + "/chem/nci_15.csv";
  o.sa_fpscores = "none";
  o.out = dir / "metrics.json";
  o.properties = dir / "props.tsv";
  const auto r = pl::evaluate_molecules(o);
  EXPECT_EQ(r.metrics.samples, 34);
  EXPECT_EQ(r.metrics.empty, 1);
  EXPECT_EQ(r.metrics.valid, 30);
  EXPECT_EQ(r.metrics.unique, 30);
  EXPECT_EQ(r.metrics.novel, 30 - 11);
  const auto j = nlohmann::json::parse(strand::io::read_file(o.out));
  EXPECT_EQ(j["valid"], 30);
  EXPECT_TRUE(j["sa"].is_null());
  // nci_15.csv holds NCI 1-15 (its bad row is skipped): half the samples have a Tanimoto-1 neighbour.
  EXPECT_GT(j["snn"].get<double>(), 0.5);
  EXPECT_LT(j["snn"].get<double>(), 1.0);
  std::istringstream tsv(strand::io::read_file(o.properties));
  int rows = 0;
  int invalid = 0;
  std::getline(tsv, line);
  EXPECT_EQ(line, "sample\tsmiles\tvalid\tlogp\tmw\ttpsa\tqed\tsa");
  while (std::getline(tsv, line)) {
    ++rows;
    const size_t a = line.find('\t', line.find('\t') + 1);
    invalid += line.compare(a + 1, 2, "0\t") == 0 ? 1 : 0;
  }
  EXPECT_EQ(rows, 34);
  EXPECT_EQ(invalid, 4);
}

TEST(EvaluateMolecules, SelfiesSamplesAreDecodedFirst) {
  strand_tests::TempDir dir("evalmol-sf");
  std::string text;
  for (const char* s : {"CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O"}) text += strand::chem::selfies::encode(s) + "\n";
  text += "[C][O][Branch1][Xyz][C]\n";  // a decoder error: invalid
  text += "[Branch1]\n";                // decodes to the empty string: empty
  strand::io::write_file_atomic(dir / "gen.txt", text);
  pl::EvaluateMoleculesOptions o;
  o.samples = dir / "gen.txt";
  o.selfies = true;
  o.sa_fpscores = "none";
  auto r = pl::evaluate_molecules(o);
  EXPECT_EQ(r.metrics.samples, 5);
  EXPECT_EQ(r.metrics.valid, 3);
  EXPECT_EQ(r.metrics.empty, 1);
  EXPECT_EQ(r.json["selfies_decode_errors"], 1);
  o.empty_is_valid = true;
  r = pl::evaluate_molecules(o);
  EXPECT_EQ(r.metrics.valid, 4);
}

TEST(EvaluateMolecules, FcdWithChemNetWeights) {
  strand_tests::TempDir dir("evalmol-fcd");
  // A small ChemNet in the plug-in format: conv(35->4, kernel 2, selu) then a backwards LSTM (4->3).
  at::manual_seed(11);
  const std::string chemnet = dir / "chemnet.safetensors";
  strand::io::save_safetensors(chemnet,
                               {{"layers.0.weight", at::randn({4, 35, 2}) * 20}, {"layers.0.bias", at::randn({4})},
                                {"layers.1.weight_ih", at::randn({12, 4})}, {"layers.1.weight_hh", at::randn({12, 3})},
                                {"layers.1.bias_ih", at::randn({12})}, {"layers.1.bias_hh", at::randn({12})}},
                               {{"format", "strand-chemnet"},
                                {"layers", R"([{"type":"conv1d","activation":"selu"},{"type":"lstm","reverse":true,"last":true}])"}});
  pl::EvaluateMoleculesOptions o;
  o.samples = std::string(STRAND_TEST_DATA) + "/chem/nci_30_bad.smi";
  o.reference = o.samples;
  o.sa_fpscores = "none";
  o.chemnet = chemnet;
  auto r = pl::evaluate_molecules(o);
  EXPECT_NEAR(r.fcd, 0.0, 1e-6);  // the same valid molecules on both sides
  o.reference = std::string(STRAND_TEST_DATA) + "/chem/nci_15.csv";
  r = pl::evaluate_molecules(o);
  EXPECT_GT(r.fcd, 1e-3);
  EXPECT_DOUBLE_EQ(r.json["fcd"].get<double>(), r.fcd);
  EXPECT_EQ(r.json["inputs"]["chemnet"], chemnet);
  o.reference.clear();
  const auto message = strand_tests::message_of<strand::InputError>([&] { pl::evaluate_molecules(o); });
  EXPECT_NE(message.find("--chemnet needs --reference"), std::string::npos) << message;
}

TEST(GenerateMolecules, SmilesModelSamplesReproduciblyWithAndWithoutContext) {
  strand_tests::TempDir dir("generate");
  pl::GenerateOptions g;
  g.model = tiny_lm(std::string(STRAND_TEST_DATA) + "/chem/nci_30_bad.smi", "smiles", dir / "lm", 96);
  g.samples = 5;
  g.batch = 2;
  g.sampling.max_new_tokens = 20;
  g.out = dir / "gen.smi";
  const auto a = pl::generate(g);
  const auto b = pl::generate(g);
  ASSERT_EQ(a.molecules.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(a.molecules[i].text, b.molecules[i].text);
  std::istringstream lines(strand::io::read_file(g.out));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) EXPECT_EQ(line, a.molecules[static_cast<size_t>(n++)].text);
  EXPECT_EQ(n, 5);
  g.seed = 43;
  g.context = {"CCO", "c1ccccc1O"};
  g.out.clear();
  const auto c = pl::generate(g);
  for (const auto& m : c.molecules) EXPECT_EQ(m.text.find('.'), std::string::npos) << m.text;  // the first molecule only
  g.context = {"C1CC"};
  EXPECT_THROW(pl::generate(g), strand::InputError);
  g.model = std::string(STRAND_TEST_DATA) + "/none";
  EXPECT_ANY_THROW(pl::generate(g));
}

TEST(GenerateMolecules, SelfiesModelWritesDecodedSmilesOrItsSelfies) {
  strand_tests::TempDir dir("generate-selfies");
  pl::ConvertMoleculesOptions c;
  c.input = std::string(STRAND_TEST_DATA) + "/chem/nci_30_bad.smi";
  c.out = dir / "train.selfies";
  pl::convert_molecules(c);
  pl::GenerateOptions g;
  g.model = tiny_lm(dir / "train.selfies", "selfies", dir / "lm", 64);
  g.samples = 6;
  g.batch = 3;
  g.sampling.max_new_tokens = 16;
  g.out = dir / "gen.selfies";
  const auto a = pl::generate(g);
  g.out = dir / "gen.smi";
  const auto b = pl::generate(g);
  std::istringstream raw(strand::io::read_file(dir / "gen.selfies")), smi(strand::io::read_file(dir / "gen.smi"));
  std::string selfies_line, smiles_line;
  size_t n = 0;
  while (std::getline(raw, selfies_line) && std::getline(smi, smiles_line)) {
    EXPECT_EQ(selfies_line, a.molecules[n].text);
    EXPECT_EQ(smiles_line, b.molecules[n].decoded);
    EXPECT_EQ(smiles_line, strand::chem::selfies::decode(selfies_line)) << "sample " << n;  // same seed, same samples
    ++n;
  }
  EXPECT_EQ(n, 6u);
  // A SMILES model has no SELFIES to write.
  g.model = tiny_lm(std::string(STRAND_TEST_DATA) + "/chem/nci_30_bad.smi", "smiles", dir / "smiles-lm", 64);
  g.out = dir / "bad.selfies";
  const auto message = strand_tests::message_of<strand::InputError>([&] { pl::generate(g); });
  EXPECT_NE(message.find("writes SMILES"), std::string::npos) << message;
}

TEST(ConvertMolecules, SelfiesCorpusSdfAndHeaderlessTables) {
  strand_tests::TempDir dir("convmol");
  pl::ConvertMoleculesOptions o;
  o.input = std::string(STRAND_TEST_DATA) + "/chem/nci_30_bad.smi";
  o.out = dir / "corpus.selfies";
  auto r = pl::convert_molecules(o);
  EXPECT_EQ(r.stats.skipped, 3);
  EXPECT_EQ(r.written + r.encoder_errors, 30);
  std::istringstream in(strand::io::read_file(o.out));
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, strand::chem::selfies::encode("CC1=CC(=O)C=CC1=O") + " 1");  // canonical SMILES of NCI 1, encoded
  o.out = dir / "mols.sdf";
  r = pl::convert_molecules(o);
  EXPECT_EQ(r.written, 30);
  EXPECT_EQ(strand::chem::read_molecules(o.out).size(), 30u);
  strand::io::write_file_atomic(dir / "h.tsv", "HMDB1\tethanol\tCCO\nHMDB2\tbenzene\tc1ccccc1\nHMDB3\tbad\tC1CC\n");
  o.input = dir / "h.tsv";
  o.read.header = false;
  o.read.smiles_column = "3";
  o.read.name_column = "1";
  o.out = dir / "h.smi";
  r = pl::convert_molecules(o);
  EXPECT_EQ(r.written, 2);
  EXPECT_EQ(strand::io::read_file(o.out), "CCO HMDB1\nc1ccccc1 HMDB2\n");
  o.read.smiles_column.clear();
  EXPECT_THROW(pl::convert_molecules(o), strand::ParseError);
}
