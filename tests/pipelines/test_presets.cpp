// Model presets (`strand pretrain --arch`): parameter counts against their names and --help,
// objective and tokenizer checks, and short end-to-end training runs of the Mamba presets on real
// DNA (C. elegans contigs, tests/data/io/ce_small.fa).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "libseq/core/config.h"
#include "libseq/core/error.h"
#include "pipelines/embed.h"
#include "pipelines/model_io.h"
#include "pipelines/presets.h"
#include "pipelines/pretrain.h"
#include "pipelines/registry.h"
#include "tests/temp_dir.h"

using namespace strand;
namespace fs = std::filesystem;

namespace {

const std::string kGenome = std::string(STRAND_TEST_DATA) + "/io/ce_small.fa";

using strand_tests::TempDir;

std::string summary_of(const std::string& name) {
  for (const auto& [n, s] : pipelines::model_presets())
    if (n == name) return s;
  return "";
}

// "(0.47M parameters)" as --help prints it: two decimals below 10M, one above.
std::string count_text(int64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, n < 10000000 ? "(%.2fM parameters)" : "(%.1fM parameters)", n / 1e6);
  return buf;
}

}  // namespace

TEST(Presets, CountsMatchTheirNamesAndTheHelpText) {
  const auto chars = pipelines::tokenizer_registry().create("char");
  struct Row {
    const char* name;
    const char* objective;
    double nominal;  // 0: no size in the name
  };
  for (const Row& r : {Row{"tiny", "clm", 0}, Row{"small", "clm", 0}, Row{"base", "mlm", 0},
                       Row{"mamba-0.5m", "clm", 0.5e6}, Row{"mamba-2m", "clm", 2e6}, Row{"mamba-8m", "clm", 8e6},
                       Row{"mamba2-2m", "clm", 2e6}, Row{"caduceus-2m", "mlm", 2e6},
                       Row{"caduceus-8m", "mlm", 8e6}}) {
    const auto config = pipelines::model_config_for(r.name, *chars, r.objective);
    const int64_t n = pipelines::count_parameters(config);
    if (r.nominal > 0) {
      EXPECT_NEAR(static_cast<double>(n), r.nominal, 0.15 * r.nominal) << r.name;
    }
    EXPECT_NE(summary_of(r.name).find(count_text(n)), std::string::npos)
        << r.name << ": " << summary_of(r.name) << " vs " << count_text(n);
  }
  // Caduceus' 131k model: d_model 256 x 16 tied BiMamba layers, about 482.6K parameters per layer
  // (reference/mamba.md §6.1), with the 16-token Caduceus vocabulary.
  const auto caduceus_tok = pipelines::tokenizer_registry().create("caduceus");
  const auto c8 = pipelines::model_config_for("caduceus-8m", *caduceus_tok, "mlm");
  const int64_t blocks = pipelines::count_parameters(c8) - 16 * 256 - 256;  // embedding, final norm
  EXPECT_NEAR(blocks / 16.0, 482.6e3, 0.1e3);
}

