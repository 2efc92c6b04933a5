// nn building blocks, the attention mixer, backbones, heads and the model directory.
// Oracles: formulas written out here in double precision (norms, SwiGLU, rotary, the ESM /
// Nucleotide Transformer v2 forward pass from its published equations and key names), and
// exact equalities where the computation must be identical (save/load, KV-cache decoding in
// double, padding invariance, Hugging Face / mamba_ssm Mamba checkpoints written from our own
// models), and reverse-complement equivariance of RCPS models.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "libseq/core/config.h"
#include "libseq/core/error.h"
#include "libseq/core/random.h"
#include "libseq/io/safetensors.h"
#include "libseq/mixers/attention.h"
#include "libseq/models/model.h"
#include "libseq/nn/layers.h"

using namespace strand;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("strand-models-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

models::ModelConfig tiny_config(const std::string& pattern, bool causal, models::HeadKind head) {
  models::ModelConfig c;
  c.vocab_size = 11;
  c.pad_id = 0;
  c.backbone.d_model = 16;
  c.backbone.pattern = pattern;
  c.backbone.causal = causal;
  c.backbone.mixers = {{"A", {{"n_heads", 2}}}};
  c.backbone.normalise("test");
  c.head.kind = head;
  if (head == models::HeadKind::SequenceClassification || head == models::HeadKind::TokenClassification)
    c.head.num_labels = 3;
  if (head == models::HeadKind::SequenceRegression) c.head.num_labels = 1;
  return c;
}

at::Tensor random_ids(int64_t b, int64_t l, int64_t vocab) {
  return at::randint(1, vocab, {b, l}, at::kLong);
}

}  // namespace

TEST(Norm, RmsNormMatchesFormula) {
  manual_seed(1);
  nn::Norm norm(5, nn::NormKind::RMS, 1e-6, false);
  {
    torch::NoGradGuard g;
    norm->named_parameters()["weight"].copy_(at::arange(1, 6, at::kFloat));
  }
  norm->to(at::kDouble);
  const at::Tensor x = at::randn({3, 5}, at::kDouble);
  const at::Tensor expected =
      x / at::sqrt(x.pow(2).mean(-1, true) + 1e-6) * at::arange(1, 6, at::kDouble);
  EXPECT_TRUE(at::allclose(norm->forward(x), expected, 1e-12, 1e-12));
  EXPECT_EQ(norm->named_parameters().size(), 1u);  // RMSNorm has no bias
}

TEST(Norm, LayerNormMatchesFormulaAndNames) {
  nn::Norm norm(4, nn::NormKind::Layer, 1e-12, true);
  norm->to(at::kDouble);
  const at::Tensor x = at::randn({2, 3, 4}, at::kDouble);
  const at::Tensor centred = x - x.mean(-1, true);
  const at::Tensor expected = centred / at::sqrt(centred.pow(2).mean(-1, true) + 1e-12);
  EXPECT_TRUE(at::allclose(norm->forward(x), expected, 1e-10, 1e-10));
  const auto params = norm->named_parameters();
  EXPECT_TRUE(params.contains("weight"));
  EXPECT_TRUE(params.contains("bias"));
}

TEST(Mlp, SwiGluSplitsFirstHalfThroughSilu) {
  nn::Mlp mlp(4, 6, nn::MlpKind::SwiGLU, false);
  mlp->to(at::kDouble);
  const auto p = mlp->named_parameters();
  ASSERT_EQ(p["fc1.weight"].sizes(), (at::IntArrayRef{12, 4}));
  ASSERT_EQ(p["fc2.weight"].sizes(), (at::IntArrayRef{4, 6}));
  EXPECT_FALSE(p.contains("fc1.bias"));
  const at::Tensor x = at::randn({5, 4}, at::kDouble);
  const at::Tensor u = at::matmul(x, p["fc1.weight"].t());
  const at::Tensor u1 = u.narrow(1, 0, 6), u2 = u.narrow(1, 6, 6);
  const at::Tensor expected = at::matmul(u1 / (1 + at::exp(-u1)) * u2, p["fc2.weight"].t());
  EXPECT_TRUE(at::allclose(mlp->forward(x), expected, 1e-12, 1e-12));
}

TEST(Rotary, MatchesRotateHalfFormula) {
  nn::Rotary rope(4, 10000.0);
  const at::Tensor x = at::randn({1, 1, 3, 4}, at::kDouble);
  const at::Tensor y = rope.apply(x, 5);
  for (int64_t pos = 0; pos < 3; ++pos) {
    const double p = static_cast<double>(pos + 5);
    const double f0 = 1.0, f1 = std::pow(10000.0, -0.5);  // base^(-2i/d) for i = 0, 1; d = 4
    const auto v = x[0][0][pos];
    const double x0 = v[0].item<double>(), x1 = v[1].item<double>(), x2 = v[2].item<double>(),
                 x3 = v[3].item<double>();
    const double expected[4] = {x0 * std::cos(p * f0) - x2 * std::sin(p * f0),
                                x1 * std::cos(p * f1) - x3 * std::sin(p * f1),
                                x2 * std::cos(p * f0) + x0 * std::sin(p * f0),
                                x3 * std::cos(p * f1) + x1 * std::sin(p * f1)};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[0][0][pos][i].item<double>(), expected[i], 1e-12);
  }
}

TEST(Rotary, ScoresDependOnlyOnRelativePosition) {
  nn::Rotary rope(8);
  const at::Tensor q = at::randn({1, 1, 1, 8}, at::kDouble);
  const at::Tensor k = at::randn({1, 1, 1, 8}, at::kDouble);
  const double a = (rope.apply(q, 3) * rope.apply(k, 1)).sum().item<double>();
  const double b = (rope.apply(q, 103) * rope.apply(k, 101)).sum().item<double>();
  EXPECT_NEAR(a, b, 1e-9);
}

TEST(Backbone, CausalOutputsIgnoreFutureTokens) {
  manual_seed(2);
  models::SequenceModel model(tiny_config("AAA", true, models::HeadKind::CausalLM));
  model->to(at::kDouble);
  at::Tensor ids = random_ids(2, 9, 11);
  const at::Tensor a = model->forward(ids, at::Tensor()).logits;
  at::Tensor changed = ids.clone();
  changed.narrow(1, 6, 3).fill_(7);
  const at::Tensor b = model->forward(changed, at::Tensor()).logits;
  EXPECT_TRUE(at::equal(a.narrow(1, 0, 6), b.narrow(1, 0, 6)));
  EXPECT_FALSE(at::allclose(a.narrow(1, 6, 3), b.narrow(1, 6, 3)));
}

