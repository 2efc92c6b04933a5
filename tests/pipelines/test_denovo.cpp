// The de novo model and its beam search: the model's sinusoids against the scalar reference, the
// two training stages' gradient flow, decoder causality, learning two spectra and decoding them
// back, and the precursor-mass constraint of the beam search.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "bio/spectra/masses.h"
#include "bio/spectra/preprocess.h"
#include "bio/spectra/mztab.h"
#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"
#include "pipelines/denovo.h"
#include "pipelines/denovo_decode.h"
#include "pipelines/denovo_model.h"
#include "tests/temp_dir.h"

namespace sp = strand::bio::spectra;
namespace dn = strand::pipelines::denovo;

namespace {

dn::ModelConfig tiny_config() {
  dn::ModelConfig c;
  c.d_model = 32;
  c.heads = 2;
  c.ff_hidden = 64;
  c.encoder_layers = 1;
  c.decoder_layers = 1;
  c.nar_layers = 1;
  c.nar_length = 16;
  return c;
}

/// A noise-free spectrum of the peptide: its b and y ions at charge 1, intensity 1, L2-normalised.
sp::Spectrum ideal_spectrum(const sp::ResidueTable& table, const std::string& peptide, int charge) {
  const auto tokens = table.parse(peptide);
  sp::Spectrum s;
  s.id = peptide;
  s.peptide = peptide;
  s.precursor_charge = charge;
  s.precursor_mz = sp::mz_of(table.peptide_mass(tokens), charge);
  std::vector<double> mz = table.b_ions(tokens);
  for (const double y : table.y_ions(tokens)) mz.push_back(y);
  std::sort(mz.begin(), mz.end());
  s.mz = mz;
  s.intensity.assign(mz.size(), 1.0 / std::sqrt(static_cast<double>(mz.size())));
  return s;
}

double grad_norm(const at::Tensor& p) { return p.grad().defined() ? p.grad().norm().item<double>() : 0.0; }

}  // namespace

TEST(Denovo, SinusoidFeaturesMatchTheScalarReference) {
  for (const int64_t d : {4, 5, 64}) {
    for (const double x : {0.5, 123.456, 1999.9995}) {
      std::vector<float> expected(static_cast<size_t>(d));
      sp::sinusoidal_encode(x, static_cast<int>(d), 0.001, 10000, expected.data());
      const at::Tensor got = dn::sinusoid_features(at::full({1}, x, at::kDouble), d, 0.001, 10000);
      ASSERT_EQ(got.sizes(), (std::vector<int64_t>{1, d}));
      for (int64_t k = 0; k < d; ++k)
        EXPECT_NEAR(got[0][k].item<float>(), expected[static_cast<size_t>(k)], 1e-6) << "d " << d << " x " << x << " k " << k;
    }
  }
}

TEST(Denovo, StageOneTrainsEverythingStageTwoOnlyTheDecoder) {
  torch::manual_seed(1);
  dn::DenovoModel model(tiny_config());
  const auto& table = model->table();
  const std::vector<sp::Spectrum> spectra = {ideal_spectrum(table, "PEPTIDEK", 2), ideal_spectrum(table, "GASVM[Oxidation]K", 2)};
  const dn::Batch batch = dn::make_batch(*model, spectra, true);
  // Model ids in C-to-N order with the stop token: K E D L T P E P $.
  EXPECT_EQ(batch.tokens.size(1), 9);
  EXPECT_EQ(batch.tokens[0][0].item<int64_t>(), table.find("K") + 1);
  EXPECT_EQ(batch.tokens[0][8].item<int64_t>(), model->stop_token());
  EXPECT_EQ(batch.tokens[1][7].item<int64_t>(), 0);  // padding after GASVM[Oxidation]K's stop

  auto stage1 = dn::training_losses(*model, batch, 1, 0.5);
  ASSERT_TRUE(std::isfinite(stage1.total.item<double>()));
  ASSERT_TRUE(stage1.nar.defined());
  EXPECT_NEAR(stage1.total.item<double>(), 0.5 * stage1.ar.item<double>() + 0.5 * stage1.nar.item<double>(), 1e-5);
  stage1.total.backward();
  const auto params = model->named_parameters();
  EXPECT_GT(grad_norm(params["peak_combiner.weight"]), 0);
  EXPECT_GT(grad_norm(params["encoder.0.self_q.weight"]), 0);
  EXPECT_GT(grad_norm(params["nar_head.weight"]), 0);
  EXPECT_GT(grad_norm(params["head.weight"]), 0);
  model->zero_grad();

  auto stage2 = dn::training_losses(*model, batch, 2, 1.0);
  ASSERT_TRUE(std::isfinite(stage2.total.item<double>()));
  EXPECT_FALSE(stage2.nar.defined());
  stage2.total.backward();
  EXPECT_EQ(grad_norm(params["peak_combiner.weight"]), 0);
  EXPECT_EQ(grad_norm(params["encoder.0.self_q.weight"]), 0);
  EXPECT_EQ(grad_norm(params["nar.0.cross_kv.weight"]), 0);
  EXPECT_GT(grad_norm(params["decoder.0.cross_kv.weight"]), 0);
  EXPECT_GT(grad_norm(params["head.weight"]), 0);
}