TEST(Presets, LayoutsAndObjectiveChecks) {
  const auto chars = pipelines::tokenizer_registry().create("char");
  const auto m = pipelines::model_config_for("mamba-2m", *chars, "clm");
  EXPECT_EQ(m.backbone.pattern.find_first_not_of('M'), std::string::npos);
  EXPECT_EQ(m.backbone.mlp, nn::MlpKind::None);
  EXPECT_EQ(m.backbone.norm, nn::NormKind::RMS);
  EXPECT_TRUE(m.backbone.final_norm);
  EXPECT_TRUE(m.head.tied);
  EXPECT_FALSE(m.rcps.enabled);
  const auto m2 = pipelines::model_config_for("mamba2-2m", *chars, "clm");
  EXPECT_EQ(m2.backbone.pattern.find_first_not_of('2'), std::string::npos);
  EXPECT_EQ((2 * m2.backbone.d_model) % m2.backbone.mixers.at("2").at("headdim").get<int64_t>(), 0);
  const auto c = pipelines::model_config_for("caduceus-8m", *chars, "mlm");
  EXPECT_EQ(c.backbone.d_model, 256);
  EXPECT_EQ(c.backbone.pattern, std::string(16, 'M'));
  EXPECT_FALSE(c.backbone.causal);
  EXPECT_TRUE(c.rcps.enabled);
  EXPECT_EQ(c.hidden_size(), 512);
  const auto map = chars->complement_ids();
  ASSERT_TRUE(map.has_value());
  EXPECT_EQ(c.rcps.complement, std::vector<int64_t>(map->begin(), map->end()));

  const auto expect_error = [](const std::string& arch, const tokenize::Tokenizer& tok, const std::string& objective,
                               const std::string& needle) {
    try {
      pipelines::model_config_for(arch, tok, objective);
      ADD_FAILURE() << arch << " " << objective << " " << tok.spec();
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("mamba-2m", *chars, "mlm", "trains with --objective clm");
  expect_error("mamba2-2m", *chars, "mlm", "trains with --objective clm");
  expect_error("caduceus-2m", *chars, "clm", "trains with --objective mlm");
  expect_error("caduceus-2m", *pipelines::tokenizer_registry().create("ntv2-6mer"), "mlm", "has none");
  expect_error("caduceus-2m", *pipelines::tokenizer_registry().create("kmer-overlap:3"), "mlm",
               "needs single-base tokens");
  expect_error("caduceus-2m", *pipelines::tokenizer_registry().create("protein"), "mlm", "complement map");
  expect_error("mamba-9m", *chars, "clm", "caduceus-8m");  // the message lists the presets
  // A model whose complement map is not the tokenizer's does not fit it.
  auto identity = c;
  for (size_t i = 0; i < identity.rcps.complement.size(); ++i) identity.rcps.complement[i] = static_cast<int64_t>(i);
  EXPECT_NO_THROW(pipelines::check_model_tokenizer(c, *chars, "test"));
  EXPECT_THROW(pipelines::check_model_tokenizer(identity, *chars, "test"), ConfigError);
  // A config file with rcps: the same checks.
  TempDir dir("preset-file");
  save_json(dir / "c.json", c.to_json());
  EXPECT_EQ(pipelines::model_config_for(dir / "c.json", *chars, "mlm").to_json()["rcps"], c.to_json()["rcps"]);
  expect_error(dir / "c.json", *chars, "clm", "rcps cannot be used with a causal-LM head");
}

namespace {

pipelines::PretrainOptions short_run(const std::string& arch, const std::string& objective, const std::string& out) {
  pipelines::PretrainOptions o;
  o.data = {kGenome};
  o.out = out;
  o.tokenizer = "char";
  o.arch = arch;
  o.objective = objective;
  o.steps = 3;
  o.batch = 2;
  o.seq_len = 48;
  o.val_every = 3;
  o.val_windows = 4;
  o.checkpoint_every = 3;
  o.log_every = 1;
  o.val_fraction = 0.1;
  o.lr = 2e-3;
  o.command_line = "strand pretrain (test)";
  return o;
}

}  // namespace

TEST(Presets, MambaPresetPretrainsEndToEnd) {
  TempDir dir("mamba-pretrain");
  const auto s = pipelines::run_pretrain(short_run("mamba-0.5m", "clm", dir / "out"));
  EXPECT_TRUE(s.finished);
  EXPECT_TRUE(std::isfinite(s.last_loss));
  EXPECT_GT(s.last_loss, 0.5);  // about ln 10 = 2.3 after three steps
  ASSERT_TRUE(s.val_bits_per_base.has_value());
  EXPECT_TRUE(std::isfinite(*s.val_bits_per_base));
  auto loaded = pipelines::load_model(dir / "out");
  EXPECT_EQ(loaded.dir.config.backbone.pattern, "MMMM");
  const at::Tensor ids = at::randint(5, 9, {1, 20}, at::kLong);
  const at::Tensor logits = loaded.dir.model->forward(ids, at::Tensor()).logits;
  EXPECT_TRUE(at::isfinite(logits).all().item<bool>());
  // A causal Mamba LM decodes step by step like its full forward pass.
  auto state = loaded.dir.model->make_state(1);
  for (int64_t t = 0; t < 20; ++t)
    ASSERT_TRUE(at::allclose(loaded.dir.model->step(ids.select(1, t), state), logits.select(1, t), 1e-4, 1e-4)) << t;
}

TEST(Presets, CaduceusPresetPretrainsAndEmbedsBothStrands) {
  TempDir dir("caduceus-pretrain");
  auto o = short_run("caduceus-2m", "mlm", dir / "out");
  o.steps = 2;
  o.val_every = 2;
  o.checkpoint_every = 2;
  const auto s = pipelines::run_pretrain(o);
  EXPECT_TRUE(s.finished);
  EXPECT_TRUE(std::isfinite(s.last_loss));
  auto loaded = pipelines::load_model(dir / "out");
  EXPECT_TRUE(loaded.dir.config.rcps.enabled);
  // strand embed writes the 2 x d_model RCPS features.
  std::ofstream(dir / "two.fa") << ">a\nACGTTGCAACGGTACCGTANNACGTAGCTAGCTAGGATCCA\n>b\nTTTTGGGCCCAAATTGCA\n";
  pipelines::EmbedOptions e;
  e.model = dir / "out";
  e.inputs = {dir / "two.fa"};
  e.output = dir / "e.h5";
  e.command_line = "strand embed (test)";
  const auto summary = pipelines::run_embed(e);
  EXPECT_EQ(summary.dim, 256);
  EXPECT_EQ(summary.rows, 2);
}