TEST(Backbone, BidirectionalOutputsSeeTheFuture) {
  manual_seed(3);
  models::SequenceModel model(tiny_config("AA", false, models::HeadKind::MaskedLM));
  model->to(at::kDouble);
  at::Tensor ids = random_ids(1, 8, 11);
  const at::Tensor a = model->forward(ids, at::Tensor()).logits;
  at::Tensor changed = ids.clone();
  changed[0][7] = (ids[0][7].item<int64_t>() % 10) + 1;
  const at::Tensor b = model->forward(changed, at::Tensor()).logits;
  EXPECT_FALSE(at::allclose(a.select(1, 0), b.select(1, 0)));
}

TEST(Backbone, PaddingDoesNotChangeRealPositions) {
  // Real tokens must give the same outputs alone and in a batch padded to a longer row.
  manual_seed(4);
  for (const bool causal : {true, false}) {
    models::SequenceModel model(tiny_config("AA", causal, models::HeadKind::TokenClassification));
    model->to(at::kDouble);
    const at::Tensor short_ids = random_ids(1, 5, 11);
    const at::Tensor alone = model->forward(short_ids, at::Tensor()).logits;
    at::Tensor padded = at::zeros({2, 9}, at::kLong);
    padded[0].narrow(0, 0, 5).copy_(short_ids[0]);
    padded[1].copy_(random_ids(1, 9, 11)[0]);
    at::Tensor mask = at::zeros({2, 9}, at::kBool);
    mask[0].narrow(0, 0, 5).fill_(true);
    mask[1].fill_(true);
    const at::Tensor batch = model->forward(padded, mask).logits;
    EXPECT_TRUE(at::allclose(batch[0].narrow(0, 0, 5), alone[0], 1e-12, 1e-12)) << "causal=" << causal;
  }
}

TEST(Backbone, TapsFollowHiddenStatesConvention) {
  manual_seed(5);
  models::SequenceModel model(tiny_config("AAA", true, models::HeadKind::CausalLM));
  const at::Tensor ids = random_ids(2, 6, 11);
  models::Taps taps;
  taps.layers = {0, 1, 3, -1, -4};
  const auto out = model->forward(ids, at::Tensor(), &taps);
  ASSERT_EQ(taps.outputs.size(), 5u);
  EXPECT_TRUE(at::equal(taps.outputs[0], model->embedding()->forward(ids)));
  EXPECT_TRUE(at::equal(taps.outputs[2], out.hidden));  // layer n = after the final norm
  EXPECT_TRUE(at::equal(taps.outputs[3], out.hidden));  // -1 = n
  EXPECT_TRUE(at::equal(taps.outputs[4], taps.outputs[0]));  // -(n+1) = 0
  EXPECT_FALSE(at::equal(taps.outputs[1], taps.outputs[0]));
  EXPECT_THROW(models::resolve_layer(4, 3), InputError);
  EXPECT_THROW(models::resolve_layer(-5, 3), InputError);
}

TEST(Backbone, KvCacheDecodingEqualsFullForward) {
  manual_seed(6);
  models::SequenceModel model(tiny_config("AAA", true, models::HeadKind::CausalLM));
  model->to(at::kDouble);
  model->eval();
  const at::Tensor ids = random_ids(2, 40, 11);  // past the cache's first capacity (16)
  const at::Tensor full = model->forward(ids, at::Tensor()).logits;
  auto state = model->make_state(2);
  for (int64_t t = 0; t < 40; ++t) {
    const at::Tensor logits = model->step(ids.select(1, t), state);
    ASSERT_TRUE(at::allclose(logits, full.select(1, t), 1e-10, 1e-10)) << "position " << t;
  }
  // Prefill of a prefix, then single steps.
  auto state2 = model->backbone()->make_state(2);
  const at::Tensor x = model->embedding()->forward(ids);
  const at::Tensor pre = model->backbone()->prefill(x.narrow(1, 0, 25), state2);
  const at::Tensor hidden = model->forward(ids, at::Tensor()).hidden;
  EXPECT_TRUE(at::allclose(pre, hidden.narrow(1, 0, 25), 1e-10, 1e-10));
  const at::Tensor next = model->backbone()->step(x.select(1, 25), state2);
  EXPECT_TRUE(at::allclose(next, hidden.select(1, 25), 1e-10, 1e-10));
}

TEST(Backbone, BidirectionalModelRefusesDecoding) {
  models::SequenceModel model(tiny_config("A", false, models::HeadKind::MaskedLM));
  EXPECT_THROW(model->make_state(1), InputError);
}

TEST(Heads, PoolingModes) {
  const at::Tensor h = at::arange(2 * 3 * 2, at::kDouble).view({2, 3, 2});
  at::Tensor mask = at::ones({2, 3}, at::kBool);
  mask[1][2] = false;
  EXPECT_TRUE(at::equal(models::pool(h, mask, models::Pooling::Cls), h.select(1, 0)));
  const at::Tensor mean = models::pool(h, mask, models::Pooling::Mean);
  EXPECT_DOUBLE_EQ(mean[0][0].item<double>(), 2.0);   // (0 + 2 + 4) / 3
  EXPECT_DOUBLE_EQ(mean[1][0].item<double>(), 7.0);   // (6 + 8) / 2
  const at::Tensor max = models::pool(h, mask, models::Pooling::Max);
  EXPECT_DOUBLE_EQ(max[1][1].item<double>(), 9.0);    // padded 11 ignored
  const at::Tensor last = models::pool(h, mask, models::Pooling::Last);
  EXPECT_DOUBLE_EQ(last[1][0].item<double>(), 8.0);
  EXPECT_DOUBLE_EQ(last[0][0].item<double>(), 4.0);
}

TEST(Heads, ShapesPerKind) {
  const at::Tensor ids = random_ids(2, 7, 11);
  for (const auto kind : {models::HeadKind::CausalLM, models::HeadKind::MaskedLM,
                          models::HeadKind::SequenceClassification, models::HeadKind::SequenceRegression,
                          models::HeadKind::TokenClassification, models::HeadKind::None}) {
    models::SequenceModel model(tiny_config("A", kind == models::HeadKind::CausalLM, kind));
    const auto out = model->forward(ids, at::Tensor());
    switch (kind) {
      case models::HeadKind::CausalLM:
      case models::HeadKind::MaskedLM: EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{2, 7, 11})); break;
      case models::HeadKind::SequenceClassification: EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{2, 3})); break;
      case models::HeadKind::SequenceRegression: EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{2, 1})); break;
      case models::HeadKind::TokenClassification: EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{2, 7, 3})); break;
      case models::HeadKind::None: EXPECT_FALSE(out.logits.defined()); break;
    }
  }
}