TEST(Denovo, DecoderIsCausal) {
  torch::manual_seed(2);
  dn::DenovoModel model(tiny_config());
  model->eval();
  const auto& table = model->table();
  const dn::Batch batch = dn::make_batch(*model, {ideal_spectrum(table, "PEPTIDEK", 2)}, true);
  const auto enc = model->encode(batch);
  at::Tensor tokens = batch.tokens.clone();
  const at::Tensor a = model->decode(enc, tokens, {});
  tokens[0][5] = table.find("W") + 1;
  const at::Tensor b = model->decode(enc, tokens, {});
  // Positions 0..5 see tokens before index 5 only; position 6 onwards sees the change.
  EXPECT_TRUE(at::allclose(a.narrow(1, 0, 6), b.narrow(1, 0, 6), 1e-6, 1e-6));
  EXPECT_FALSE(at::allclose(a.narrow(1, 6, 1), b.narrow(1, 6, 1), 1e-6, 1e-6));
}

TEST(Denovo, CachedStepsEqualTheFullDecoder) {
  torch::manual_seed(7);
  for (const bool stage2 : {false, true}) {
    dn::DenovoModel model(tiny_config());
    model->eval();
    const auto& table = model->table();
    const dn::Batch batch =
        dn::make_batch(*model, {ideal_spectrum(table, "PEPTIDEK", 2), ideal_spectrum(table, "GASVM[Oxidation]R", 3)}, true);
    const auto enc = model->encode(batch);
    const at::Tensor nar = stage2 ? model->nar_forward(enc).first : at::Tensor();
    const at::Tensor tokens = batch.tokens.narrow(1, 0, 6);  // no padding in the first six
    const at::Tensor full = model->decode(enc, tokens, nar);
    auto cache = model->start_decoding(enc, nar);
    for (int64_t t = 0; t <= 6; ++t) {
      const at::Tensor step = model->decode_step(cache, t == 0 ? at::Tensor() : tokens.select(1, t - 1).contiguous());
      EXPECT_TRUE(at::allclose(step, full.select(1, t), 1e-4, 1e-5)) << "position " << t << " stage2 " << stage2;
    }
    // Reordering rows keeps each row's state: swap the two rows and step once more.
    auto swapped = model->start_decoding(enc, nar);
    model->decode_step(swapped, at::Tensor());
    swapped.select_rows(at::tensor(std::vector<int64_t>{1, 0}, at::TensorOptions().dtype(at::kLong)));
    const at::Tensor next = model->decode_step(swapped, tokens.select(1, 0).flip(0).contiguous());
    EXPECT_TRUE(at::allclose(next, full.select(1, 1).flip(0), 1e-4, 1e-5));
  }
}

TEST(Denovo, LearnsTwoSpectraAndDecodesThemBack) {
  torch::manual_seed(3);
  dn::DenovoModel model(tiny_config());
  const auto& table = model->table();
  const std::vector<std::string> peptides = {"PEPTIDEK", "GASVM[Oxidation]R"};
  std::vector<sp::Spectrum> spectra;
  for (const auto& p : peptides) spectra.push_back(ideal_spectrum(table, p, 2));
  const dn::Batch batch = dn::make_batch(*model, spectra, true);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(3e-3));
  double loss = 0;
  for (int step = 0; step < 300; ++step) {
    optimizer.zero_grad();
    auto l = dn::training_losses(*model, batch, 1, std::min(1.0, step / 150.0));
    l.ar.backward();
    optimizer.step();
    loss = l.ar.item<double>();
  }
  EXPECT_LT(loss, 0.2);
  for (const int64_t beams : {1, 3}) {
    dn::BeamOptions o;
    o.beams = beams;
    const auto predictions = dn::beam_search(*model, batch, o);
    ASSERT_EQ(predictions.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(table.format(predictions[i].tokens), table.format(table.parse(peptides[i]))) << "beams " << beams;
      EXPECT_EQ(predictions[i].aa_scores.size(), predictions[i].tokens.size());
      EXPECT_GT(predictions[i].score, 0.5);
      EXPECT_LE(predictions[i].score, 1.0);
    }
  }
}