TEST(Heads, TiedHeadSharesEmbedding) {
  models::SequenceModel tied(tiny_config("A", true, models::HeadKind::CausalLM));
  EXPECT_FALSE(tied->named_parameters().contains("head.decoder.weight"));
  auto c = tiny_config("A", true, models::HeadKind::CausalLM);
  c.head.tied = false;
  models::SequenceModel untied(c);
  EXPECT_TRUE(untied->named_parameters().contains("head.decoder.weight"));
}

TEST(ModelDir, SaveLoadRoundTripIsExact) {
  manual_seed(7);
  TempDir dir;
  auto config = tiny_config("AAA", false, models::HeadKind::MaskedLM);
  config.provenance = {{"version", "test"}, {"command_line", "strand pretrain ..."}};
  models::SequenceModel model(config);
  const nlohmann::json tokenizer = {{"type", "char"}, {"vocab", {"<pad>", "A"}}};
  models::save_model_dir(dir.path.string(), config, model, tokenizer);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"}) EXPECT_TRUE(fs::exists(dir.path / f));
  auto loaded = models::load_model_dir(dir.path.string());
  EXPECT_EQ(loaded.config.to_json(), config.to_json());
  EXPECT_EQ(loaded.tokenizer, tokenizer);
  const auto a = models::state_dict(*model), b = models::state_dict(*loaded.model);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(at::equal(t, b.at(name))) << name;
  const at::Tensor ids = random_ids(2, 5, 11);
  EXPECT_TRUE(at::equal(model->forward(ids, at::Tensor()).logits, loaded.model->forward(ids, at::Tensor()).logits));
}

TEST(ModelDir, UnknownArchitectureIsAClearError) {
  TempDir dir;
  auto config = tiny_config("A", true, models::HeadKind::CausalLM);
  models::SequenceModel model(config);
  models::save_model_dir(dir.path.string(), config, model, nlohmann::json::object());
  auto j = load_json((dir.path / "config.json").string());
  j["architecture"] = "hyena";
  save_json((dir.path / "config.json").string(), j);
  try {
    models::load_model_dir(dir.path.string());
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown architecture 'hyena' (known: strand, esm)"), std::string::npos)
        << e.what();
  }
  j["architecture"] = "strand";
  j["backbone"]["pattern"] = "AQ";
  save_json((dir.path / "config.json").string(), j);
  EXPECT_THROW(models::load_model_dir(dir.path.string()), ConfigError);
}

TEST(ModelDir, MismatchedTensorsAreAllListed) {
  TempDir dir;
  auto config = tiny_config("AA", true, models::HeadKind::CausalLM);
  models::SequenceModel model(config);
  auto tensors = models::state_dict(*model);
  tensors.erase("backbone.blocks.1.mixer.q_proj.weight");
  tensors["backbone.blocks.0.norm1.weight"] = at::ones({17});
  tensors["extra.weight"] = at::ones({2});
  models::save_model_dir(dir.path.string(), config, model, nlohmann::json::object());
  io::save_safetensors((dir.path / "model.safetensors").string(), tensors);
  try {
    models::load_model_dir(dir.path.string());
    FAIL();
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("3 differences"), std::string::npos) << m;
    EXPECT_NE(m.find("missing tensor 'backbone.blocks.1.mixer.q_proj.weight' (expected shape [16, 16])"),
              std::string::npos) << m;
    EXPECT_NE(m.find("tensor 'backbone.blocks.0.norm1.weight' has shape [17], expected [16]"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected tensor 'extra.weight'"), std::string::npos) << m;
  }
}

namespace {

// The ESM / NTv2 forward pass written from ../shared/reference/had_hnet_codon.md §2.2 with the
// Hugging Face key names of §2.3, in double, independent of strand's modules.
at::Tensor esm_reference(const std::map<std::string, at::Tensor>& w, const at::Tensor& ids, const at::Tensor& mask,
                         int64_t layers, int64_t heads, double eps) {
  const auto W = [&](const std::string& k) { return w.at(k).to(at::kDouble); };
  const auto ln = [&](const at::Tensor& x, const std::string& p) {
    const at::Tensor c = x - x.mean(-1, true);
    return c / at::sqrt(c.pow(2).mean(-1, true) + eps) * W(p + ".weight") + W(p + ".bias");
  };
  const auto lin = [&](const at::Tensor& x, const std::string& p, bool bias) {
    at::Tensor y = at::matmul(x, W(p + ".weight").t());
    return bias ? y + W(p + ".bias") : y;
  };
  at::Tensor x = W("esm.embeddings.word_embeddings.weight").index_select(0, ids.flatten()).view({ids.size(0), ids.size(1), -1});
  x = x * mask.unsqueeze(-1).to(at::kDouble);
  const int64_t b = x.size(0), l = x.size(1), d = x.size(2), hd = d / heads;
  const at::Tensor inv = at::pow(10000.0, -at::arange(0, hd, 2, at::kDouble) / static_cast<double>(hd));
  const at::Tensor ang = at::outer(at::arange(l, at::kDouble), inv);
  const at::Tensor cos = at::cat({ang, ang}, -1).cos(), sin = at::cat({ang, ang}, -1).sin();
  const auto rope = [&](const at::Tensor& t) {
    const auto h = t.chunk(2, -1);
    return t * cos + at::cat({-h[1], h[0]}, -1) * sin;
  };
  const at::Tensor key_bias = (~mask).to(at::kDouble).view({b, 1, 1, l}) * -1e30;
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "esm.encoder.layer." + std::to_string(i) + ".";
    const at::Tensor h = ln(x, p + "attention.LayerNorm");
    const auto split = [&](const at::Tensor& t) { return t.view({b, l, heads, hd}).transpose(1, 2); };
    const at::Tensor q = rope(split(lin(h, p + "attention.self.query", true)) * std::pow(hd, -0.5));
    const at::Tensor k = rope(split(lin(h, p + "attention.self.key", true)));
    const at::Tensor v = split(lin(h, p + "attention.self.value", true));
    const at::Tensor probs = at::softmax(at::matmul(q, k.transpose(-1, -2)) + key_bias, -1);
    const at::Tensor a = at::matmul(probs, v).transpose(1, 2).reshape({b, l, d});
    x = x + lin(a, p + "attention.output.dense", true);
    const at::Tensor u = lin(ln(x, p + "LayerNorm"), p + "intermediate.dense", false);
    const auto halves = u.chunk(2, -1);
    x = x + lin(halves[0] / (1 + at::exp(-halves[0])) * halves[1], p + "output.dense", false);
  }
  x = ln(x, "esm.encoder.emb_layer_norm_after");
  const at::Tensor t = lin(x, "lm_head.dense", true);
  const at::Tensor g = 0.5 * t * (1 + at::erf(t / std::sqrt(2.0)));
  return at::matmul(ln(g, "lm_head.layer_norm"), W("lm_head.decoder.weight").t()) + W("lm_head.bias");
}

}  // namespace

TEST(ModelDir, LoadsNucleotideTransformerV2CheckpointByKeyName) {
  // A small random checkpoint in exactly the Hugging Face EsmForMaskedLM layout and config.json
  // format of NTv2 (rotary, GLU feed-forward without biases, untied LM head, eps 1e-12).
  manual_seed(8);
  const int64_t H = 16, L = 2, heads = 2, I = 24, V = 4107;
  TempDir dir;
  const nlohmann::json hf = {{"architectures", {"EsmForMaskedLM"}},
                             {"model_type", "esm"},
                             {"hidden_size", H},
                             {"num_hidden_layers", L},
                             {"num_attention_heads", heads},
                             {"intermediate_size", I},
                             {"vocab_size", V},
                             {"max_position_embeddings", 2050},
                             {"position_embedding_type", "rotary"},
                             {"add_bias_fnn", false},
                             {"layer_norm_eps", 1e-12},
                             {"token_dropout", false},
                             {"emb_layer_norm_before", false},
                             {"tie_word_embeddings", false},
                             {"pad_token_id", 1},
                             {"mask_token_id", 2},
                             {"hidden_act", "gelu"},
                             {"attention_probs_dropout_prob", 0.0}};
  save_json((dir.path / "config.json").string(), hf);
  std::map<std::string, at::Tensor> w;
  const auto r = [](std::initializer_list<int64_t> s) { return at::randn(s) * 0.3; };
  w["esm.embeddings.word_embeddings.weight"] = r({V, H});
  w["esm.embeddings.position_embeddings.weight"] = r({2050, H});
  for (int64_t i = 0; i < L; ++i) {
    const std::string p = "esm.encoder.layer." + std::to_string(i) + ".";
    for (const char* n : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      w[p + n + ".weight"] = r({H, H});
      w[p + n + ".bias"] = r({H});
    }
    w[p + "attention.self.rotary_embeddings.inv_freq"] =
        at::pow(10000.0, -at::arange(0, H / heads, 2, at::kDouble) / static_cast<double>(H / heads)).to(at::kFloat);
    for (const char* n : {"attention.LayerNorm", "LayerNorm"}) {
      w[p + n + ".weight"] = 1 + r({H});
      w[p + n + ".bias"] = r({H});
    }
    w[p + "intermediate.dense.weight"] = r({2 * I, H});
    w[p + "output.dense.weight"] = r({H, I});
  }
  w["esm.encoder.emb_layer_norm_after.weight"] = 1 + r({H});
  w["esm.encoder.emb_layer_norm_after.bias"] = r({H});
  w["lm_head.dense.weight"] = r({H, H});
  w["lm_head.dense.bias"] = r({H});
  w["lm_head.layer_norm.weight"] = 1 + r({H});
  w["lm_head.layer_norm.bias"] = r({H});
  w["lm_head.decoder.weight"] = r({V, H});
  w["lm_head.bias"] = r({V});
  io::save_safetensors((dir.path / "model.safetensors").string(), w);

  auto loaded = models::load_model_dir(dir.path.string());
  EXPECT_EQ(loaded.config.architecture, "esm");
  EXPECT_EQ(loaded.config.pad_id, 1);
  EXPECT_FALSE(loaded.config.head.tied);
  loaded.model->to(at::kDouble);
  const at::Tensor ids = at::randint(3, V, {2, 7}, at::kLong);
  at::Tensor mask = at::ones({2, 7}, at::kBool);
  mask[1].narrow(0, 5, 2).fill_(false);
  const at::Tensor ours = loaded.model->forward(ids, mask).logits;
  const at::Tensor expected = esm_reference(w, ids, mask, L, heads, 1e-12);
  EXPECT_TRUE(at::allclose(ours[0], expected[0], 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(ours[1].narrow(0, 0, 5), expected[1].narrow(0, 0, 5), 1e-5, 1e-5));
  EXPECT_GT(expected.abs().max().item<double>(), 0.1);

  // A checkpoint missing a layer's tensor is refused with the tensor named.
  w.erase("esm.encoder.layer.1.output.dense.weight");
  io::save_safetensors((dir.path / "model.safetensors").string(), w);
  try {
    models::load_model_dir(dir.path.string());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'backbone.blocks.1.mlp.fc2.weight'"), std::string::npos)
        << e.what();
  }
}

TEST(Training, TinyModelOverfitsOneBatch) {
  manual_seed(9);
  auto config = tiny_config("AA", true, models::HeadKind::CausalLM);
  models::SequenceModel model(config);
  const at::Tensor ids = random_ids(4, 12, 11);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(3e-3).weight_decay(0.0));
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    const at::Tensor logits = model->forward(ids, at::Tensor()).logits;
    const at::Tensor loss = at::cross_entropy_loss(logits.narrow(1, 0, 11).reshape({-1, 11}),
                                                   ids.narrow(1, 1, 11).reshape({-1}));
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_GT(first, 2.0);  // about ln 11 = 2.4 at the start
  EXPECT_LT(last, 0.05);
}

// ---------------------------------------------------------------------------------------------
// Reverse-complement parameter sharing (Caduceus, arXiv 2403.03234 §3.2). The oracle is the
// biology: the reverse complement of a DNA sequence is the same molecule, so an RCPS model must
// give logits(rc x)[t, v] = logits(x)[n-1-t, comp v] and hidden(rc x) = RC(hidden(x)) exactly, up
// to float64 rounding (the two sides run the same rows in a different batch order: 1e-12 leaves
// room for BLAS blocking, not for a wrong index). The expected tensors are built with plain loops
// over rows, positions and vocabulary, independent of the gather/flip code in rcps.cpp.