TEST(Denovo, MassConstraintIsNeverViolated) {
  torch::manual_seed(4);
  dn::DenovoModel model(tiny_config());
  const auto& table = model->table();
  std::vector<sp::Spectrum> spectra;
  for (const char* p : {"PEPTIDEK", "GASVK", "LLQDSVDFSLADAINTEFK", "[Acetyl]-AMDEK", "HQGVMVGM[Oxidation]GQK"})
    spectra.push_back(ideal_spectrum(table, p, 2));
  const dn::Batch batch = dn::make_batch(*model, spectra, false);
  dn::BeamOptions o;
  o.beams = 4;
  o.max_length = 25;
  o.tolerance_ppm = 20;
  const auto constrained = dn::beam_search(*model, batch, o);
  int found = 0;
  for (size_t i = 0; i < spectra.size(); ++i) {
    const auto& p = constrained[i];
    if (p.tokens.empty()) continue;
    ++found;
    EXPECT_TRUE(sp::precursor_matches(table.peptide_mass(p.tokens), spectra[i].precursor_mz, 2, 20, 0, 1))
        << table.format(p.tokens) << " for " << spectra[i].peptide;
    for (size_t k = 1; k < p.tokens.size(); ++k)
      EXPECT_NE(table.residues()[static_cast<size_t>(p.tokens[k])].amino_acid, 0) << "N-terminal token inside";
  }
  EXPECT_GT(found, 0);
  o.mass_constrained = false;
  const auto free = dn::beam_search(*model, batch, o);
  int violating = 0;
  for (size_t i = 0; i < spectra.size(); ++i)
    if (!free[i].tokens.empty() &&
        !sp::precursor_matches(table.peptide_mass(free[i].tokens), spectra[i].precursor_mz, 2, 20, 0, 1))
      ++violating;
  EXPECT_GT(violating, 0) << "the untrained model should produce peptides of the wrong mass without the constraint";
}

TEST(Denovo, SavedModelReloadsIdentically) {
  strand_tests::TempDir dir("denovo-io");
  torch::manual_seed(5);
  dn::DenovoModel model(tiny_config());
  sp::PreprocessOptions pre;
  pre.max_peaks = 77;
  dn::save_denovo_model(dir / "m", *model, pre, {{"note", "test"}});
  const auto loaded = dn::load_denovo_model(dir / "m");
  EXPECT_EQ(loaded.preprocess.max_peaks, 77);
  EXPECT_EQ(loaded.config.at("provenance").at("note"), "test");
  const auto a = model->named_parameters();
  const auto b = loaded.model->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) EXPECT_TRUE(at::equal(item.value(), b[item.key()])) << item.key();
  // Not a de novo model, and weights that do not fit the config.
  std::filesystem::create_directories(dir / "x");
  strand::io::write_file_atomic(dir / "x/config.json", "{\"kind\": \"sequence\"}");
  try {
    dn::load_denovo_model(dir / "x");
    FAIL() << "no error";
  } catch (const strand::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a de novo model"), std::string::npos) << e.what();
  }
  auto other = tiny_config();
  other.d_model = 48;
  dn::DenovoModel wider(other);
  dn::save_denovo_model(dir / "w", *wider, pre, {});
  strand::io::write_file_atomic(dir / "w/config.json", strand::io::read_file(dir / "m/config.json"));
  EXPECT_THROW(dn::load_denovo_model(dir / "w"), strand::ShapeError);
}