namespace {

// The "char" vocabulary: 0 <pad> 1 <unk> 2 <cls> 3 <eos> 4 <mask> 5 A 6 C 7 G 8 T 9 N.
const std::vector<int64_t> kCharComplement = {0, 1, 2, 3, 4, 8, 7, 6, 5, 9};

// Bidirectional attention, and BiMamba ('M' in a bidirectional backbone, Caduceus' mixer).
const std::vector<std::string> kRcpsPatterns = {"AA", "MM"};

models::ModelConfig rcps_config(const std::string& pattern, models::HeadKind head, bool rcps) {
  models::ModelConfig c;
  c.vocab_size = 10;
  c.pad_id = 0;
  c.backbone.d_model = 16;
  c.backbone.pattern = pattern;
  c.backbone.causal = false;
  if (pattern.find('A') != std::string::npos) c.backbone.mixers = {{"A", {{"n_heads", 2}}}};
  if (pattern.find('A') == std::string::npos) c.backbone.mlp = nn::MlpKind::None;
  c.backbone.normalise("test");
  c.head.kind = head;
  if (head == models::HeadKind::SequenceClassification || head == models::HeadKind::TokenClassification)
    c.head.num_labels = 3;
  if (head == models::HeadKind::SequenceRegression) c.head.num_labels = 1;
  if (rcps) {
    c.rcps.enabled = true;
    c.rcps.complement = kCharComplement;
  }
  return c;
}

struct PaddedBatch {
  at::Tensor ids;   // (B, L) <cls> content <eos>, then <pad>
  at::Tensor mask;  // (B, L)
  std::vector<int64_t> lengths;
};

PaddedBatch padded_batch(const std::vector<int64_t>& lengths, int64_t width) {
  PaddedBatch p;
  p.lengths = lengths;
  const auto b = static_cast<int64_t>(lengths.size());
  p.ids = at::zeros({b, width}, at::kLong);
  p.mask = at::zeros({b, width}, at::kBool);
  for (int64_t r = 0; r < b; ++r) {
    const int64_t n = lengths[static_cast<size_t>(r)];
    p.ids[r].narrow(0, 0, n).copy_(at::randint(1, 10, {n}, at::kLong));  // bases, N and specials
    p.ids[r][0] = 2;
    p.ids[r][n - 1] = 3;
    p.mask[r].narrow(0, 0, n).fill_(true);
  }
  return p;
}

// rc(x) by loops: reverse the real tokens of each row and complement them.
at::Tensor rc_by_loops(const PaddedBatch& p) {
  at::Tensor out = p.ids.clone();
  auto in = p.ids.accessor<int64_t, 2>();
  auto o = out.accessor<int64_t, 2>();
  for (int64_t r = 0; r < p.ids.size(0); ++r) {
    const int64_t n = p.lengths[static_cast<size_t>(r)];
    for (int64_t t = 0; t < n; ++t) o[r][t] = kCharComplement[static_cast<size_t>(in[r][n - 1 - t])];
  }
  return out;
}

// Largest |a[b, t, ...] - expected| over real positions, where expected[b, t, j] =
// x[b, n-1-t, perm(j)] (perm given per last-dimension index).
double max_rc_error(const at::Tensor& a, const at::Tensor& x, const PaddedBatch& p,
                    const std::function<int64_t(int64_t)>& perm) {
  double worst = 0;
  const at::Tensor ad = a.to(at::kDouble), xd = x.to(at::kDouble);
  auto A = ad.accessor<double, 3>();
  auto X = xd.accessor<double, 3>();
  for (int64_t r = 0; r < a.size(0); ++r) {
    const int64_t n = p.lengths[static_cast<size_t>(r)];
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < a.size(2); ++j) worst = std::max(worst, std::abs(A[r][t][j] - X[r][n - 1 - t][perm(j)]));
  }
  return worst;
}

const std::vector<int64_t> kRcpsLengths = {13, 7, 10};  // one padded batch, rows of different lengths

}  // namespace

TEST(Rcps, LmLogitsAreReverseComplementEquivariant) {
  for (const auto& pattern : kRcpsPatterns) {
    // Tied decoder (Caduceus) and untied decoder with the BERT/ESM transform and an output bias.
    for (const bool tied : {true, false}) {
      manual_seed(20);
      auto config = rcps_config(pattern, models::HeadKind::MaskedLM, true);
      config.head.tied = tied;
      config.head.transform = !tied;
      config.head.bias = !tied;
      models::SequenceModel model(config);
      model->to(at::kDouble);
      if (!tied) {
        torch::NoGradGuard g;
        model->named_parameters()["head.bias"].normal_();  // a zero bias would hide a bias bug
      }
      const PaddedBatch p = padded_batch(kRcpsLengths, 14);
      PaddedBatch q = p;
      q.ids = rc_by_loops(p);
      const at::Tensor a = model->forward(p.ids, p.mask).logits;
      const at::Tensor b = model->forward(q.ids, p.mask).logits;
      ASSERT_EQ(a.sizes(), (at::IntArrayRef{3, 14, 10}));
      EXPECT_GT(a.abs().max().item<double>(), 0.1) << pattern;
      const auto comp = [](int64_t v) { return kCharComplement[static_cast<size_t>(v)]; };
      EXPECT_LT(max_rc_error(b, a, p, comp), 1e-12) << pattern << " tied=" << tied;
      // The complement matters: without it the reversed logits do not match (the test can fail).
      EXPECT_GT(max_rc_error(b, a, p, [](int64_t v) { return v; }), 1e-3) << pattern;
    }
  }
}

TEST(Rcps, WithoutRcpsTheSameBackboneIsNotEquivariant) {
  for (const auto& pattern : kRcpsPatterns) {
    manual_seed(21);
    models::SequenceModel model(rcps_config(pattern, models::HeadKind::MaskedLM, false));
    model->to(at::kDouble);
    const PaddedBatch p = padded_batch(kRcpsLengths, 14);
    PaddedBatch q = p;
    q.ids = rc_by_loops(p);
    const at::Tensor a = model->forward(p.ids, p.mask).logits;
    const at::Tensor b = model->forward(q.ids, p.mask).logits;
    const auto comp = [](int64_t v) { return kCharComplement[static_cast<size_t>(v)]; };
    EXPECT_GT(max_rc_error(b, a, p, comp), 1e-3) << pattern;
  }
}

TEST(Rcps, HiddenStatesAndTapsAreEquivariant) {
  for (const auto& pattern : kRcpsPatterns) {
    manual_seed(22);
    const auto config = rcps_config(pattern, models::HeadKind::MaskedLM, true);
    models::SequenceModel model(config);
    model->to(at::kDouble);
    EXPECT_EQ(config.hidden_size(), 32);
    const PaddedBatch p = padded_batch(kRcpsLengths, 14);
    PaddedBatch q = p;
    q.ids = rc_by_loops(p);
    models::Taps ta, tb;
    ta.layers = tb.layers = {0, 1, -1};
    const auto a = model->forward(p.ids, p.mask, &ta);
    const auto b = model->forward(q.ids, p.mask, &tb);
    ASSERT_EQ(a.hidden.sizes(), (at::IntArrayRef{3, 14, 32}));
    // RC of features: reverse the real positions and all 2d channels.
    const auto flip_channels = [](int64_t c) { return 31 - c; };
    EXPECT_LT(max_rc_error(b.hidden, a.hidden, p, flip_channels), 1e-12) << pattern;
    ASSERT_EQ(ta.outputs.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_EQ(ta.outputs[i].sizes(), (at::IntArrayRef{3, 14, 32}));
      EXPECT_LT(max_rc_error(tb.outputs[i], ta.outputs[i], p, flip_channels), 1e-12) << pattern << " tap " << i;
    }
    EXPECT_TRUE(at::equal(ta.outputs[2], a.hidden));
    // Layer 0 is Caduceus' RCPSEmbedding: concat(E(x), flip_{L,C}(E(rc x))).
    const at::Tensor e = model->embedding()->weight;
    auto E = ta.outputs[0].accessor<double, 3>();
    auto Q = q.ids.accessor<int64_t, 2>();
    auto P = p.ids.accessor<int64_t, 2>();
    double worst = 0;
    for (int64_t r = 0; r < 3; ++r) {
      const int64_t n = p.lengths[static_cast<size_t>(r)];
      for (int64_t t = 0; t < n; ++t)
        for (int64_t c = 0; c < 16; ++c) {
          worst = std::max(worst, std::abs(E[r][t][c] - e[P[r][t]][c].item<double>()));
          worst = std::max(worst, std::abs(E[r][t][16 + c] - e[Q[r][n - 1 - t]][15 - c].item<double>()));
        }
    }
    EXPECT_EQ(worst, 0.0) << pattern;
  }
}

TEST(Rcps, TiedHeadIsCaduceusRcpsLmHead) {
  // RCPSLMHead: logits = X[..., :d] W^T + flip_C(X[..., d:]) W[complement]^T, W = the embedding.
  manual_seed(23);
  models::SequenceModel model(rcps_config("AA", models::HeadKind::MaskedLM, true));
  model->to(at::kDouble);
  const PaddedBatch p = padded_batch(kRcpsLengths, 14);
  const auto out = model->forward(p.ids, p.mask);
  const at::Tensor w = model->embedding()->weight;
  const at::Tensor comp = at::tensor(kCharComplement, at::kLong);
  const at::Tensor expected = at::matmul(out.hidden.narrow(-1, 0, 16), w.t()) +
                              at::matmul(out.hidden.narrow(-1, 16, 16).flip({-1}), w.index_select(0, comp).t());
  EXPECT_TRUE(at::allclose(out.logits, expected, 1e-12, 1e-12));
  EXPECT_TRUE(at::allclose(model->head_logits(out.hidden), out.logits, 1e-12, 1e-12));
}

TEST(Rcps, SequenceHeadsAreInvariantAndTokenHeadsReverse) {
  for (const auto& pattern : kRcpsPatterns) {
    for (const auto kind : {models::HeadKind::SequenceClassification, models::HeadKind::SequenceRegression,
                            models::HeadKind::TokenClassification}) {
      for (const auto pooling : {models::Pooling::Mean, models::Pooling::Max}) {
        manual_seed(24);
        auto config = rcps_config(pattern, kind, true);
        config.head.pooling = pooling;
        models::SequenceModel model(config);
        model->to(at::kDouble);
        const PaddedBatch p = padded_batch(kRcpsLengths, 14);
        PaddedBatch q = p;
        q.ids = rc_by_loops(p);
        const at::Tensor a = model->forward(p.ids, p.mask).logits;
        const at::Tensor b = model->forward(q.ids, p.mask).logits;
        if (kind == models::HeadKind::TokenClassification) {
          EXPECT_LT(max_rc_error(b, a, p, [](int64_t j) { return j; }), 1e-12) << pattern;
        } else {
          EXPECT_TRUE(at::allclose(a, b, 1e-12, 1e-12)) << pattern << " " << models::pooling_name(pooling);
        }
      }
      // Without RCPS the sequence logits change under RC (the invariance is the construction's).
      manual_seed(24);
      models::SequenceModel plain(rcps_config(pattern, models::HeadKind::SequenceClassification, false));
      plain->to(at::kDouble);
      const PaddedBatch p = padded_batch(kRcpsLengths, 14);
      PaddedBatch q = p;
      q.ids = rc_by_loops(p);
      EXPECT_FALSE(at::allclose(plain->forward(p.ids, p.mask).logits, plain->forward(q.ids, p.mask).logits, 1e-6,
                                1e-6));
    }
  }
}

TEST(Rcps, TrainsAndRoundTripsThroughAModelDirectory) {
  manual_seed(25);
  TempDir dir;
  const auto config = rcps_config("AA", models::HeadKind::MaskedLM, true);
  models::SequenceModel model(config);
  const PaddedBatch p = padded_batch(kRcpsLengths, 14);
  const at::Tensor logits = model->forward(p.ids, p.mask).logits;
  logits.masked_select(p.mask.unsqueeze(-1)).square().mean().backward();
  EXPECT_GT(model->embedding()->weight.grad().abs().sum().item<double>(), 0);
  // No extra tensor: the complement map lives in config.json.
  models::SequenceModel plain(rcps_config("AA", models::HeadKind::MaskedLM, false));
  EXPECT_EQ(models::state_dict(*model).size(), models::state_dict(*plain).size());
  models::save_model_dir(dir.path.string(), config, model, nlohmann::json::object());
  const auto j = load_json((dir.path / "config.json").string());
  EXPECT_EQ(j["rcps"]["enabled"], true);
  EXPECT_EQ(j["rcps"]["complement"].get<std::vector<int64_t>>(), kCharComplement);
  auto loaded = models::load_model_dir(dir.path.string());
  EXPECT_EQ(loaded.config.to_json(), config.to_json());
  EXPECT_TRUE(at::equal(loaded.model->forward(p.ids, p.mask).logits, model->forward(p.ids, p.mask).logits));
}