// train -> sequence -> evaluate on the 128 annotated real spectra of the Casanovo sample.
TEST(Denovo, TrainSequenceEvaluatePipeline) {
  strand_tests::TempDir dir("denovo-pipeline");
  const std::string mgf = std::string(STRAND_TEST_DATA) + "/spectra/casanovo_sample_preprocessed_spectra.mgf";
  dn::TrainOptions t;
  t.train = {mgf};
  t.valid = {mgf};
  t.arch = "tiny";
  t.out = dir / "run";
  t.steps = 12;
  t.stage2_steps = 4;
  t.batch = 8;
  t.val_every = 8;
  t.checkpoint_every = 8;
  const auto trained = dn::run_denovo_train(t);
  EXPECT_EQ(trained.train_spectra, 128);
  EXPECT_EQ(trained.steps, 16);
  EXPECT_GT(trained.valid_loss, 0);
  // Interrupted at step 10 (stage 1) and resumed: it crosses into stage 2 and ends with the
  // weights of the uninterrupted run.
  const auto final_model = dn::load_denovo_model(dir / "run/model");
  dn::TrainOptions part = t;
  part.out = dir / "part";
  part.until_step = 10;
  EXPECT_EQ(dn::run_denovo_train(part).steps, 10);
  EXPECT_FALSE(std::filesystem::exists(dir / "part/model"));
  part.until_step = 0;
  part.resume = true;
  EXPECT_EQ(dn::run_denovo_train(part).steps, 16);
  const auto resumed = dn::load_denovo_model(dir / "part/model");
  for (const auto& item : final_model.model->named_parameters())
    EXPECT_TRUE(at::equal(item.value(), resumed.model->named_parameters()[item.key()])) << item.key();

  dn::SequenceOptions q;
  q.model = dir / "run/model";
  q.inputs = {mgf};
  q.output = dir / "pred.mztab";
  q.beam.beams = 2;
  q.beam.max_length = 0;
  q.beam.mass_constrained = false;  // an untrained model rarely meets the precursor mass
  const auto sequenced = dn::run_denovo_sequence(q);
  EXPECT_EQ(sequenced.spectra, 128);
  EXPECT_EQ(sequenced.sequenced + sequenced.no_peptide, 128);
  EXPECT_GT(sequenced.sequenced, 0);
  const std::string mztab = strand::io::read_file(q.output);
  EXPECT_TRUE(sp::validate_mztab(mztab).empty());
  EXPECT_NE(mztab.find("ms_run[1]:index=0"), std::string::npos);

  dn::EvaluateOptions e;
  e.predictions = q.output;
  e.spectra = {mgf};
  e.out = dir / "eval";
  const auto result = dn::run_denovo_evaluate(e);
  EXPECT_EQ(result.n_annotated, 128);
  EXPECT_EQ(result.n_predicted, sequenced.sequenced);
  EXPECT_GE(result.aa_precision, 0);
  EXPECT_LE(result.aa_precision, 1);
  EXPECT_NE(strand::io::read_file(dir / "eval.json").find("\"peptide_recall\""), std::string::npos);
  EXPECT_EQ(strand::io::read_file(dir / "eval.curve.csv").rfind("coverage,precision,score\n", 0), 0u);
  EXPECT_NE(strand::io::read_file(dir / "eval.curve.svg").find("<svg"), std::string::npos);
  // The spectrum files must be given in the order they were sequenced.
  e.spectra = {std::string(STRAND_TEST_DATA) + "/spectra/depthcharge_TMT10-Trial-8.mgf"};
  EXPECT_THROW(dn::run_denovo_evaluate(e), strand::ConfigError);
}

TEST(Denovo, EncoderFromALayerPattern) {
  torch::manual_seed(6);
  auto config = tiny_config();
  config.encoder_pattern = "MA";
  const auto round_trip = dn::ModelConfig::from_json(config.to_json());
  EXPECT_EQ(round_trip.encoder_pattern, "MA");
  dn::DenovoModel model(config);
  const auto& table = model->table();
  const dn::Batch batch = dn::make_batch(*model, {ideal_spectrum(table, "PEPTIDEK", 2), ideal_spectrum(table, "GASVK", 3)}, true);
  auto losses = dn::training_losses(*model, batch, 1, 0.5);
  ASSERT_TRUE(std::isfinite(losses.total.item<double>()));
  losses.total.backward();
  double backbone_grad = 0;
  for (const auto& item : model->named_parameters())
    if (item.key().rfind("encoder_backbone.", 0) == 0) backbone_grad += grad_norm(item.value());
  EXPECT_GT(backbone_grad, 0);
  auto bad = tiny_config();
  bad.encoder_pattern = "Q";
  EXPECT_THROW(dn::DenovoModel{bad}, strand::ConfigError);
}