TEST(Rcps, BadSettingsAreClearErrors) {
  const auto expect_config_error = [](const models::ModelConfig& c, const std::string& needle) {
    try {
      models::ModelConfig::from_json(c.to_json(), "config.json");
      ADD_FAILURE() << "no error for " << needle;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_THROW(models::SequenceModel{c}, ConfigError) << needle;
  };
  auto c = rcps_config("AA", models::HeadKind::MaskedLM, true);
  c.rcps.complement.pop_back();
  expect_config_error(c, "has 9 entries; it needs one per token (10)");
  c = rcps_config("AA", models::HeadKind::MaskedLM, true);
  c.rcps.complement[5] = 10;
  expect_config_error(c, "rcps.complement[5] = 10 is outside the vocabulary");
  c = rcps_config("AA", models::HeadKind::MaskedLM, true);
  c.rcps.complement[5] = 7;  // A -> G but G -> C
  expect_config_error(c, "is not its own inverse: 5 -> 7 -> 6");
  c = rcps_config("AA", models::HeadKind::MaskedLM, true);
  c.rcps.complement[0] = 1;
  c.rcps.complement[1] = 0;
  expect_config_error(c, "maps the pad token 0 to 1");
  c = rcps_config("AA", models::HeadKind::MaskedLM, true);
  c.head.kind = models::HeadKind::CausalLM;
  expect_config_error(c, "rcps cannot be used with a causal-LM head");
  c = rcps_config("AA", models::HeadKind::SequenceClassification, true);
  c.head.pooling = models::Pooling::Cls;
  expect_config_error(c, "head.pooling 'cls' is not reverse-complement invariant");
  auto j = rcps_config("AA", models::HeadKind::MaskedLM, true).to_json();
  j["rcps"]["complment"] = j["rcps"]["complement"];
  EXPECT_THROW(models::ModelConfig::from_json(j, "config.json"), ConfigError);  // typo'd key

  models::SequenceModel model(rcps_config("AA", models::HeadKind::MaskedLM, true));
  try {
    model->make_state(1);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not available for reverse-complement parameter sharing"), std::string::npos);
  }
  // A mask with a hole cannot be reverse-complemented.
  at::Tensor mask = at::ones({1, 6}, at::kBool);
  mask[0][2] = false;
  EXPECT_THROW(model->forward(random_ids(1, 6, 10), mask), InputError);
}

// ---------------------------------------------------------------------------------------------
// Mamba checkpoints by key name (reference/mamba.md §5). A model of ours with random weights is
// written in the Hugging Face / mamba_ssm layout (their config.json keys and tensor names), loaded
// back, and must give bit-identical logits: the import is a renaming, so exact equality is the
// oracle. The expected HF names and shapes of one layer come from the reference's table, not from
// our modules.

namespace {

// Our state dict -> Hugging Face MambaForCausalLM / Mamba2ForCausalLM names.
std::map<std::string, at::Tensor> to_hf_mamba(const std::map<std::string, at::Tensor>& ours,
                                              const std::string& embedding_key, bool with_lm_head) {
  static const std::regex block(R"(backbone\.blocks\.(\d+)\.(norm1|mixer)\.(.+))");
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : ours) {
    std::smatch m;
    if (name == "embed.weight") {
      out[embedding_key] = t.clone();
      if (with_lm_head) out["lm_head.weight"] = t.clone();
    } else if (name == "head.decoder.weight") {
      out["lm_head.weight"] = t.clone();
    } else if (std::regex_match(name, m, block)) {
      out["backbone.layers." + m[1].str() + (m[2].str() == "norm1" ? ".norm." : ".mixer.") + m[3].str()] = t.clone();
    } else {
      out[name] = t.clone();
    }
  }
  return out;
}

models::ModelConfig mamba_source_config(char letter, int64_t vocab, bool tied, const nlohmann::json& options) {
  models::ModelConfig c;
  c.vocab_size = vocab;
  c.pad_id = 0;
  c.backbone.d_model = 16;
  c.backbone.pattern = std::string(2, letter);
  c.backbone.causal = true;
  c.backbone.mlp = nn::MlpKind::None;
  c.backbone.mixers = {{std::string(1, letter), options}};
  c.backbone.normalise("test");
  c.head.kind = models::HeadKind::CausalLM;
  c.head.tied = tied;
  return c;
}

// A source model with every tensor randomised (no value left at a symmetric initialisation).
models::SequenceModel random_model(const models::ModelConfig& config) {
  models::SequenceModel model(config);
  torch::NoGradGuard g;
  for (auto& p : model->parameters()) p.add_(at::randn_like(p) * 0.1);
  model->eval();
  return model;
}

nlohmann::json hf_mamba_config(int64_t vocab, bool tie) {
  return {{"architectures", {"MambaForCausalLM"}},
          {"model_type", "mamba"},
          {"hidden_size", 16},
          {"intermediate_size", 32},
          {"state_size", 16},
          {"num_hidden_layers", 2},
          {"conv_kernel", 4},
          {"expand", 2},
          {"time_step_rank", "auto"},
          {"time_step_min", 0.001},
          {"time_step_max", 0.1},
          {"time_step_floor", 1e-4},
          {"time_step_scale", 1.0},
          {"time_step_init_scheme", "random"},
          {"layer_norm_epsilon", 1e-5},
          {"use_bias", false},
          {"use_conv_bias", true},
          {"hidden_act", "silu"},
          {"residual_in_fp32", true},
          {"rescale_prenorm_residual", false},
          {"initializer_range", 0.1},
          {"vocab_size", vocab},
          {"pad_token_id", 0},
          {"bos_token_id", 0},
          {"eos_token_id", 0},
          {"tie_word_embeddings", tie},
          {"torch_dtype", "float32"},
          {"use_cache", true}};
}

}  // namespace

TEST(ModelDir, LoadsHuggingFaceMambaCheckpointByKeyName) {
  manual_seed(30);
  const int64_t V = 12;
  const at::Tensor ids = at::randint(1, V, {2, 9}, at::kLong);
  struct Case {
    const char* embedding_key;
    bool tied_source;    // our model's head
    bool lm_head_in_file;
    bool sharded;
  };
  for (const Case& k : {Case{"backbone.embeddings.weight", true, false, false},
                        Case{"backbone.embedding.weight", true, true, false},
                        Case{"backbone.embeddings.weight", false, true, true}}) {
    TempDir dir;
    const auto config = mamba_source_config('M', V, k.tied_source, nlohmann::json::object());
    auto source = random_model(config);
    const auto hf = to_hf_mamba(models::state_dict(*source), k.embedding_key, k.lm_head_in_file && k.tied_source);
    // Layer 0 in exactly the Hugging Face names and shapes of mamba-130m-hf's table (d = 16,
    // D_in = 32, N = 16, R = ceil(16 / 16) = 1, K = 4).
    const std::map<std::string, std::vector<int64_t>> expected = {
        {"norm.weight", {16}},         {"mixer.in_proj.weight", {64, 16}}, {"mixer.conv1d.weight", {32, 1, 4}},
        {"mixer.conv1d.bias", {32}},   {"mixer.x_proj.weight", {33, 32}},  {"mixer.dt_proj.weight", {32, 1}},
        {"mixer.dt_proj.bias", {32}},  {"mixer.A_log", {32, 16}},          {"mixer.D", {32}},
        {"mixer.out_proj.weight", {16, 32}}};
    size_t layer0 = 0;
    for (const auto& [name, t] : hf) {
      if (name.rfind("backbone.layers.0.", 0) != 0) continue;
      ++layer0;
      const auto it = expected.find(name.substr(18));
      ASSERT_NE(it, expected.end()) << name;
      EXPECT_EQ(t.sizes(), at::IntArrayRef(it->second)) << name;
    }
    EXPECT_EQ(layer0, expected.size());
    if (k.sharded) {
      io::save_sharded(dir.path.string(), hf, 4096);  // several shards + model.safetensors.index.json
      ASSERT_TRUE(fs::exists(dir.path / "model.safetensors.index.json"));
    } else {
      io::save_safetensors((dir.path / "model.safetensors").string(), hf);
    }
    save_json((dir.path / "config.json").string(), hf_mamba_config(V, k.tied_source));
    auto loaded = models::load_model_dir(dir.path.string());
    EXPECT_EQ(loaded.format, "hf-mamba");
    EXPECT_EQ(loaded.config.head.tied, k.tied_source) << k.embedding_key;
    EXPECT_EQ(loaded.config.backbone.pattern, "MM");
    EXPECT_TRUE(loaded.tokenizer.is_null());
    loaded.model->eval();
    const at::Tensor expected_logits = source->forward(ids, at::Tensor()).logits;
    EXPECT_TRUE(at::equal(loaded.model->forward(ids, at::Tensor()).logits, expected_logits)) << k.embedding_key;
    EXPECT_GT(expected_logits.abs().max().item<double>(), 0.01);
  }
}

TEST(ModelDir, LoadsMamba2CheckpointsByKeyName) {
  manual_seed(31);
  // Hugging Face Mamba-2 (one group) and a mamba_ssm config with two groups and an unpadded
  // vocabulary (10, padded to 16 by pad_vocab_size_multiple 8).
  const nlohmann::json options = {{"headdim", 8}, {"d_state", 16}, {"chunk_size", 4}};
  {
    TempDir dir;
    auto source = random_model(mamba_source_config('2', 12, true, options));
    io::save_safetensors((dir.path / "model.safetensors").string(),
                         to_hf_mamba(models::state_dict(*source), "backbone.embeddings.weight", false));
    save_json((dir.path / "config.json").string(),
              {{"model_type", "mamba2"}, {"hidden_size", 16}, {"num_heads", 4}, {"head_dim", 8},
               {"n_groups", 1}, {"state_size", 16}, {"expand", 2}, {"conv_kernel", 4},
               {"num_hidden_layers", 2}, {"chunk_size", 4}, {"vocab_size", 12}, {"use_bias", false},
               {"use_conv_bias", true}, {"layer_norm_epsilon", 1e-5}, {"tie_word_embeddings", true},
               {"time_step_limit", {0.0, nullptr}}, {"hidden_act", "silu"}, {"rms_norm", true}});
    auto loaded = models::load_model_dir(dir.path.string());
    EXPECT_EQ(loaded.format, "hf-mamba2");
    EXPECT_EQ(loaded.config.backbone.pattern, "22");
    loaded.model->eval();
    const at::Tensor ids = at::randint(1, 12, {2, 11}, at::kLong);
    EXPECT_TRUE(at::equal(loaded.model->forward(ids, at::Tensor()).logits, source->forward(ids, at::Tensor()).logits));
  }
  {
    TempDir dir;
    nlohmann::json two_groups = options;
    two_groups["ngroups"] = 2;
    auto source = random_model(mamba_source_config('2', 16, true, two_groups));
    io::save_safetensors((dir.path / "model.safetensors").string(),
                         to_hf_mamba(models::state_dict(*source), "backbone.embedding.weight", true));
    save_json((dir.path / "config.json").string(),
              {{"d_model", 16}, {"d_intermediate", 0}, {"n_layer", 2}, {"vocab_size", 10},
               {"ssm_cfg", {{"layer", "Mamba2"}, {"d_state", 16}, {"headdim", 8}, {"ngroups", 2}, {"chunk_size", 4}}},
               {"attn_layer_idx", nlohmann::json::array()}, {"attn_cfg", nlohmann::json::object()},
               {"rms_norm", true}, {"residual_in_fp32", true}, {"fused_add_norm", true},
               {"pad_vocab_size_multiple", 8}, {"tie_embeddings", true}});
    auto loaded = models::load_model_dir(dir.path.string());
    EXPECT_EQ(loaded.format, "mamba_ssm");
    EXPECT_EQ(loaded.config.vocab_size, 16);
    loaded.model->eval();
    const at::Tensor ids = at::randint(1, 10, {2, 11}, at::kLong);
    EXPECT_TRUE(at::equal(loaded.model->forward(ids, at::Tensor()).logits, source->forward(ids, at::Tensor()).logits));
  }
}

TEST(ModelDir, BadMambaCheckpointsAreClearErrors) {
  manual_seed(32);
  TempDir dir;
  auto source = random_model(mamba_source_config('M', 12, true, nlohmann::json::object()));
  auto hf = to_hf_mamba(models::state_dict(*source), "backbone.embeddings.weight", false);
  const auto write = [&](const nlohmann::json& config) {
    save_json((dir.path / "config.json").string(), config);
    io::save_safetensors((dir.path / "model.safetensors").string(), hf);
  };
  // Unsupported options: every one named in one ConfigError.
  auto config = hf_mamba_config(12, true);
  config["hidden_act"] = "gelu";
  config["conv_kernel"] = 6;
  config["intermediate_size"] = 40;
  write(config);
  try {
    models::load_model_dir(dir.path.string());
    FAIL();
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("unsupported Hugging Face Mamba settings"), std::string::npos) << m;
    EXPECT_NE(m.find("hidden_act 'gelu'"), std::string::npos) << m;
    EXPECT_NE(m.find("conv_kernel = 6"), std::string::npos) << m;
    EXPECT_NE(m.find("intermediate_size 40"), std::string::npos) << m;
  }
  config = hf_mamba_config(12, true);
  config.erase("hidden_size");
  write(config);
  EXPECT_THROW(models::load_model_dir(dir.path.string()), ConfigError);
  config = hf_mamba_config(12, true);
  config["model_type"] = "mamba3";
  write(config);
  EXPECT_THROW(models::load_model_dir(dir.path.string()), ConfigError);
  // Wrong shapes and a missing tensor: every one listed in one InputError.
  hf["backbone.layers.1.mixer.x_proj.weight"] = at::zeros({34, 32});
  hf["backbone.layers.0.mixer.A_log"] = at::zeros({32, 8});
  hf.erase("backbone.norm_f.weight");
  write(hf_mamba_config(12, true));
  try {
    models::load_model_dir(dir.path.string());
    FAIL();
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("3 differences"), std::string::npos) << m;
    EXPECT_NE(m.find("'backbone.blocks.1.mixer.x_proj.weight' has shape [34, 32], expected [33, 32]"),
              std::string::npos) << m;
    EXPECT_NE(m.find("'backbone.blocks.0.mixer.A_log' has shape [32, 8], expected [32, 16]"), std::string::npos) << m;
    EXPECT_NE(m.find("missing tensor 'backbone.norm_f.weight'"), std::string::npos) << m;
  }
  // An untied config needs lm_head.weight.
  hf = to_hf_mamba(models::state_dict(*source), "backbone.embeddings.weight", false);
  write(hf_mamba_config(12, false));
  EXPECT_THROW(models::load_model_dir(dir.path.string()), InputError);
}
